package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/storage"
)

// TestCachedBatchExpunged: a message in the caller's view whose file
// went away (another session expunged it) has no result, and the rest
// of the batch still comes back; it does not fail the whole batch.
func TestCachedBatchExpunged(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	for range 2 {
		if _, _, err := s.Append("INBOX", strings.NewReader("Subject: m\r\n\r\nbody\r\n"), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Delivered by another program: not in the index cache yet.
	if err := os.WriteFile(filepath.Join(root, "new", "1.M1P1.other"), []byte("Subject: delivered\n\nhi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mb, err := s.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	gone, _ := filepath.Glob(filepath.Join(root, "*", "1.M1P1.other*"))
	if len(gone) != 1 {
		t.Fatalf("delivered file: %v", gone)
	}
	if err := os.Remove(gone[0]); err != nil {
		t.Fatal(err)
	}
	res, err := mb.(storage.CacheBatchMailbox).CachedBatch([]uint32{1, 2, 3})
	if err != nil || len(res) != 3 {
		t.Fatalf("CachedBatch = %+v, %v; want 3 results", res, err)
	}
	if !res[0].OK || !res[1].OK || res[2].OK {
		t.Errorf("CachedBatch OK = %v %v %v, want true true false", res[0].OK, res[1].OK, res[2].OK)
	}
}
