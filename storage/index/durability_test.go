package index

import (
	"path/filepath"
	"testing"
)

// TestDurabilityTiers: a save's transaction runs with synchronous=FULL
// (its commit is on disk when it returns), every other one with NORMAL;
// mail_fsync=always makes them all FULL.
func TestDurabilityTiers(t *testing.T) {
	const normal, full = 1, 2
	pragma := func(q func(string, ...any) rowScanner) int {
		var n int
		if err := q("PRAGMA synchronous").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name          string
		opts          Options
		meta, durable int
	}{
		{"optimized", Options{}, normal, full},
		{"always", Options{SyncAll: true}, full, full},
		{"never", Options{NoSync: true}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, err := Open(filepath.Join(t.TempDir(), "i.db"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for _, durable := range []bool{true, false, true, false} {
				begin, want := d.Begin, tc.meta
				if durable {
					begin, want = d.BeginDurable, tc.durable
				}
				tx, err := begin()
				if err != nil {
					t.Fatal(err)
				}
				if got := pragma(func(q string, a ...any) rowScanner { return tx.tx.QueryRow(q, a...) }); got != want {
					t.Errorf("durable=%v: synchronous = %d in the transaction, want %d", durable, got, want)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				if got := pragma(func(q string, a ...any) rowScanner { return d.db.QueryRow(q, a...) }); got != tc.meta {
					t.Errorf("durable=%v: synchronous = %d after the commit, want %d", durable, got, tc.meta)
				}
			}
		})
	}
}

type rowScanner interface{ Scan(...any) error }

// TestUncleanMarker: an index whose last writer did not close it says
// so at the next open; one closed after its writes does not.
func TestUncleanMarker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "i.db")
	d, _, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Unclean() {
		t.Errorf("new index: Unclean() = true")
	}
	commitBox(t, d, &Box{Name: "INBOX", UIDValidity: 1, UIDNext: 1, ModSeq: 1})
	if !crashOpen(t, path).Unclean() {
		t.Errorf("index of a writer that did not close: Unclean() = false")
	}
	d = reopen(t, d, path, Options{})
	if d.Unclean() {
		t.Errorf("index closed after its writes: Unclean() = true")
	}
}
