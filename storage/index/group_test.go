package index

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// crashOpen opens a copy of the index's files as a crash would leave
// them, the writer still open; the copy is closed with the test.
func crashOpen(t *testing.T, path string) *DB {
	t.Helper()
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := Open(crashed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// crashCopy returns the names of the messages of INBOX in a crashOpen
// copy (nil when it has no INBOX), and whether the copy is Unclean.
func crashCopy(t *testing.T, path string) ([]string, bool) {
	t.Helper()
	c := crashOpen(t, path)
	_, msgs, _, ok, err := c.LoadBox("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil, c.Unclean()
	}
	var names []string
	for _, m := range msgs {
		names = append(names, m.File)
	}
	return names, c.Unclean()
}

// reopen closes d, which must succeed, and opens the index at path
// again, closed with the test.
func reopen(t *testing.T, d *DB, path string, opts Options) *DB {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, _, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// putBox begins a transaction and writes b's row in it.
func putBox(t *testing.T, d *DB, b *Box) *Tx {
	t.Helper()
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutBox(b); err != nil {
		t.Fatal(err)
	}
	return tx
}

// openGrouped opens a new index whose groups commit only when forced
// (an hour's delay), and returns it with its path.
func openGrouped(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "i.db")
	d, _, err := Open(path, Options{GroupCommit: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return d, path
}

// commitBox writes b's row in a transaction of its own.
func commitBox(t *testing.T, d *DB, b *Box) {
	t.Helper()
	if err := putBox(t, d, b).Commit(); err != nil {
		t.Fatal(err)
	}
}

// crashRow returns INBOX's row in a crashOpen copy.
func crashRow(t *testing.T, path string) Box {
	t.Helper()
	row, _, _, _, err := crashOpen(t, path).LoadBox("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// TestGroupCommit: with GroupCommit, the metadata tier's transactions
// commit together. A crash before the group commits loses all of them,
// and the next open knows (Unclean); the timer commits them after the
// delay; a rolled back transaction that ran a statement loses its group,
// one that ran none leaves it; a durable transaction, one of another
// kind and Close commit the group first.
func TestGroupCommit(t *testing.T) {
	d, path := openGrouped(t)
	defer func() { d.Close() }()
	box := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 1, ModSeq: 1}
	change := func(file string, commit bool) {
		t.Helper()
		tx, err := d.Begin()
		if err != nil {
			t.Fatal(err)
		}
		box.UIDNext++
		box.ModSeq++
		if err := tx.PutBox(&box); err != nil {
			t.Fatal(err)
		}
		if file != "" {
			if err := tx.PutMsg(box.ID, Msg{UID: box.UIDNext - 1, File: file, ModSeq: box.ModSeq}); err != nil {
				t.Fatal(err)
			}
		}
		if !commit {
			tx.Rollback()
			box.UIDNext--
			box.ModSeq--
			return
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, names ...string) {
		t.Helper()
		got, unclean := crashCopy(t, path)
		if !slices.Equal(got, names) {
			t.Errorf("%s: a crash leaves %q, want %q", what, got, names)
		}
		if !unclean {
			t.Errorf("%s: a crash leaves an index that is not Unclean", what)
		}
	}

	// The process's first write is durable and sets the marker; it is
	// not grouped.
	change("", true)
	want("first write")

	change("a", true)
	change("b", true)
	change("c", true)
	want("grouped")
	// The group writes the mailbox row once, at its commit; until then
	// the DB reads it as the group will write it.
	if row, _, _, _, err := d.LoadBox("INBOX"); err != nil || row.ModSeq != box.ModSeq || row.UIDNext != box.UIDNext {
		t.Errorf("LoadBox in the group: HIGHESTMODSEQ %d, UIDNEXT %d (%v); want %d, %d", row.ModSeq, row.UIDNext, err, box.ModSeq, box.UIDNext)
	}
	// A transaction that rolls back without having run a statement (its
	// row was only deferred) leaves the group, and the row as it was.
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	next := box
	next.ModSeq += 10
	if err := tx.PutBox(&next); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if n, err := d.Lost(); n != 0 {
		t.Errorf("a rollback with no statement lost the group: Lost() = %d, %v", n, err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	want("after Flush", "a", "b", "c")
	if row := crashRow(t, path); row.ModSeq != box.ModSeq || row.UIDNext != box.UIDNext {
		t.Errorf("after Flush: the row has HIGHESTMODSEQ %d, UIDNEXT %d; want %d, %d (the rolled back change's HIGHESTMODSEQ is %d)",
			row.ModSeq, row.UIDNext, box.ModSeq, box.UIDNext, next.ModSeq)
	}

	// A transaction that rolls back after running a statement takes its
	// group with it: "p", committed into the group before it, goes too.
	kept := box
	change("p", true)
	change("x", false)
	if n, err := d.Lost(); n != 1 || !errors.Is(err, errGroupRolledBack) {
		t.Errorf("after a rollback: Lost() = %d, %v; want 1, %v", n, err, errGroupRolledBack)
	}
	box = kept
	if row, msgs, _, _, err := d.LoadBox("INBOX"); err != nil || row.ModSeq != box.ModSeq || len(msgs) != 3 {
		t.Errorf("after a rollback: LoadBox has HIGHESTMODSEQ %d and %d messages (%v); want %d and 3", row.ModSeq, len(msgs), err, box.ModSeq)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	want("after a rollback and Flush", "a", "b", "c")

	change("d", true)
	tx, err = d.BeginDurable()
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	want("after a durable transaction began", "a", "b", "c", "d")

	change("e", true)
	if err := d.SetSubscriptions([]string{"INBOX"}); err != nil {
		t.Fatal(err)
	}
	want("after a transaction of another kind", "a", "b", "c", "d", "e")

	change("f", true)
	d = reopen(t, d, path, Options{GroupCommit: 50 * time.Millisecond})
	if !d.Unclean() {
		t.Errorf("after Close: not Unclean, though a group was lost")
	}
	if _, msgs, _, _, err := d.LoadBox("INBOX"); err != nil || len(msgs) != 6 {
		t.Errorf("after Close: %d messages (%v), want 6", len(msgs), err)
	}

	_, loaded, _, _, _ := d.LoadBox("INBOX")
	box = Box{ID: 1, Name: "INBOX", UIDValidity: 1, UIDNext: loaded[5].UID + 1, ModSeq: loaded[5].ModSeq}
	change("", true) // durable again: the first write of this DB
	change("g", true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := crashCopy(t, path)
		if len(got) == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after a grouped commit with a 50 ms delay, a crash leaves %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := d.Lost(); n != 0 {
		t.Errorf("Lost() = %d, %v", n, err)
	}
}

// TestGroupLost: a group whose COMMIT fails is rolled back and counted
// lost (Lost), and the index keeps its writing marker when closed, so
// that the next open is Unclean. A deferred constraint stands in for a
// full disk: it fails the COMMIT, not the statements.
func TestGroupLost(t *testing.T) {
	d, path := openGrouped(t)
	if _, err := d.db.Exec(`CREATE TABLE IF NOT EXISTS t (m INTEGER REFERENCES mailboxes(id) DEFERRABLE INITIALLY DEFERRED)`); err != nil {
		t.Fatal(err)
	}
	box := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 1, ModSeq: 1}
	commitBox(t, d, &box) // durable: sets the marker
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutMsg(box.ID, Msg{UID: 1, File: "lost", ModSeq: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.tx.Exec(`INSERT INTO t VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("grouped commit: %v", err)
	}
	if err := d.Flush(); err == nil {
		t.Fatalf("Flush of a group that breaks a constraint succeeded")
	}
	if n, err := d.Lost(); n != 1 || err == nil {
		t.Errorf("Lost() = %d, %v; want 1 and the error", n, err)
	}
	// The connection is usable: the next group commits.
	tx, err = d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutMsg(box.ID, Msg{UID: 2, File: "kept", ModSeq: 3}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	d = reopen(t, d, path, Options{})
	if !d.Unclean() {
		t.Errorf("an index closed after a lost group is not Unclean")
	}
	_, msgs, _, _, _ := d.LoadBox("INBOX")
	var names []string
	for _, m := range msgs {
		names = append(names, m.File)
	}
	if !slices.Equal(names, []string{"kept"}) {
		t.Errorf("messages %q, want only the one committed after the lost group", names)
	}
}

// TestGroupLostInRollback: when SQLite has rolled back the whole group
// by the time a grouped transaction rolls back (as it may on a full
// disk), the group is lost with the mailbox rows it was to write, and
// none of them comes back with the next group.
func TestGroupLostInRollback(t *testing.T) {
	d, path := openGrouped(t)
	defer d.Close()
	inbox := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 1, ModSeq: 1}
	commitBox(t, d, &inbox) // durable, not grouped
	inbox.ModSeq = 2
	commitBox(t, d, &inbox) // grouped: the row waits
	inbox.ModSeq = 3
	tx := putBox(t, d, &inbox)
	if _, err := tx.tx.Exec("ROLLBACK"); err != nil { // SQLite ends the group
		t.Fatal(err)
	}
	tx.Rollback()
	if n, _ := d.Lost(); n != 1 {
		t.Fatalf("Lost() = %d after the group was rolled back under a transaction", n)
	}
	commitBox(t, d, &Box{Name: "Other", UIDValidity: 1, UIDNext: 1, ModSeq: 1})
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if row := crashRow(t, path); row.ModSeq != 1 {
		t.Errorf("INBOX's row has HIGHESTMODSEQ %d after its group was lost, want 1 (its last committed)", row.ModSeq)
	}
}

// TestGroupTxErrors: in a grouped transaction, a statement refused by a
// constraint leaves the group (SQLite undoes the statement alone, and
// AddMsg falls back to an update), while one that failed otherwise may
// have ended SQLite's transaction: the Commit reports it and the group
// is lost.
func TestGroupTxErrors(t *testing.T) {
	d, path := openGrouped(t)
	defer d.Close()
	inbox := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 2, ModSeq: 1}
	commitBox(t, d, &inbox) // durable, not grouped
	inbox.ModSeq = 2
	tx := putBox(t, d, &inbox)
	if err := tx.AddMsg(inbox.ID, Msg{UID: 1, File: "a", ModSeq: 2}); err != nil {
		t.Fatal(err)
	}
	if err := tx.AddMsg(inbox.ID, Msg{UID: 1, File: "b", ModSeq: 2}); err != nil {
		t.Fatal(err) // the UNIQUE constraint's refusal, then an update
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit after a constraint's refusal: %v", err)
	}
	if n, err := d.Lost(); n != 0 {
		t.Fatalf("Lost() = %d, %v after a constraint's refusal", n, err)
	}

	inbox.ModSeq = 3
	tx = putBox(t, d, &inbox)
	if _, err := tx.tx.Exec("SELECT abs(-9223372036854775808)"); err == nil { // integer overflow, when it runs
		t.Fatal("the overflow went unnoticed")
	}
	if err := tx.Commit(); err == nil {
		t.Error("Commit after a failed statement reported nothing")
	}
	if n, _ := d.Lost(); n != 1 {
		t.Errorf("Lost() = %d after a failed statement's Commit, want 1", n)
	}
	d.namesMu.Lock()
	if len(d.names) != 0 {
		t.Errorf("the names of mailbox rows are kept after the group was lost: %v", d.names)
	}
	d.namesMu.Unlock()
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	_, msgs, _, _, err := crashOpen(t, path).LoadBox("INBOX")
	if err != nil || len(msgs) != 0 {
		t.Errorf("a crash leaves %d messages (%v), want none: the group with \"b\" was lost", len(msgs), err)
	}
}
