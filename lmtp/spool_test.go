package lmtp

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestSpool: both kinds of spool give a descriptor nobody can write, with
// the message, and leave no file behind.
func TestSpool(t *testing.T) {
	for _, kind := range []string{"memfd", "temp file"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			var sp *spool
			var err error
			if kind == "memfd" {
				sp, err = newSpool(dir)
			} else {
				sp, err = newTempSpool(dir)
			}
			if err != nil {
				t.Fatal(err)
			}
			msg := strings.Repeat("line of the message\r\n", 10000)
			if err := sp.readFrom(strings.NewReader(msg)); err != nil {
				t.Fatal(err)
			}
			f, err := sp.seal()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := checkSealed(f); err != nil {
				t.Error(err)
			}
			if _, err := f.WriteAt([]byte("X"), 0); err == nil {
				t.Error("WriteAt on the sealed spool succeeded")
			}
			if err := f.Truncate(1); err == nil {
				t.Error("Truncate on the sealed spool succeeded")
			}
			got, err := io.ReadAll(io.NewSectionReader(f, 0, sp.size))
			if err != nil || string(got) != msg || sp.size != int64(len(msg)) {
				t.Errorf("spool holds %d bytes (%v), want %d", len(got), err, len(msg))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("spool left %d files in its directory", len(ents))
			}
		})
	}
}

func TestSpoolDiscard(t *testing.T) {
	dir := t.TempDir()
	sp, err := newTempSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(sp, "partial")
	sp.discard()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("discarded spool left %d files", len(ents))
	}
}
