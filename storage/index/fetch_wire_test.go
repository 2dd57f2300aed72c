package index

import (
	"bytes"
	"reflect"
	"testing"

	"cote/storage"
)

// TestCachedRangeWire: the rows whose encoding is of the version asked
// for give the encoding alone; rows of another version, without one,
// or of version 1 give their whole record, as CachedRange does.
func TestCachedRangeWire(t *testing.T) {
	d := openTestDB(t)
	box := testBox(t, d)
	for uid := uint32(1); uid <= 40; uid++ {
		addTestMsg(t, d, box, uid)
	}
	cs := make(map[uint32]Content)
	for uid := uint32(1); uid <= 40; uid++ {
		c := ParseStructure([]byte(mimeSeeds[int(uid)%len(mimeSeeds)]))
		switch uid % 3 {
		case 0:
			c.Wire = []byte{1, 'e', byte(uid)}
		case 1:
			c.Wire = []byte{2, 'e', byte(uid)}
		}
		cs[uid] = Content{Cached: c, TextLater: true}
	}
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutContents(box, cs); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	full := map[uint32]storage.Cached{}
	if err := d.CachedRange(box, 1, 40, func(uid uint32, c storage.Cached) { full[uid] = c }); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = d.CachedRangeWire(box, 1, 40, 1, func(uid uint32, c storage.Cached) {
		n++
		want := full[uid]
		if uid%3 == 0 {
			want = storage.Cached{Wire: want.Wire}
		}
		if !bytes.Equal(c.Wire, want.Wire) || !reflect.DeepEqual(normalize(c.Part), normalize(want.Part)) {
			t.Errorf("CachedRangeWire: UID %d = %+v, want %+v", uid, c, want)
		}
	})
	if err != nil || n != 40 {
		t.Errorf("CachedRangeWire gave %d rows, %v; want 40", n, err)
	}
}

// FuzzCachedWire: cachedWire finds the encoding decodeCached finds, in
// records of every shape, and nothing in a record of an older version
// that does not decode (of a current one it reads only the encoding,
// which comes first).
func FuzzCachedWire(f *testing.F) {
	for _, s := range mimeSeeds {
		c := ParseStructure([]byte(s))
		f.Add(encodeCached(c))
		c.Wire = []byte("\x01(envelope)(bodystructure)")
		f.Add(encodeCached(c))
	}
	f.Add([]byte("C\x02"))
	f.Add([]byte("C\x03\x02\x01x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, ok := cachedWire(data)
		c, err := decodeCached(data)
		switch {
		case ok && err != nil && data[1] == cacheVersion:
			d := decoder{b: data[2:]}
			if got := d.wire(); d.err != nil || !bytes.Equal(got, w) {
				t.Fatalf("cachedWire = %q, the record's first encoding %q (%v)", w, got, d.err)
			}
		case ok && err != nil:
			t.Fatalf("cachedWire = %q, but the record does not decode: %v", w, err)
		case ok && !bytes.Equal(w, c.Wire):
			t.Fatalf("cachedWire = %q, decodeCached's Wire %q", w, c.Wire)
		case !ok && err == nil && len(c.Wire) > 0 && data[1] == cacheVersion:
			t.Fatalf("cachedWire found no Wire, decodeCached %q", c.Wire)
		}
	})
}
