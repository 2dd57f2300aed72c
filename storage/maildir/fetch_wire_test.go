package maildir

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"cote/storage"
)

// TestCachedBatchWire: CachedBatchWire of a Maildir another program
// filled parses every message, writing the rows of one piece while it
// parses the next; a new store then finds every row (nothing encoded
// again) and reads the kept encodings alone, without the structure. An
// encoding of another version gives the whole structure, encoded anew.
func TestCachedBatchWire(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{NoTextIndexer: true})
	const n = 3*parseChunk + 17
	for i := range n {
		name := fmt.Sprintf("%d.M%dP1.other", 1700000000+i, i)
		body := fmt.Sprintf("Subject: d%d\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n", i)
		if i%2 == 0 {
			body = fmt.Sprintf("Subject: d%d\nContent-Type: text/plain\n\nbody\n", i)
		}
		if err := os.WriteFile(filepath.Join(root, "new", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var calls atomic.Int64
	encode := func(version byte) func(p *storage.Part) []byte {
		return func(p *storage.Part) []byte {
			calls.Add(1)
			return fmt.Appendf([]byte{version}, "%d-%d-%d", p.Start, p.End, len(p.Children))
		}
	}
	uids := make([]uint32, n)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	fetch := func(s storage.Store, version byte) []storage.CachedResult {
		t.Helper()
		mb, err := s.Open("INBOX", true)
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		res, err := mb.(storage.CacheWireMailbox).CachedBatchWire(uids, version, encode(version))
		if err != nil || len(res) != len(uids) {
			t.Fatalf("CachedBatchWire = %d results, %v; want %d", len(res), err, len(uids))
		}
		return res
	}
	first := fetch(s, 1)
	if c := calls.Swap(0); c != n {
		t.Errorf("first FETCH encoded %d structures, want %d", c, n)
	}
	for _, r := range first {
		want := fmt.Appendf([]byte{1}, "%d-%d-%d", r.Cached.Start, r.Cached.End, len(r.Cached.Children))
		if !r.OK || r.Cached.End == 0 || !bytes.Equal(r.Cached.Wire, want) {
			t.Fatalf("first FETCH, UID %d: ok %v, %+v; want the structure and Wire %q", r.UID, r.OK, r.Cached, want)
		}
	}
	s.Close()

	s = openAt(t, root, Options{NoTextIndexer: true})
	defer s.Close()
	again := fetch(s, 1)
	if c := calls.Swap(0); c != 0 {
		t.Errorf("repeated FETCH encoded %d structures, want 0", c)
	}
	for i, r := range again {
		if !r.OK || !bytes.Equal(r.Cached.Wire, first[i].Cached.Wire) || r.Cached.End != 0 || r.Cached.Header != nil || r.Cached.Children != nil {
			t.Fatalf("repeated FETCH, UID %d: ok %v, %+v; want Wire %q alone", r.UID, r.OK, r.Cached, first[i].Cached.Wire)
		}
	}
	other := fetch(s, 2)
	if c := calls.Swap(0); c != n {
		t.Errorf("FETCH of another version encoded %d structures, want %d", c, n)
	}
	for i, r := range other {
		if !r.OK || r.Cached.End != first[i].Cached.End || len(r.Cached.Wire) == 0 || r.Cached.Wire[0] != 2 {
			t.Fatalf("FETCH of version 2, UID %d: ok %v, %+v", r.UID, r.OK, r.Cached)
		}
	}
}
