package maildir

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStructureSized: a structure parsed with the sizes a file's name
// and the first scan give is the one parsed from the file alone, for
// files with CRLF, bare LF and mixed line endings, and for sizes that
// are missing or wrong (S= names what the file no longer is).
func TestStructureSized(t *testing.T) {
	const multipart = "From: a@example.org\nSubject: s\nContent-Type: multipart/mixed; boundary=\"b\"\n\n" +
		"--b\nContent-Type: text/plain\n\nhello\nworld\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n"
	mixed := strings.Replace(multipart, "\n", "\r\n", 4)
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		body string
	}{
		{"lf", multipart},
		{"crlf", strings.ReplaceAll(multipart, "\n", "\r\n")},
		{"mixed", mixed},
		{"no line end", "Subject: s\r\n\r\nbody"},
	} {
		path := filepath.Join(dir, tt.name)
		write(t, path, tt.body)
		var want structureReader
		wantC, err := want.structure(path)
		if err != nil {
			t.Fatal(err)
		}
		size := int64(len(tt.body))
		vsize := size + int64(strings.Count(tt.body, "\n")-strings.Count(tt.body, "\r\n"))
		for _, sz := range []struct {
			size, vsize int64
		}{
			{-1, -1},
			{size, vsize},
			{-1, vsize},
			{size, -1},
			{size - 3, vsize},    // S= short of the file
			{size + 100, vsize},  // S= past its end
			{vsize + 1, vsize},   // a W= of another file
			{size, vsize + 1000}, // and another
		} {
			var r structureReader
			got, err := r.structureSized(unix.AT_FDCWD, "", path, sz.size, sz.vsize)
			if err != nil || !reflect.DeepEqual(got, wantC) {
				t.Errorf("%s: structureSized(size %d, vsize %d) = %+v, %v; want %+v", tt.name, sz.size, sz.vsize, got, err, wantC)
			}
		}
	}
}

// TestMsgSizes: mmsg.sizes reads S= and W= from the name, and the W
// field of dovecot-uidlist when the name has no W=.
func TestMsgSizes(t *testing.T) {
	for _, tt := range []struct {
		m           mmsg
		size, vsize int64
	}{
		{mmsg{name: "1.M1P1.host:2,S"}, -1, -1},
		{mmsg{name: "1.M1P1.host,S=10,W=12:2,S"}, 10, 12},
		{mmsg{name: "1.M1P1.host,S=10:2,", ext: []string{"W12"}}, 10, 12},
		{mmsg{name: "1.M1P1.host,W=13:2,", ext: []string{"W12"}}, -1, 13},
		{mmsg{name: "1.M1P1.host:2,", ext: []string{"Gguid", "Wx"}}, -1, -1},
	} {
		if size, vsize := tt.m.sizes(); size != tt.size || vsize != tt.vsize {
			t.Errorf("sizes(%q, %q) = %d, %d; want %d, %d", tt.m.name, tt.m.ext, size, vsize, tt.size, tt.vsize)
		}
	}
}

// TestReadNoatime: reading a message for its structure, or a first
// scan reading it for its size, leaves its access time as it was.
func TestReadNoatime(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	mtime := old.Add(time.Hour)
	file := func(name string) string {
		p := filepath.Join(dir, name)
		write(t, p, "Subject: s\r\n\r\nbody\r\n")
		// An access time before the modification time: relatime
		// updates it on the next read.
		if err := os.Chtimes(p, old, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atime := func(p string) time.Time {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return time.Unix(st.Atim.Unix())
	}
	// The file system must record reads for the test to see anything:
	// where the temporary directory's does not (noatime), a tmpfs that
	// does is mounted on it.
	control := file("control")
	if _, err := os.ReadFile(control); err != nil {
		t.Fatal(err)
	}
	if atime(control).Equal(old) {
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_STRICTATIME, "size=1m,mode=0700"); err != nil {
			t.Fatalf("%s records no access times, and a tmpfs that does cannot be mounted on it: %v (this needs root)", dir, err)
		}
		t.Cleanup(func() { unix.Unmount(dir, 0) })
		control = file("control")
		if _, err := os.ReadFile(control); err != nil {
			t.Fatal(err)
		}
		if atime(control).Equal(old) {
			t.Fatal("a strictatime tmpfs records no access time")
		}
	}

	p := file("structure")
	var r structureReader
	if c, err := r.structure(p); err != nil || c == nil {
		t.Fatalf("structure(%s) = %v, %v", p, c, err)
	}
	if got := atime(p); !got.Equal(old) {
		t.Errorf("access time after structure: %v, want %v", got, old)
	}

	p = file("vsize")
	cd := openCurDir(dir)
	defer cd.close()
	if st, vs := cd.vsizeAt("vsize"); !st.ok || vs != 20 {
		t.Fatalf("vsizeAt = %+v, %d; want 20", st, vs)
	}
	if got := atime(p); !got.Equal(old) {
		t.Errorf("access time after vsizeAt: %v, want %v", got, old)
	}
}

// TestOpenNoatimeRefused: a file its reader does not own (O_NOATIME is
// refused) is read all the same, and the next files are opened without
// asking again.
func TestOpenNoatimeRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the test gives a file to another owner and needs root (CI runs as root)")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "m")
	write(t, p, "Subject: s\r\n\r\nbody\r\n")
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Dir(dir), dir, p} {
		if err := os.Chmod(f, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var r structureReader
	done := make(chan error, 1)
	go func() {
		// A thread of its own whose effective uid is another user's
		// (no CAP_FOWNER, which O_NOATIME's owner check honours): the
		// system call itself, as unix.Setresuid changes every thread.
		// The thread stays locked, and ends with the goroutine.
		runtime.LockOSThread()
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 65533, ^uintptr(0)); errno != 0 {
			done <- errno
			return
		}
		c, err := r.structure(p)
		if err == nil && (c == nil || c.Cached.End != 20) {
			err = os.ErrInvalid
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("structure of another's file: %v", err)
	}
	if !r.atime.Load() {
		t.Error("O_NOATIME refused, but the reader goes on asking for it")
	}
}
