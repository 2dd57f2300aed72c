package maildir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cote/storage"
)

// TestCachedBatch: CachedBatch gives what Cached gives, one result per
// UID of the snapshot (ascending, duplicates and unknown UIDs dropped),
// and parses messages another program delivered.
func TestCachedBatch(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	for i := range 3 {
		body := "Subject: m" + strings.Repeat("x", i) + "\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
		if _, _, err := s.Append("INBOX", strings.NewReader(body), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "new", "1.M1P1.other"), []byte("Subject: delivered\n\nhi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mb, err := s.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	res, err := mb.(storage.CacheBatchMailbox).CachedBatch([]uint32{4, 2, 1, 2, 99, 3})
	if err != nil || len(res) != 4 {
		t.Fatalf("CachedBatch = %d results, %v; want 4", len(res), err)
	}
	for i, r := range res {
		if r.UID != uint32(i+1) || !r.OK {
			t.Errorf("result %d = UID %d, ok %v", i, r.UID, r.OK)
		}
		c, ok, err := mb.(storage.CacheMailbox).Cached(r.UID)
		if err != nil || !ok || !reflect.DeepEqual(c, r.Cached) {
			t.Errorf("Cached(%d) = %+v, %v, %v; CachedBatch gave %+v", r.UID, c, ok, err, r.Cached)
		}
	}
}
