package mbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"cote/storage"
)

// TestChangeFeedExternal: a message another program appends to the
// inbox file reaches the change feed (storage.ChangeStore) once the
// store's rescan finds it.
func TestChangeFeedExternal(t *testing.T) {
	home := t.TempDir()
	inbox := filepath.Join(home, "spool", "u")
	s, err := Open(Options{Location: "mbox:~/mail:INBOX=" + inbox, Home: home, User: "u", PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feed := s.(storage.ChangeStore).WatchChanges()
	defer feed.Stop()
	f, err := os.OpenFile(inbox, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("From a@example.com Thu Jan  4 10:00:00 2024\nSubject: x\n\nx\n\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The rescan compares the file's mtime: make sure it moves.
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(inbox, later, later)
	want := []storage.MailboxChange{{Kind: storage.ChangeMessages, Mailbox: "INBOX"}}
	select {
	case <-feed.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported for a message appended from outside")
	}
	if got, overflow := feed.Take(); overflow || !slices.Equal(got, want) {
		t.Fatalf("Take() = %v, %v; want %v, false", got, overflow, want)
	}
}
