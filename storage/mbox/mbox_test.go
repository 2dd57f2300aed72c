package mbox

import (
	"path/filepath"
	"testing"

	"cote/storage"
	"cote/storage/storagetest"
)

func openTest(t *testing.T) storage.Store {
	t.Helper()
	home := t.TempDir()
	s, err := Open(Options{Location: "mbox:~/mail:INBOX=" + filepath.Join(home, "spool", "%u"), Home: home,
		User: "u", PollInterval: -1})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.RunOptions(t, storagetest.Options{NoInferiors: true}, openTest)
}
