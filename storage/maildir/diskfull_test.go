package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"cote/storage"
)

// TestDiskFull fills a 2 MiB tmpfs: Append must fail with
// storage.ErrTemporary, keep every earlier message and the index intact,
// and work again once space is freed. It needs root to mount the tmpfs
// (CI runs as root) and fails rather than skips without it.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s: %v (this test needs root, or CAP_SYS_ADMIN, to mount)", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
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
