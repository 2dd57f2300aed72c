package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"cote/storage"
)

// TestChangeFeedExternal: a message another program delivers into a
// Maildir reaches the change feed (storage.ChangeStore) with the
// mailbox's name once the store's rescan finds it.
func TestChangeFeedExternal(t *testing.T) {
	home := t.TempDir()
	s, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u", PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Create("Work", nil); err != nil {
		t.Fatal(err)
	}
	feed := s.(storage.ChangeStore).WatchChanges()
	defer feed.Stop()
	name := filepath.Join(home, "Maildir", ".Work", "new", "1700000000.M1P1.elsewhere")
	if err := os.WriteFile(name, []byte("Subject: x\n\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []storage.MailboxChange{{Kind: storage.ChangeMessages, Mailbox: "Work"}}
	select {
	case <-feed.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported for a message delivered from outside")
	}
	if got, overflow := feed.Take(); overflow || !slices.Equal(got, want) {
		t.Fatalf("Take() = %v, %v; want %v, false", got, overflow, want)
	}
}
