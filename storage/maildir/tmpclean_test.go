package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func tmpNames(t *testing.T, tmp string) []string {
	t.Helper()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestCleanTmp: the files a dead save left in tmp/ go once they are 36
// hours old, by contents and by inode; a file that is younger by either
// stays, and tmp/ is looked at no more than every 8 hours.
func TestCleanTmp(t *testing.T) {
	home := t.TempDir()
	st, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u", PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*Store).s
	dir := filepath.Join(home, "Maildir")
	tmp := filepath.Join(dir, "tmp")
	t0 := time.Now()
	for name, mtime := range map[string]time.Time{
		"crashed": t0,                       // left by a save that died now
		"writing": t0.Add(2 * time.Hour),    // written to two hours later
		"rsynced": t0.Add(-100 * time.Hour), // copied in now with an old mtime
	} {
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(tmp, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	// tmp/ was made just now: 20 hours on it is due for a look, which
	// finds nothing old enough (the rsynced file's inode is 20 hours
	// old, whatever its mtime says).
	if n := s.cleanTmp(dir, t0.Add(20*time.Hour)); n != 0 {
		t.Errorf("at +20h: removed %d", n)
	}
	// At +37h the crashed file is 37 hours old, but tmp/ was looked at
	// 17 hours before: due. Only the crashed and rsynced files are old
	// enough both ways; the one written at +2h is 35 hours old.
	if n := s.cleanTmp(dir, t0.Add(37*time.Hour)); n != 2 {
		t.Errorf("at +37h: removed %d, want 2", n)
	}
	if got, want := tmpNames(t, tmp), []string{"subdir", "writing"}; !slices.Equal(got, want) {
		t.Errorf("tmp/ holds %v, want %v", got, want)
	}
	// At +40h the last file is 38 hours old, but tmp/ was looked at 3
	// hours before: not due.
	if n := s.cleanTmp(dir, t0.Add(40*time.Hour)); n != 0 {
		t.Errorf("at +40h (looked at 3 hours before): removed %d", n)
	}
	if n := s.cleanTmp(dir, t0.Add(46*time.Hour)); n != 1 {
		t.Errorf("at +46h: removed %d, want 1", n)
	}
	if got, want := tmpNames(t, tmp), []string{"subdir"}; !slices.Equal(got, want) {
		t.Errorf("tmp/ holds %v, want %v", got, want)
	}
}

// TestOpenLooksAtTmp: opening the store looks at each mailbox's tmp/
// once its last look is over 8 hours old, and marks the look.
func TestOpenLooksAtTmp(t *testing.T) {
	home := t.TempDir()
	st, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u", PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(home, "Maildir", "tmp")
	atime := func() time.Time {
		var fst unix.Stat_t
		if err := unix.Stat(tmp, &fst); err != nil {
			t.Fatal(err)
		}
		return timeOf(fst.Atim)
	}
	for _, c := range []struct {
		ago    time.Duration
		looked bool
	}{{7 * time.Hour, false}, {9 * time.Hour, true}} {
		if err := setAtime(tmp, time.Now().Add(-c.ago)); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Add(-time.Minute)
		st, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u", PollInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if looked := atime().After(before); looked != c.looked {
			t.Errorf("last look %v ago: looked = %v, want %v", c.ago, looked, c.looked)
		}
	}
}
