package index

import (
	"path/filepath"
	"testing"
)

// TestTxRollbackCommit: a rolled-back transaction leaves no trace and the
// connection takes the next transaction; a committed one is there after
// the index is opened again; a failed COMMIT leaves the connection usable.
func TestTxRollbackCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	d, _, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string, durable bool) *Tx {
		t.Helper()
		begin := d.Begin
		if durable {
			begin = d.BeginDurable
		}
		tx, err := begin()
		if err != nil {
			t.Fatalf("begin for %s: %v", name, err)
		}
		if err := tx.PutBox(&Box{Name: name, UIDValidity: 7, UIDNext: 1}); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	put("Dropped", false).Rollback()
	if err := put("Kept", true).Commit(); err != nil {
		t.Fatal(err)
	}
	if err := put("Flags", false).Commit(); err != nil {
		t.Fatal(err)
	}
	// A COMMIT that fails: the row breaks a foreign key of messages.
	tx := put("Broken", false)
	if _, err := tx.tx.Exec(`PRAGMA defer_foreign_keys = ON`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.tx.Exec(`INSERT INTO messages (mailbox, uid, file, flags, modseq, internaldate, savedate, size)
		VALUES (999999, 1, 'f', '', 1, 0, 0, 1)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("COMMIT of a broken foreign key succeeded")
	}
	if err := put("After", false).Commit(); err != nil {
		t.Fatalf("transaction after a failed COMMIT: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, _, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names, err := d.Names()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range names {
		got[n] = true
	}
	want := map[string]bool{"Kept": true, "Flags": true, "After": true}
	for _, n := range []string{"Dropped", "Kept", "Flags", "Broken", "After"} {
		if got[n] != want[n] {
			t.Errorf("mailbox %s in the index: %v, want %v (all: %v)", n, got[n], want[n], names)
		}
	}
}
