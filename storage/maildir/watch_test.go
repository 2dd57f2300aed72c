package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/internal/mailstate"
	"cote/storage/storagetest"
)

// watchWait bounds how long a test waits for a wake. It is far below
// pollWatched, so a wake within it comes from inotify, not from a poll.
const watchWait = 10 * time.Second

// openWatched opens a Maildir store with the default poll interval, so
// that with inotify working only inotify wakes watchers quickly.
func openWatched(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(Options{Location: "maildir:" + root, NoTextIndexer: true})
	if err != nil {
		t.Fatalf("Open(%q) = %v", root, err)
	}
	t.Cleanup(func() { s.Close() })
	st := s.(*Store)
	if st.s.w == nil {
		t.Fatal("the store does not watch the Maildir with inotify")
	}
	if got := st.s.pollEvery(0); got != pollWatched {
		t.Fatalf("pollEvery(0) = %v with every mailbox watched, want %v", got, pollWatched)
	}
	return st
}

func appendN(t *testing.T, s storage.Store, mailbox string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, _, err := s.Append(mailbox, strings.NewReader("Subject: x\r\n\r\nbody\r\n"), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// scans returns the store's scan count, read under the State's lock.
func scans(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.Each(func(*mailstate.Box) error { n = s.s.scans; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitWake waits for the watch channel and logs the delay since start.
func waitWake(t *testing.T, c <-chan struct{}, what string, start time.Time) {
	t.Helper()
	select {
	case <-c:
		t.Logf("%s: watcher woken after %v", what, time.Since(start).Round(time.Microsecond))
	case <-time.After(watchWait):
		t.Fatalf("%s: no wake within %v", what, watchWait)
	}
}

// TestWatchExternal: a message another program delivers into new/, a
// flag it sets by renaming a file in cur/ and a file it deletes each
// wake the store's watchers through inotify, long before a poll, and
// the session's Poll then reports the change.
func TestWatchExternal(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, root, file string)
		check  func(c storage.Changes) bool
	}{
		{"file into new/", func(t *testing.T, root, _ string) {
			tmp := filepath.Join(root, "tmp", "1700000000.M1P1.elsewhere")
			if err := os.WriteFile(tmp, []byte("Subject: from outside\n\nhello\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(root, "new", "1700000000.M1P1.elsewhere")); err != nil {
				t.Fatal(err)
			}
		}, func(c storage.Changes) bool {
			return len(c.Updated) == 1 && c.Updated[0].UID == 3
		}},
		{"flag rename in cur/", func(t *testing.T, root, file string) {
			if err := os.Rename(filepath.Join(root, "cur", file), filepath.Join(root, "cur", file+"F")); err != nil {
				t.Fatal(err)
			}
		}, func(c storage.Changes) bool {
			return len(c.Updated) == 1 && c.Updated[0].UID == 1 && slices.Contains(c.Updated[0].Flags, storage.FlagFlagged)
		}},
		{"unlink in cur/", func(t *testing.T, root, file string) {
			if err := os.Remove(filepath.Join(root, "cur", file)); err != nil {
				t.Fatal(err)
			}
		}, func(c storage.Changes) bool {
			return slices.Equal(c.Expunged, []uint32{1})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "Maildir")
			s := openWatched(t, root)
			appendN(t, s, "INBOX", 2)
			mbx, err := s.Open("INBOX", false)
			if err != nil {
				t.Fatal(err)
			}
			defer mbx.Close()
			c, stop := s.Watch()
			defer stop()
			file := fileOf(t, s, "INBOX", 1)
			start := time.Now()
			tc.change(t, root, file)
			waitWake(t, c, tc.name, start)
			got, err := mbx.Poll()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Errorf("Poll() after %s = %+v", tc.name, got)
			}
		})
	}
}

// TestWatchExternalAtOnce: a sync trusts inotify instead of looking at
// new/, cur/ and dovecot-uidlist (watcher.check), so it must read the
// queued events itself: the Poll right after another program's change,
// with no wait for the watcher's goroutine, reports it, every time.
func TestWatchExternalAtOnce(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openWatched(t, root)
	appendN(t, s, "INBOX", 1)
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	for i := range 200 {
		base := fmt.Sprintf("1700000000.M%dP1.elsewhere", i)
		tmp := filepath.Join(root, "tmp", base)
		if err := os.WriteFile(tmp, []byte("Subject: from outside\n\nhello\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(root, "new", base)); err != nil {
			t.Fatal(err)
		}
		got, err := mbx.Poll()
		if err != nil {
			t.Fatal(err)
		}
		if want := uint32(i + 2); len(got.Updated) != 1 || got.Updated[0].UID != want {
			t.Fatalf("delivery %d: Poll() right after it = %+v, want UID %d", i, got, want)
		}
		// A flag another program sets on it, seen by the next Poll too.
		file := fileOf(t, s, "INBOX", uint32(i+2))
		if err := os.Rename(filepath.Join(root, "cur", file), filepath.Join(root, "cur", strings.TrimSuffix(file, ":2,")+":2,S")); err != nil {
			t.Fatal(err)
		}
		got, err = mbx.Poll()
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Updated) != 1 || !slices.Contains(got.Updated[0].Flags, storage.FlagSeen) {
			t.Fatalf("flag %d: Poll() right after it = %+v", i, got)
		}
	}
}

// TestWatchPollLooksAtStamps: with inotify vouching for a mailbox, a
// session's sync does not look at new/, cur/ and dovecot-uidlist; what
// inotify does not report (here a lost event) is left to the periodic
// poll, whose syncs compare the stamps. The watcher runs without its
// reading goroutine, so nothing reads the queue behind the test's back.
func TestWatchPollLooksAtStamps(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	appendN(t, s, "INBOX", 1)
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	w, err := newWatcher(root)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	s.s.w = w
	s.s.watchAll()

	name := "1700000000.M9P9.elsewhere:2,"
	if err := os.WriteFile(filepath.Join(root, "cur", name), []byte("Subject: lost\n\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "cur"), later, later); err != nil {
		t.Fatal(err)
	}
	// Its event is lost.
	w.mu.Lock()
	for {
		if _, err := unix.Read(w.fd, w.buf); err != nil {
			break
		}
	}
	w.mu.Unlock()
	got, err := mbx.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Updated) != 0 {
		t.Fatalf("Poll() with no event = %+v: the sync looked at the directories", got)
	}
	if err := s.s.st.SyncWhere(polledScan); err != nil {
		t.Fatal(err)
	}
	got, err = mbx.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Updated) != 1 || got.Updated[0].UID != 2 {
		t.Fatalf("Poll() after the periodic poll = %+v, want UID 2", got)
	}
}

// fileOf returns the file name in cur/ of a message.
func fileOf(t *testing.T, s *Store, mailbox string, uid uint32) string {
	t.Helper()
	var name string
	s.Each(func(b *mailstate.Box) error {
		if b.Name == mailbox {
			if m := b.Find(uid); m != nil {
				name = m.Ext.(*mmsg).name
			}
		}
		return nil
	})
	if name == "" {
		t.Fatalf("%s has no UID %d", mailbox, uid)
	}
	return name
}

// TestWatchOwnChanges: the store's own saves, flag changes, copies and
// expunges make inotify events but no rescan. A file dropped into
// another mailbox afterwards marks the end of those events (one inotify
// queue keeps them in order): once it has woken the watcher, exactly one
// scan, of that mailbox, has happened.
func TestWatchOwnChanges(t *testing.T) {
	const n = 50
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openWatched(t, root)
	if err := s.Create("Marker", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Create("Copies", nil); err != nil {
		t.Fatal(err)
	}
	s.Status("INBOX") // its first scan
	before := scans(t, s)
	appendN(t, s, "INBOX", n)
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	uids := make([]uint32, n)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	if _, err := mbx.Store(uids, storage.FlagsAdd, []string{storage.FlagSeen, "$Work"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mbx.Copy(uids[:10], "Copies"); err != nil {
		t.Fatal(err)
	}
	if _, err := mbx.Store(uids[:10], storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mbx.Expunge(nil); err != nil {
		t.Fatal(err)
	}
	c, stop := s.Watch()
	defer stop()
	start := time.Now()
	if err := os.WriteFile(filepath.Join(root, ".Marker", "new", "1700000000.M2P2.elsewhere"), []byte("Subject: m\n\nm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitWake(t, c, "marker file", start)
	if got := scans(t, s) - before; got != 1 {
		t.Errorf("%d saves, flag changes, copies and expunges, then one external file: %d scans, want 1", n, got)
	}
	if st, err := s.Status("Marker"); err != nil || st.Messages != 1 {
		t.Errorf("Status(Marker) = %+v, %v; want 1 message", st, err)
	}
}

// TestWatchMailboxes: a mailbox made, renamed or deleted through the
// store gets its watches, keeps them, or loses them.
func TestWatchMailboxes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openWatched(t, root)
	if err := s.Create("Work", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("Work", "Play"); err != nil {
		t.Fatal(err)
	}
	c, stop := s.Watch()
	defer stop()
	start := time.Now()
	if err := os.WriteFile(filepath.Join(root, ".Play", "new", "1700000000.M3P3.elsewhere"), []byte("Subject: p\n\np\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitWake(t, c, "file into a renamed mailbox", start)
	if st, err := s.Status("Play"); err != nil || st.Messages != 1 {
		t.Errorf("Status(Play) = %+v, %v; want 1 message", st, err)
	}
	watched := func() int {
		s.s.w.mu.Lock()
		defer s.s.w.mu.Unlock()
		return len(s.s.w.byBox)
	}
	if got := watched(); got != 2 {
		t.Errorf("%d mailboxes watched with INBOX and Play, want 2", got)
	}
	if err := s.Delete("Play"); err != nil {
		t.Fatal(err)
	}
	if got := watched(); got != 1 {
		t.Errorf("%d mailboxes watched after deleting Play, want 1", got)
	}
	s.s.watchAll()
	if got := watched(); got != 1 || s.s.w.polling() {
		t.Errorf("after watchAll: %d mailboxes watched (want 1), polling %v (want false)", got, s.s.w.polling())
	}
}

// TestWatchOverflow: when the event queue overflowed, every mailbox is
// scanned, whatever its stamps say.
func TestWatchOverflow(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openWatched(t, root)
	for _, name := range []string{"A", "B"} {
		if err := s.Create(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	before := scans(t, s)
	s.s.w.mu.Lock()
	s.s.w.event(-1, unix.IN_Q_OVERFLOW, "")
	s.s.w.mu.Unlock()
	if err := s.s.syncNotified(); err != nil {
		t.Fatal(err)
	}
	if got := scans(t, s) - before; got != 3 {
		t.Errorf("after an overflow: %d scans, want 3 (INBOX, A, B)", got)
	}
}

// TestWatchLockedUidlist: while another program holds the uidlist lock,
// the sync inotify asks for does not wait for it under the store's lock
// (the user's other sessions go on); it tries again, and once the lock
// is gone the message arrives.
func TestWatchLockedUidlist(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openWatched(t, root)
	if err := s.Create("Other", nil); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(root, "dovecot-uidlist.lock")
	if err := os.WriteFile(lock, []byte("1:elsewhere.example"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, stop := s.Watch()
	defer stop()
	if err := os.WriteFile(filepath.Join(root, "new", "1700000000.M4P4.elsewhere"), []byte("Subject: l\n\nl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy := func() int {
		s.s.w.mu.Lock()
		defer s.s.w.mu.Unlock()
		return s.s.w.busy
	}
	deadline := time.Now().Add(watchWait)
	for busy() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no sync found the uidlist locked within %v", watchWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Another mailbox is not held up meanwhile.
	appendN(t, s, "Other", 1)
	<-c // the append's wake
	start := time.Now()
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	waitWake(t, c, "lock released", start)
	if st, err := s.Status("INBOX"); err != nil || st.Messages != 1 {
		t.Errorf("Status(INBOX) = %+v, %v; want 1 message", st, err)
	}
}

// TestConformanceWatched runs the conformance suite with the inotify
// watches on.
func TestConformanceWatched(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(Options{Location: "maildir:~/Maildir", Home: t.TempDir(), User: "u"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
