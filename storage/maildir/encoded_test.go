package maildir

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
)

// TestCachedBatchEncoded: the encodings an engine makes of the cached
// structures are kept in the index (a new store on it does not ask for
// them again), made anew for another version, and made for messages
// another program delivered (parsed on the spot) as for saved ones.
func TestCachedBatchEncoded(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	for i := range 150 {
		body := fmt.Sprintf("Subject: m%d\r\nContent-Type: text/plain\r\n\r\nbody\r\n", i)
		if _, _, err := s.Append("INBOX", strings.NewReader(body), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Delivered by another program, with bare LFs: 200 more, parsed on
	// the first FETCH with a worker per CPU.
	for i := range 200 {
		name := fmt.Sprintf("%d.M%dP1.other", 1700000000+i, i)
		body := fmt.Sprintf("Subject: d%d\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\npart\n--b--\n", i)
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
	uids := make([]uint32, 350)
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
		res, err := mb.(storage.CacheEncodeMailbox).CachedBatchEncoded(uids, version, encode(version))
		if err != nil || len(res) != len(uids) {
			t.Fatalf("CachedBatchEncoded = %d results, %v; want %d", len(res), err, len(uids))
		}
		for _, r := range res {
			want := fmt.Appendf([]byte{version}, "%d-%d-%d", r.Cached.Start, r.Cached.End, len(r.Cached.Children))
			if !r.OK || !bytes.Equal(r.Cached.Wire, want) {
				t.Fatalf("UID %d: ok %v, Wire %q; want %q", r.UID, r.OK, r.Cached.Wire, want)
			}
		}
		return res
	}
	first := fetch(s, 1)
	if n := calls.Swap(0); n != 350 {
		t.Errorf("first FETCH encoded %d structures, want 350", n)
	}
	if r := first[200]; len(r.Cached.Children) != 1 {
		t.Errorf("delivered message: %d parts, want 1 (%+v)", len(r.Cached.Children), r.Cached)
	}
	s.Close()

	s = openAt(t, root, Options{})
	defer s.Close()
	again := fetch(s, 1)
	if n := calls.Swap(0); n != 0 {
		t.Errorf("repeated FETCH encoded %d structures, want 0", n)
	}
	if !reflect.DeepEqual(again, first) {
		t.Errorf("repeated FETCH gave other results")
	}
	fetch(s, 2)
	if n := calls.Swap(0); n != 350 {
		t.Errorf("FETCH of another version encoded %d structures, want 350", n)
	}
	fetch(s, 2)
	if n := calls.Swap(0); n != 0 {
		t.Errorf("FETCH of the new version again encoded %d structures, want 0", n)
	}

	// A few messages saved since: their rows are not rewritten in a
	// FETCH of a few; the store encodes them for the caller and keeps
	// the encodings in memory only.
	for i := range 3 {
		if _, _, err := s.Append("INBOX", strings.NewReader(fmt.Sprintf("Subject: new%d\r\n\r\nx\r\n", i)), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	few := func(s storage.Store) {
		t.Helper()
		mb, err := s.Open("INBOX", true)
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		res, err := mb.(storage.CacheEncodeMailbox).CachedBatchEncoded([]uint32{349, 350, 351, 352, 353}, 2, encode(2))
		if err != nil || len(res) != 5 {
			t.Fatalf("CachedBatchEncoded = %d results, %v; want 5", len(res), err)
		}
		for _, r := range res {
			want := fmt.Appendf([]byte{2}, "%d-%d-%d", r.Cached.Start, r.Cached.End, len(r.Cached.Children))
			if !r.OK || !bytes.Equal(r.Cached.Wire, want) {
				t.Errorf("UID %d: ok %v, Wire %q; want %q", r.UID, r.OK, r.Cached.Wire, want)
			}
		}
	}
	few(s)
	if n := calls.Swap(0); n != 3 {
		t.Errorf("FETCH of 3 saved messages encoded %d structures, want 3", n)
	}
	few(s)
	if n := calls.Swap(0); n != 0 {
		t.Errorf("FETCH of them again encoded %d structures, want 0 (kept in memory)", n)
	}
	s.Close()
	s = openAt(t, root, Options{})
	defer s.Close()
	few(s)
	if n := calls.Swap(0); n != 3 {
		t.Errorf("FETCH of them in a new store encoded %d structures, want 3 (not kept in the index)", n)
	}
}

// FuzzStructureRead: the structure read for the cache from a file is
// the one of the file's bytes with CRLF line endings, as Read gives them.
func FuzzStructureRead(f *testing.F) {
	for _, s := range []string{
		"Subject: x\n\nbody\n", "Subject: x\r\n\r\nbody", "a\r\r\n\n\r", "\n", "",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\r\nContent-Type: text/plain\n\nx\n--b--\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "m")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(mailstate.CRLFReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatal(err)
		}
		var r structureReader
		for range 2 { // the second time with the buffers of the first
			c, err := r.structure(path)
			if err != nil || c == nil {
				t.Fatalf("structure(%q) = %v, %v", data, c, err)
			}
			if w := index.ParseStructure(want); !reflect.DeepEqual(c.Cached, w) {
				t.Fatalf("structure(%q) = %+v, want %+v", data, c.Cached, w)
			}
		}
		if got, err := r.read(path); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read(%q) = %q, %v; want %q", data, got, err, want)
		}
	})
}
