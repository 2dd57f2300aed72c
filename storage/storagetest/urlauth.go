package storagetest

import (
	"bytes"
	"errors"
	"testing"

	"cote/storage"
)

// URLAuthKeys checks a storage.URLAuthStore's mailbox keys (RFC 4467
// section 3): made on demand, stable, one per mailbox, forgotten by
// ResetURLAuthKeys and by deleting the mailbox.
func URLAuthKeys(t *testing.T, open func(t *testing.T) storage.Store) {
	st := open(t)
	t.Cleanup(func() { st.Close() })
	ks, ok := st.(storage.URLAuthStore)
	if !ok {
		t.Fatalf("%T is no storage.URLAuthStore", st)
	}
	key := func(name string, create bool) []byte {
		t.Helper()
		k, err := ks.URLAuthKey(name, create)
		if err != nil {
			t.Fatalf("URLAuthKey(%q, %v) = %v", name, create, err)
		}
		return k
	}
	for _, n := range []string{"A", "B"} {
		if err := st.Create(n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if k := key("A", false); k != nil {
		t.Fatalf("URLAuthKey(A, false) = %x before any was made, want nil", k)
	}
	a := key("A", true)
	if len(a) < 16 {
		t.Fatalf("URLAuthKey(A, true) = %x, want at least 128 bits", a)
	}
	if k := key("A", false); !bytes.Equal(k, a) {
		t.Fatalf("URLAuthKey(A, false) = %x, want %x", k, a)
	}
	b := key("B", true)
	if bytes.Equal(a, b) {
		t.Fatalf("mailboxes A and B share a key")
	}
	inbox := key("inbox", true)
	if k := key("INBOX", false); !bytes.Equal(k, inbox) {
		t.Fatalf("URLAuthKey(INBOX) = %x, want inbox's %x", k, inbox)
	}
	if _, err := ks.URLAuthKey("Nowhere", true); !errors.Is(err, storage.ErrNoSuchMailbox) {
		t.Fatalf("URLAuthKey(Nowhere) = %v, want ErrNoSuchMailbox", err)
	}
	if err := ks.ResetURLAuthKeys("Nowhere"); !errors.Is(err, storage.ErrNoSuchMailbox) {
		t.Fatalf("ResetURLAuthKeys(Nowhere) = %v, want ErrNoSuchMailbox", err)
	}
	if err := ks.ResetURLAuthKeys("A"); err != nil {
		t.Fatal(err)
	}
	if k := key("A", false); k != nil {
		t.Fatalf("URLAuthKey(A) = %x after reset, want nil", k)
	}
	if k := key("B", false); !bytes.Equal(k, b) {
		t.Fatalf("resetting A changed B's key")
	}
	if k := key("A", true); bytes.Equal(k, a) {
		t.Fatalf("A's new key is the old one")
	}
	// A mailbox deleted and made again, or renamed, starts without.
	if err := st.Delete("B"); err != nil {
		t.Fatal(err)
	}
	if err := st.Create("B", nil); err != nil {
		t.Fatal(err)
	}
	if k := key("B", false); k != nil {
		t.Fatalf("URLAuthKey(B) = %x after delete and create, want nil", k)
	}
	if err := st.Rename("A", "C"); err != nil {
		t.Fatal(err)
	}
	if k := key("C", false); k != nil {
		t.Fatalf("URLAuthKey(C) = %x after rename, want nil", k)
	}
	if err := ks.ResetURLAuthKeys(""); err != nil {
		t.Fatal(err)
	}
	if k := key("INBOX", false); k != nil {
		t.Fatalf("URLAuthKey(INBOX) = %x after resetting all, want nil", k)
	}
}
