package plainfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "msg")
	f, err := Open(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	fdFlags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fdFlags&unix.FD_CLOEXEC == 0 {
		t.Error("the descriptor is not close-on-exec")
	}
	flFlags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flFlags&unix.O_NONBLOCK != 0 {
		t.Error("the descriptor is non-blocking")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	if _, err := Open(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("O_EXCL on an existing file: %v, want ErrExist", err)
	}
	var pe *fs.PathError
	if _, err := Read(filepath.Join(dir, "gone")); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "gone") {
		t.Errorf("a missing file: %v, want a PathError naming it and ErrNotExist", err)
	}

	r, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64)
	n, err := r.ReadAt(buf, 0)
	if string(buf[:n]) != "Subject: x\r\n\r\nbody\r\n" {
		t.Errorf("read back %q (%v)", buf[:n], err)
	}
	if r.Name() != path {
		t.Errorf("Name() = %q", r.Name())
	}

	d, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Errorf("fsync of a directory: %v", err)
	}
	names, err := d.Readdirnames(-1)
	if err != nil || len(names) != 1 || names[0] != "msg" {
		t.Errorf("directory lists %q (%v)", names, err)
	}
}

func TestRename(t *testing.T) {
	dir := t.TempDir()
	a, b, sub := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "sub")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte(filepath.Base(p)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	// Over a file: replaced, as Maildir's renames want.
	if err := Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(b); err != nil || string(data) != "a" {
		t.Errorf("b holds %q (%v), want a's bytes", data, err)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a still there: %v", err)
	}
	// Over a directory: refused, and both stay.
	var le *os.LinkError
	if err := Rename(b, sub); err == nil || !errors.As(err, &le) || le.Old != b || le.New != sub {
		t.Errorf("a file over a directory: %v, want a LinkError naming both", err)
	}
	if st, err := os.Stat(sub); err != nil || !st.IsDir() {
		t.Errorf("the directory: %v %v", st, err)
	}
	if err := Rename(a, b); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want ErrNotExist", err)
	}
}
