package maildir

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"cote/storage"
	"cote/storage/storagetest"
)

func TestURLAuthKeys(t *testing.T) {
	storagetest.URLAuthKeys(t, func(t *testing.T) storage.Store { return openTest(t, "maildir:~/Maildir") })
}

// The keys outlive the store: they are in the Maildir root, readable by
// the user only, and a mailbox's key follows its UIDVALIDITY.
func TestURLAuthKeysPersist(t *testing.T) {
	home := t.TempDir()
	open := func() storage.Store {
		st, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u", PollInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	k1, err := st.(storage.URLAuthStore).URLAuthKey("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(home, "Maildir", urlAuthKeysFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", urlAuthKeysFile, fi.Mode().Perm())
	}
	st = open()
	defer st.Close()
	k2, err := st.(storage.URLAuthStore).URLAuthKey("INBOX", false)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("URLAuthKey after reopen = %x, %v, want %x", k2, err, k1)
	}
	// Damaged lines are skipped: those mailboxes get new keys.
	if err := os.WriteFile(path, []byte("x\ty\tINBOX\n1\t00\tShort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open()
	if k, err := st.(storage.URLAuthStore).URLAuthKey("INBOX", false); err != nil || k != nil {
		t.Fatalf("URLAuthKey from a damaged file = %x, %v, want nil", k, err)
	}
}
