package index

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "write fresh.db from schema")

// schemaMade returns the bytes of a new index made by running schema, as
// open made every new index before freshImage.
func schemaMade(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := openDB("file:" + path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if err := useWAL(db, "NORMAL", true); err != nil {
		t.Fatal(err)
	}
	d := &DB{db: db, path: path}
	if err := d.migrate(schema); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // checkpoints: the WAL's pages go into the file
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFreshImage: the image a new index is written from is the index
// that running schema makes, byte for byte.
func TestFreshImage(t *testing.T) {
	made := schemaMade(t)
	if *update {
		if err := os.WriteFile("fresh.db", made, 0o644); err != nil {
			t.Fatal(err)
		}
		freshImage = made
	}
	if !bytes.Equal(freshImage, made) {
		t.Fatalf("fresh.db (%d bytes) differs from the index schema makes (%d bytes): "+
			"run go test ./storage/index -run TestFreshImage -update", len(freshImage), len(made))
	}
}

// TestOpenNewFromImage: Open makes a missing index from the image, in
// WAL mode at schemaVersion, reports it fresh, leaves no temporary file,
// and the index takes writes and opens again as not fresh.
func TestOpenNewFromImage(t *testing.T) {
	for _, opts := range []Options{{}, {NoSync: true}, {SyncAll: true}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "sub", "index.db")
		d, fresh, err := Open(path, opts)
		if err != nil {
			t.Fatalf("Open(%+v) = %v", opts, err)
		}
		if !fresh {
			t.Errorf("Open(%+v) of a missing index: fresh = false, want true", opts)
		}
		var mode string
		var version int
		if err := d.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		if err := d.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != schemaVersion {
			t.Errorf("user_version = %d, %v; want %d", version, err, schemaVersion)
		}
		tx, err := d.BeginDurable()
		if err != nil {
			t.Fatal(err)
		}
		b := Box{Name: "INBOX", UIDValidity: 7, UIDNext: 1, ModSeq: 1}
		if err := tx.PutBox(&b); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		names, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0].Name() != "index.db" {
			var got []string
			for _, n := range names {
				got = append(got, n.Name())
			}
			t.Errorf("files beside the index after Close: %q, want only index.db", got)
		}
		d, fresh, err = Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		if fresh {
			t.Errorf("Open(%+v) of an existing index: fresh = true", opts)
		}
		got, _, _, ok, err := d.LoadBox("INBOX")
		if err != nil || !ok || got.UIDValidity != 7 {
			t.Errorf("LoadBox(INBOX) = %+v, %v, %v; want UIDVALIDITY 7", got, ok, err)
		}
		d.Close()
	}
}

// TestCreateFromImageExisting: an index made by someone else between
// the stat and the link is left as it is.
func TestCreateFromImageExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	if err := os.WriteFile(path, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	made, err := createFromImage(path, "NORMAL")
	if err != nil || made {
		t.Fatalf("createFromImage over an existing file = %v, %v; want false, nil", made, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "theirs" {
		t.Errorf("the existing file now holds %q", b)
	}
	if names, _ := os.ReadDir(filepath.Dir(path)); len(names) != 1 {
		t.Errorf("%d files in the directory, want 1 (no temporary file left)", len(names))
	}
}

// TestOpenEmptyFile: an index file without a schema (SQLite's new file,
// left by a crash) gets the schema, in WAL mode, and counts as fresh.
func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, fresh, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !fresh {
		t.Error("Open of an empty file: fresh = false, want true")
	}
	var mode string
	var version int
	if err := d.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := d.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != schemaVersion {
		t.Errorf("user_version = %d, %v; want %d", version, err, schemaVersion)
	}
	if _, err := d.Names(); err != nil {
		t.Errorf("Names() = %v", err)
	}
}
