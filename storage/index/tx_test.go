package index

import (
	"errors"
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
	d = reopen(t, d, path, Options{})
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

// TestPutBoxName: PutBox leaves a mailbox row's name alone when it wrote
// that name before, and writes it again after a rollback, a RenameBox or
// a DeleteBox, so that the row always ends with the name PutBox got.
func TestPutBoxName(t *testing.T) {
	d, _, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	b := Box{Name: "A", UIDValidity: 7, UIDNext: 1, ModSeq: 1}
	put := func(name string, commit bool) {
		t.Helper()
		tx, err := d.Begin()
		if err != nil {
			t.Fatal(err)
		}
		b.Name = name
		b.ModSeq++
		if err := tx.PutBox(&b); err != nil {
			t.Fatal(err)
		}
		if !commit {
			tx.Rollback()
			return
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	want := func(step, name string, modseq uint64) {
		t.Helper()
		got, _, _, ok, err := d.LoadBox(name)
		if err != nil || !ok || got.ID != b.ID || got.ModSeq != modseq {
			t.Fatalf("%s: LoadBox(%q) = id %d modseq %d, %v, %v; want id %d modseq %d", step, name, got.ID, got.ModSeq, ok, err, b.ID, modseq)
		}
	}
	put("A", true)
	put("A", true)
	want("same name", "A", b.ModSeq)
	put("B", true)
	want("new name", "B", b.ModSeq)
	put("C", false)
	put("C", true)
	want("after a rollback", "C", b.ModSeq)
	if err := d.RenameBox("C", "D", '/', false); err != nil {
		t.Fatal(err)
	}
	put("C", true)
	want("after RenameBox", "C", b.ModSeq)
	put("C", true)
	want("again", "C", b.ModSeq)
}

// TestSecondOpenerWaits: the index stays locked by the connection that
// has it open (locking_mode EXCLUSIVE); a second Open, as of a worker
// that starts while the previous one for the same mail still closes,
// waits for the first to close instead of failing, and then sees its
// commits.
func TestSecondOpenerWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	first, _, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := first.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutBox(&Box{Name: "Kept", UIDValidity: 7, UIDNext: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		d   *DB
		err error
	}
	done := make(chan opened, 1)
	go func() {
		d, _, err := Open(path, Options{})
		if err == nil {
			_, _, _, ok, lerr := d.LoadBox("Kept")
			if !ok && lerr == nil {
				lerr = errors.New("mailbox Kept not found")
			}
			err = lerr
		}
		done <- opened{d, err}
	}()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := <-done
	if second.err != nil {
		t.Fatalf("Open while another connection had the index: %v", second.err)
	}
	second.d.Close()
}

// TestAddMsg: AddMsg inserts a new message's row, and updates the row
// already there under its UID; the usage counters count each message
// once.
func TestAddMsg(t *testing.T) {
	d, _, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	box := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 3, ModSeq: 1}
	if err := tx.PutBox(&box); err != nil {
		t.Fatal(err)
	}
	if err := tx.PutMsg(box.ID, Msg{UID: 1, File: "old", ModSeq: 1, Size: 10}); err != nil {
		t.Fatal(err)
	}
	if err := tx.AddMsg(box.ID, Msg{UID: 1, File: "new", ModSeq: 2, Size: 20}); err != nil {
		t.Fatalf("AddMsg of a UID with a row: %v", err)
	}
	if err := tx.AddMsg(box.ID, Msg{UID: 2, File: "two", ModSeq: 3, Size: 5}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_, msgs, _, _, err := d.LoadBox("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].File != "new" || msgs[0].ModSeq != 2 || msgs[1].File != "two" {
		t.Errorf("rows %+v, want UID 1 as new and UID 2", msgs)
	}
	if bytes, n, err := d.Usage(); bytes != 25 || n != 2 || err != nil {
		t.Errorf("Usage() = %d bytes, %d messages, %v; want 25, 2", bytes, n, err)
	}
}
