package maildir

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/internal/mailstate"
)

// TestMemCacheBounds: the cache keeps what was put last within its
// bytes, evicts the oldest first, tells a UIDVALIDITY apart, serves a
// request of the encoding alone from an entry holding only it (and a
// request of the structure not), and its queue does not grow with keys
// put again or forgotten.
func TestMemCacheBounds(t *testing.T) {
	b := &mailstate.Box{Name: "INBOX", UIDValidity: 7, Ext: &mbox{}}
	var mc memCache
	hdr := bytes.Repeat([]byte("x"), 4000)
	entry := func(uid uint32) storage.Cached {
		return storage.Cached{Part: storage.Part{End: int64(uid), Header: hdr}, Wire: []byte{1, byte(uid)}}
	}
	n := uint32(3 * memCacheBytes / 4000)
	for uid := uint32(1); uid <= n; uid++ {
		mc.put(b, uid, entry(uid), false)
		if mc.bytes > memCacheBytes {
			t.Fatalf("after %d puts the cache holds %d bytes, over %d", uid, mc.bytes, memCacheBytes)
		}
	}
	if _, ok := mc.get(b, 1, false, false, 1); ok {
		t.Error("the first entry is still there after three times the cache's bytes")
	}
	c, ok := mc.get(b, n, false, false, 1)
	if !ok || c.End != int64(n) {
		t.Errorf("last entry: %+v, %v", c.Part.End, ok)
	}
	kept := len(mc.m)
	if kept < memCacheBytes/5000 {
		t.Errorf("the cache keeps %d entries of about 4 KB, want most of %d", kept, memCacheBytes/4000)
	}

	other := &mailstate.Box{Name: "INBOX", UIDValidity: 8, Ext: b.Ext}
	if _, ok := mc.get(other, n, false, false, 1); ok {
		t.Error("an entry served a mailbox of another UIDVALIDITY")
	}

	// An entry of the encoding alone.
	mc.put(b, n+1, storage.Cached{Wire: []byte{1, 9}}, true)
	if _, ok := mc.get(b, n+1, true, false, 1); !ok {
		t.Error("the encoding alone did not serve a request of it")
	}
	if _, ok := mc.get(b, n+1, false, false, 1); ok {
		t.Error("the encoding alone served a request of the structure")
	}
	if _, ok := mc.get(b, n+1, true, false, 2); ok {
		t.Error("an encoding of version 1 served a request of version 2")
	}
	// needWire: a structure without this version's encoding is not enough.
	mc.put(b, n+2, storage.Cached{Part: storage.Part{End: 5}}, false)
	if _, ok := mc.get(b, n+2, false, true, 1); ok {
		t.Error("an entry without an encoding served a request that needs one")
	}
	// The encoding put later joins the structure.
	mc.put(b, n+2, storage.Cached{Wire: []byte{1, 7}}, true)
	if c, ok := mc.get(b, n+2, false, true, 1); !ok || c.End != 5 || !bytes.Equal(c.Wire, []byte{1, 7}) {
		t.Errorf("structure and encoding: %+v, %v", c, ok)
	}

	mc.forget(b, n)
	if _, ok := mc.get(b, n, false, false, 1); ok {
		t.Error("a forgotten entry is still served")
	}

	// Putting the same few keys again and again, and forgetting them,
	// leaves the queue about as long as the cache.
	for i := range 100000 {
		uid := uint32(1000000 + i%10)
		mc.put(b, uid, storage.Cached{Part: storage.Part{End: 1}}, false)
		if i%3 == 0 {
			mc.forget(b, uid)
		}
	}
	if q := len(mc.fifo) - mc.head; q > 2*len(mc.m)+65 {
		t.Errorf("queue of %d slots for %d entries", q, len(mc.m))
	}
	sum := 0
	for _, e := range mc.m {
		sum += e.cost
	}
	if sum != mc.bytes {
		t.Errorf("entries cost %d, the cache counts %d", sum, mc.bytes)
	}
}

// TestMemCacheFetch: a FETCH of messages just saved is answered from
// memory, with the structure the index has for them, and after an
// expunge of one its entry is gone.
func TestMemCacheFetch(t *testing.T) {
	s := openAt(t, t.TempDir(), Options{})
	defer s.Close()
	for i := range 5 {
		body := fmt.Sprintf("Subject: m%d\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n", i)
		if _, _, err := s.Append("INBOX", strings.NewReader(body), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st := s
	if n := len(st.s.mem.m); n != 5 {
		t.Fatalf("the cache holds %d entries after 5 saves, want 5", n)
	}
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	uids := []uint32{1, 2, 3, 4, 5}
	fromMem, err := mb.(storage.CacheBatchMailbox).CachedBatch(uids)
	if err != nil {
		t.Fatal(err)
	}
	// The same from the index alone.
	st.s.mem = memCache{}
	fromIndex, err := mb.(storage.CacheBatchMailbox).CachedBatch(uids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uids {
		a, b := fromMem[i], fromIndex[i]
		if !a.OK || !b.OK || a.Cached.End != b.Cached.End || !bytes.Equal(a.Cached.Header, b.Cached.Header) ||
			len(a.Cached.Children) != 1 || len(b.Cached.Children) != 1 {
			t.Errorf("UID %d: memory %+v, index %+v", uids[i], a, b)
		}
	}
	if n := len(st.s.mem.m); n != 5 {
		t.Errorf("a FETCH of 5 left %d entries, want 5", n)
	}
	if _, err := mb.Store([]uint32{2}, storage.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Expunge(nil); err != nil {
		t.Fatal(err)
	}
	if n := len(st.s.mem.m); n != 4 {
		t.Errorf("after an expunge the cache holds %d entries, want 4", n)
	}
}
