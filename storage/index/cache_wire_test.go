package index

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cote/storage"
)

// TestCachedWire: a cache record keeps the engine's encoding beside the
// structure, and records written before (version 1, without one;
// version 2, with it after the parts) still read.
func TestCachedWire(t *testing.T) {
	for _, s := range mimeSeeds {
		c := ParseStructure([]byte(s))
		c.Wire = []byte("\x01(envelope)(bodystructure)")
		rec := encodeCached(c)
		d, err := decodeCached(rec)
		if err != nil || !bytes.Equal(d.Wire, c.Wire) || !reflect.DeepEqual(normalize(d.Part), normalize(c.Part)) {
			t.Errorf("decode(encode(%.20q with Wire)) = %+v, %v", s, d, err)
		}
		if w, ok := cachedWire(rec); !ok || !bytes.Equal(w, c.Wire) {
			t.Errorf("cachedWire(encode(%.20q)) = %q, %v", s, w, ok)
		}
		parts := appendPart(nil, &c.Part)
		v2 := append(append([]byte{'C', 2}, parts...), byte(len(c.Wire)))
		v2 = append(v2, c.Wire...)
		d, err = decodeCached(v2)
		if err != nil || !bytes.Equal(d.Wire, c.Wire) || !reflect.DeepEqual(normalize(d.Part), normalize(c.Part)) {
			t.Errorf("decode(version 2 of %.20q) = %+v, %v", s, d, err)
		}
		if w, ok := cachedWire(v2); !ok || !bytes.Equal(w, c.Wire) {
			t.Errorf("cachedWire(version 2 of %.20q) = %q, %v", s, w, ok)
		}
		v1 := append([]byte{'C', 1}, parts...)
		d, err = decodeCached(v1)
		if err != nil || d.Wire != nil || !reflect.DeepEqual(normalize(d.Part), normalize(c.Part)) {
			t.Errorf("decode(version 1 of %.20q) = %+v, %v", s, d, err)
		}
		if w, ok := cachedWire(v1); ok {
			t.Errorf("cachedWire(version 1 of %.20q) = %q, want none", s, w)
		}
	}
	if _, err := decodeCached(append(encodeCached(storage.Cached{}), 'x')); err == nil {
		t.Errorf("decode with a trailing byte: no error")
	}
}

// TestPutContentsBatch: the cache records of a batch (written with one
// query for the message ids and multi-row inserts) are those of each
// message, for a dense batch and for a sparse one.
func TestPutContentsBatch(t *testing.T) {
	d := openTestDB(t)
	box := testBox(t, d)
	for uid := uint32(1); uid <= 600; uid++ {
		addTestMsg(t, d, box, uid)
	}
	for _, uids := range [][]uint32{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {20, 300, 599}, rangeUIDs(100, 550)} {
		cs := make(map[uint32]Content, len(uids))
		for _, uid := range uids {
			c := ParseStructure([]byte(mimeSeeds[int(uid)%len(mimeSeeds)]))
			c.Wire = []byte{1, byte(uid)}
			cs[uid] = Content{Cached: c, TextLater: true}
		}
		cs[601] = Content{Cached: ParseStructure([]byte("x"))} // not in the mailbox: left out
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
		for _, uid := range uids {
			got, ok, err := d.Cached(box, uid)
			if err != nil || !ok || !bytes.Equal(got.Wire, cs[uid].Cached.Wire) || got.End != cs[uid].Cached.End {
				t.Errorf("Cached(%d) = %+v, %v, %v; want %+v", uid, got, ok, err, cs[uid].Cached)
			}
		}
		if _, ok, err := d.Cached(box, 601); ok || err != nil {
			t.Errorf("Cached(601) = %v, %v; want no record for a message not in the mailbox", ok, err)
		}
	}
}

func rangeUIDs(lo, hi uint32) []uint32 {
	var out []uint32
	for u := lo; u <= hi; u++ {
		out = append(out, u)
	}
	return out
}

func openTestDB(t *testing.T) *DB {
	t.Helper()
	d, _, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testBox(t *testing.T, d *DB) int64 {
	t.Helper()
	box := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 1001, ModSeq: 1}
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutBox(&box); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return box.ID
}

func addTestMsg(t *testing.T, d *DB, box int64, uid uint32) {
	t.Helper()
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	if err := tx.PutMsg(box, Msg{UID: uid, File: fmt.Sprintf("%d.M1P1.host:2,", uid), ModSeq: 1, InternalDate: now, SaveDate: now, Size: 10}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestCachedRangeKeepsRecords: what CachedRange and CachedRangeWire give
// for each message stays that message's after the rows that follow are
// read (the results keep the driver's memory of each row, uncopied), for
// records whose encoding is given alone and for records decoded whole.
func TestCachedRangeKeepsRecords(t *testing.T) {
	d := openTestDB(t)
	box := testBox(t, d)
	const n = 600
	want := make(map[uint32]Content, n)
	for uid := uint32(1); uid <= n; uid++ {
		addTestMsg(t, d, box, uid)
		raw := fmt.Sprintf("Subject: message %d of the range\r\nX-Pad: %s\r\n\r\nbody\r\n", uid, strings.Repeat("p", int(uid)))
		c := ParseStructure([]byte(raw))
		if uid%3 != 0 { // every third keeps no encoding of version 1
			c.Wire = fmt.Appendf(nil, "\x01encoding of %d %s", uid, strings.Repeat("w", int(uid%200)))
		}
		want[uid] = Content{Cached: c, TextLater: true}
	}
	tx, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutContents(box, want); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, version := range []byte{0, 1} {
		got := make(map[uint32]storage.Cached, n)
		err := d.cachedRange(box, 1, n, version, func(uid uint32, c storage.Cached) { got[uid] = c })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("version %d: %d records, want %d", version, len(got), n)
		}
		for uid, c := range got {
			w := want[uid].Cached
			if !bytes.Equal(c.Wire, w.Wire) {
				t.Errorf("version %d, UID %d: Wire %.30q, want %.30q", version, uid, c.Wire, w.Wire)
			}
			if (version == 0 || w.Wire == nil) && (!bytes.Equal(c.Header, w.Header) || c.End != w.End) {
				t.Errorf("version %d, UID %d: header %.40q (end %d), want %.40q (end %d)", version, uid, c.Header, c.End, w.Header, w.End)
			}
		}
	}
}
