package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
)

// smallTmpfs mounts a 2 MiB tmpfs on a directory of the test's. It needs
// root (CI runs as root) and fails rather than skips without it.
func smallTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s: %v (this test needs root, or CAP_SYS_ADMIN, to mount)", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull fills a 2 MiB tmpfs: Append must fail with
// storage.ErrTemporary, keep every earlier message and the index intact,
// and work again once space is freed. It needs root to mount the tmpfs
// (CI runs as root) and fails rather than skips without it.
func TestDiskFull(t *testing.T) {
	dir := smallTmpfs(t)
	root := filepath.Join(dir, "Maildir")
	// Ballast, removed later to give the index room to reopen, as an
	// admin frees space.
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, root, Options{})
	defer func() { s.Close() }()

	msg := func(n int) string {
		return fmt.Sprintf("Subject: fill %d\r\n\r\n%s\r\nEND %d\r\n", n, strings.Repeat("abcdefghij", 2000), n)
	}
	var stored []uint32
	var full error
	for n := 0; n < 1000; n++ {
		_, uid, err := s.Append("INBOX", strings.NewReader(msg(n)), storage.AppendOptions{Flags: []string{"Fill"}})
		if err != nil {
			full = err
			break
		}
		stored = append(stored, uid)
	}
	if full == nil {
		t.Fatalf("1000 appends of 20 KB fit in 2 MiB")
	}
	if !errors.Is(full, storage.ErrTemporary) {
		t.Fatalf("Append on a full disk = %v, want ErrTemporary", full)
	}
	if len(stored) < 10 {
		t.Fatalf("only %d messages fit", len(stored))
	}
	// More attempts fail the same way and change nothing.
	for i := 0; i < 5; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader(msg(9999)), storage.AppendOptions{}); !errors.Is(err, storage.ErrTemporary) {
			t.Fatalf("Append on a full disk = %v, want ErrTemporary", err)
		}
	}
	check := func(s *Store, want []uint32) {
		t.Helper()
		mb, err := s.Open("INBOX", false)
		if err != nil {
			t.Fatalf("Open on full disk = %v", err)
		}
		defer mb.Close()
		msgs := mb.Messages()
		if len(msgs) != len(want) {
			t.Fatalf("%d messages, want %d", len(msgs), len(want))
		}
		for i, m := range msgs {
			if m.UID != want[i] {
				t.Fatalf("message %d has UID %d, want %d", i, m.UID, want[i])
			}
			if body := readMsg(t, mb, m.UID); body != msg(i) {
				t.Fatalf("UID %d: %d bytes, want message %d", m.UID, len(body), i)
			}
		}
	}
	check(s, stored)
	s.Close()
	// The index survives the full disk: reopening finds the same state.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, root, Options{})
	check(s, stored)

	// Free space: expunge the first half, then appends work again.
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	half := stored[:len(stored)/2]
	if _, err := mb.Store(half, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
		t.Fatalf("Store on a full disk = %v", err)
	}
	if gone, err := mb.Expunge(nil); err != nil || len(gone) != len(half) {
		t.Fatalf("Expunge = %v, %v", gone, err)
	}
	mb.Close()
	for i := 0; i < 3; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader(msg(i)), storage.AppendOptions{}); err != nil {
			t.Fatalf("Append after freeing space = %v", err)
		}
	}
	st, _ := s.Status("INBOX")
	if want := uint32(len(stored) - len(half) + 3); st.Messages != want {
		t.Errorf("Status = %+v, want %d messages", st, want)
	}
	if _, err := os.Stat(filepath.Join(root, IndexFile)); err != nil {
		t.Error(err)
	}
}

// TestDiskFullLostGroup: the index's grouped commits (Options.
// IndexGroupCommit) are reported done before they reach the disk; when
// the group's COMMIT then fails on a full disk, the store writes the rows
// of each mailbox it changes next anew, so that the index matches the
// Maildir again, and the next open is Unclean: it moves HIGHESTMODSEQ past
// the MODSEQs the lost commits gave. Root only, as TestDiskFull.
func TestDiskFullLostGroup(t *testing.T) {
	dir := smallTmpfs(t)
	root := filepath.Join(dir, "Maildir")
	s := openAt(t, root, Options{IndexGroupCommit: time.Hour})
	defer func() { s.Close() }()
	var uids []uint32
	for n := range 5 {
		_, uid, err := s.Append("INBOX", strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", n, n)), storage.AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
		if n == 2 {
			if err := s.s.idx.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if _, err := mb.Store(uids[:1], storage.FlagsAdd, []string{storage.FlagFlagged}, 0); err != nil {
		t.Fatal(err)
	}
	st, err := mb.Status()
	if err != nil {
		t.Fatal(err)
	}
	// Fill the disk, then commit the group of the last two saves and the
	// flag change.
	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	if err := s.s.idx.Flush(); err == nil {
		t.Fatal("the group's commit on a full disk succeeded")
	}
	if n, _ := s.s.idx.Lost(); n != 1 {
		t.Fatalf("Lost() = %d after a failed group commit", n)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	// The next change writes INBOX's rows again.
	if _, err := mb.Store(uids[1:2], storage.FlagsAdd, []string{storage.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.s.idx.Flush(); err != nil {
		t.Fatal(err)
	}
	row, rows, _, _, err := s.s.idx.LoadBox("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%d %v", r.UID, r.Flags))
	}
	want := []string{
		fmt.Sprintf("%d [%s]", uids[0], storage.FlagFlagged), fmt.Sprintf("%d [%s]", uids[1], storage.FlagSeen),
		fmt.Sprintf("%d []", uids[2]), fmt.Sprintf("%d []", uids[3]), fmt.Sprintf("%d []", uids[4]),
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows after the rewrite: %q, want %q", got, want)
	}
	if row.UIDNext != uids[4]+1 || row.ModSeq <= st.HighestModSeq {
		t.Errorf("mailbox row UIDNEXT %d, HIGHESTMODSEQ %d; want %d and above %d", row.UIDNext, row.ModSeq, uids[4]+1, st.HighestModSeq)
	}
	mb.Close()
	s.Close()
	s = openAt(t, root, Options{})
	if !s.s.idx.Unclean() {
		t.Errorf("the index of a store that lost a group is not Unclean at the next open")
	}
	after, err := s.Status("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if after.Messages != 5 || after.HighestModSeq <= st.HighestModSeq+1 {
		t.Errorf("Status after reopening = %+v, want 5 messages and HIGHESTMODSEQ above %d", after, st.HighestModSeq+1)
	}
}
