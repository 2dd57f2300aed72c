package maildir

import (
	"path/filepath"
	"testing"

	"cote/storage"
	"cote/storage/storagetest"
)

func openTest(t *testing.T, location string) storage.Store {
	t.Helper()
	home := t.TempDir()
	s, err := Open(Options{Location: location, Home: home, User: "u", PollInterval: -1})
	if err != nil {
		t.Fatalf("Open(%q) = %v", location, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openTest(t, "maildir:~/Maildir") })
}

func TestConformanceFS(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openTest(t, "maildir:~/mail:LAYOUT=fs:INBOX=~/mail/inbox-dir")
	})
}

func TestConformanceLayoutFSDefaultInbox(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		home := t.TempDir()
		s, err := Open(Options{Location: "maildir:" + filepath.Join(home, "m") + ":LAYOUT=fs", Delimiter: '.', PollInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
