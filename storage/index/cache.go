package index

import (
	"cmp"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"cote/storage"
)

// The cache row is a small binary encoding of storage.Cached:
//
//	'C' 3                      magic and version
//	uvarint len(wire) wire     the engine's encoding (empty: none)
//	part:
//	  uvarint start, bodyStart-start, end-bodyStart, lines
//	  uvarint len(header) header
//	  uvarint len(children) part...
//	  byte 0|1 [part]          encapsulated message
//
// The encoding comes first so that a FETCH that needs only it
// (cachedWire) does not walk the parts. Rows written before are still
// read: version 1 (the part alone) and version 2 (the part, then the
// encoding).
const cacheVersion = 3

var errCache = errors.New("malformed cache record")

// encodeCached encodes c.
func encodeCached(c storage.Cached) []byte {
	out := make([]byte, 0, 64+len(c.Header)+len(c.Wire))
	out = append(out, 'C', cacheVersion)
	out = binary.AppendUvarint(out, uint64(len(c.Wire)))
	out = append(out, c.Wire...)
	return appendPart(out, &c.Part)
}

func appendPart(b []byte, p *storage.Part) []byte {
	b = binary.AppendUvarint(b, uint64(p.Start))
	b = binary.AppendUvarint(b, uint64(p.BodyStart-p.Start))
	b = binary.AppendUvarint(b, uint64(p.End-p.BodyStart))
	b = binary.AppendUvarint(b, uint64(p.Lines))
	b = binary.AppendUvarint(b, uint64(len(p.Header)))
	b = append(b, p.Header...)
	b = binary.AppendUvarint(b, uint64(len(p.Children)))
	for i := range p.Children {
		b = appendPart(b, &p.Children[i])
	}
	if p.Message == nil {
		return append(b, 0)
	}
	return appendPart(append(b, 1), p.Message)
}

// decodeCached decodes a cache record; it never panics on bad input.
func decodeCached(data []byte) (storage.Cached, error) {
	if len(data) < 2 || data[0] != 'C' || data[1] < 1 || data[1] > cacheVersion {
		return storage.Cached{}, fmt.Errorf("%w: bad magic", errCache)
	}
	d := decoder{b: data[2:]}
	var c storage.Cached
	if data[1] == 3 {
		c.Wire = d.wire()
	}
	c.Part = d.part(0)
	if data[1] == 2 {
		c.Wire = d.wire()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: trailing bytes", errCache)
	}
	return c, d.err
}

// wire reads a length and the encoding of that length (nil when empty).
func (d *decoder) wire() []byte {
	n := d.uv()
	if d.err == nil && n > int64(len(d.b)) {
		d.err = fmt.Errorf("%w: bad wire length", errCache)
	}
	if d.err != nil || n == 0 {
		return nil
	}
	w := d.b[:n:n]
	d.b = d.b[n:]
	return w
}

// cachedWire returns the Wire of a cache record without decoding its
// parts (no allocation); ok is false for a record without one, or whose
// encoding does not decode. Of a current record only the encoding is
// looked at: a damaged part after it is found by what decodes the parts.
func cachedWire(data []byte) (wire []byte, ok bool) {
	if len(data) < 2 || data[0] != 'C' {
		return nil, false
	}
	d := decoder{b: data[2:]}
	switch data[1] {
	case 3:
		w := d.wire()
		return w, d.err == nil && len(w) > 0
	case 2:
		d.skipPart(0)
		w := d.wire()
		return w, d.err == nil && len(w) > 0 && len(d.b) == 0
	}
	return nil, false
}

// skipPart is part without keeping anything.
func (d *decoder) skipPart(depth int) {
	d.parts++
	if depth > maxMIMEDepth+1 || d.parts > maxMIMEParts+1 {
		d.err = fmt.Errorf("%w: too deep", errCache)
		return
	}
	for range 4 {
		d.uv()
	}
	n := d.uv()
	if d.err != nil || n > int64(len(d.b)) {
		d.err = fmt.Errorf("%w: bad header length", errCache)
		return
	}
	d.b = d.b[n:]
	nc := d.uv()
	if d.err != nil || nc > int64(len(d.b)) {
		d.err = fmt.Errorf("%w: bad part count", errCache)
		return
	}
	for i := int64(0); i < nc && d.err == nil; i++ {
		d.skipPart(depth + 1)
	}
	if d.err != nil || len(d.b) == 0 {
		d.err = fmt.Errorf("%w: truncated", errCache)
		return
	}
	hasMsg := d.b[0]
	d.b = d.b[1:]
	switch hasMsg {
	case 0:
	case 1:
		d.skipPart(depth + 1)
	default:
		d.err = fmt.Errorf("%w: bad message marker", errCache)
	}
}

type decoder struct {
	b     []byte
	err   error
	parts int
}

const maxInt = int64(^uint64(0) >> 2)

func (d *decoder) uv() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(maxInt) {
		d.err = fmt.Errorf("%w: bad number", errCache)
		return 0
	}
	d.b = d.b[n:]
	return int64(v)
}

func (d *decoder) part(depth int) storage.Part {
	var p storage.Part
	d.parts++
	if depth > maxMIMEDepth+1 || d.parts > maxMIMEParts+1 {
		d.err = fmt.Errorf("%w: too deep", errCache)
		return p
	}
	p.Start = d.uv()
	p.BodyStart = p.Start + d.uv()
	p.End = p.BodyStart + d.uv()
	p.Lines = d.uv()
	n := d.uv()
	if d.err != nil || n > int64(len(d.b)) {
		d.err = fmt.Errorf("%w: bad header length", errCache)
		return p
	}
	if n > 0 {
		p.Header = d.b[:n:n]
	}
	d.b = d.b[n:]
	nc := d.uv()
	if d.err != nil || nc > int64(len(d.b)) {
		d.err = fmt.Errorf("%w: bad part count", errCache)
		return p
	}
	if nc > 0 {
		p.Children = make([]storage.Part, 0, min(nc, 64))
	}
	for i := int64(0); i < nc && d.err == nil; i++ {
		p.Children = append(p.Children, d.part(depth+1))
	}
	if d.err != nil || len(d.b) == 0 {
		d.err = fmt.Errorf("%w: truncated", errCache)
		return p
	}
	hasMsg := d.b[0]
	d.b = d.b[1:]
	switch hasMsg {
	case 0:
	case 1:
		m := d.part(depth + 1)
		p.Message = &m
	default:
		d.err = fmt.Errorf("%w: bad message marker", errCache)
	}
	return p
}

// Cached returns the cached structure of a message; ok is false when
// there is none.
func (d *DB) Cached(box int64, uid uint32) (storage.Cached, bool, error) {
	var data []byte
	err := d.db.QueryRow(`SELECT c.data FROM cache c JOIN messages m ON m.id = c.msg
		WHERE m.mailbox = ? AND m.uid = ?`, box, uid).Scan(&data)
	if err == sql.ErrNoRows {
		return storage.Cached{}, false, nil
	}
	if err != nil {
		return storage.Cached{}, false, Err(err)
	}
	c, err := decodeCached(data)
	if err != nil {
		return storage.Cached{}, false, nil // treated as missing; it is rewritten
	}
	return c, true, nil
}

// Content is what the index keeps of a message's content: its
// structure and its text for the full-text index. Text is nil when the
// message could not be indexed.
type Content struct {
	Cached storage.Cached
	Text   *Text
	// Words are Text prepared for the index (PrepareText), nil when
	// they are still to be made or Text is nil; WordsOK is PrepareText's
	// ok.
	Words   *Words
	WordsOK bool
	// TextLater leaves the message out of the full-text index for now:
	// texts are indexed in batches in the background (FTS5 writes a
	// segment per transaction).
	TextLater bool
	// NoCache leaves the cache record as it is (the background
	// indexer adds only the text).
	NoCache bool
}

// words returns c's prepared words, nil when the message cannot be
// indexed.
func (c *Content) words() *Words {
	if c.Text == nil {
		return nil
	}
	if c.Words == nil {
		w, ok := PrepareText(*c.Text)
		c.Words, c.WordsOK = &w, ok
	}
	if !c.WordsOK {
		return nil
	}
	return c.Words
}

// PutContent stores a message's cache record and text.
func (t *Tx) PutContent(box int64, uid uint32, c Content) error {
	return t.PutContents(box, map[uint32]Content{uid: c})
}

// CachedRange calls fn, in UID order, for each message of the mailbox
// with a UID from lo to hi that has a cache record, reading them all with
// one query. A record that does not decode is skipped (treated as
// missing). fn must not use the DB.
func (d *DB) CachedRange(box int64, lo, hi uint32, fn func(uid uint32, c storage.Cached)) error {
	return d.cachedRange(box, lo, hi, 0, fn)
}

// CachedRangeWire is CachedRange for a caller that needs only the
// engine's encoding of this version (version is not 0): a record
// whose Wire starts with it gives a Cached with Wire alone, and only
// the encoding is copied; the others are decoded whole.
func (d *DB) CachedRangeWire(box int64, lo, hi uint32, version byte, fn func(uid uint32, c storage.Cached)) error {
	return d.cachedRange(box, lo, hi, version, fn)
}

func (d *DB) cachedRange(box int64, lo, hi uint32, version byte, fn func(uid uint32, c storage.Cached)) error {
	args := []driver.NamedValue{{Ordinal: 1, Value: box}, {Ordinal: 2, Value: int64(lo)}, {Ordinal: 3, Value: int64(hi)}}
	err := d.queryRows(`SELECT m.uid, c.data FROM messages m JOIN cache c ON c.msg = m.id
		WHERE m.mailbox = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`, args, 2, func(v []driver.Value) error {
		// The driver gives each row's record in memory of its own
		// (TestCachedRangeKeepsRecords), which the results keep: no
		// copy of it.
		uid, ok1 := v[0].(int64)
		rec, ok2 := v[1].([]byte)
		if !ok1 || !ok2 || uid < 0 || uid > math.MaxUint32 {
			return fmt.Errorf("%w: a cache row of %T and %T", errCache, v[0], v[1])
		}
		if version != 0 {
			if w, ok := cachedWire(rec); ok && w[0] == version {
				fn(uint32(uid), storage.Cached{Wire: w})
				return nil
			}
		}
		c, err := decodeCached(rec)
		if err != nil {
			return nil // skipped: treated as missing
		}
		fn(uint32(uid), c)
		return nil
	})
	return Err(err)
}

// Uncached returns the UIDs of a mailbox's messages without a cache
// record, ascending.
func (d *DB) Uncached(box int64) ([]uint32, error) {
	rows, err := d.db.Query(`SELECT m.uid FROM messages m WHERE m.mailbox = ?
		AND NOT EXISTS (SELECT 1 FROM cache c WHERE c.msg = m.id) ORDER BY m.uid`, box)
	if err != nil {
		return nil, Err(err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var uid uint32
		if err := rows.Scan(&uid); err != nil {
			return nil, Err(err)
		}
		out = append(out, uid)
	}
	return out, Err(rows.Err())
}

// ftsChunk bounds the rows of one multi-row INSERT into the full-text
// index (3 parameters each, well under SQLite's limit): more than a
// batch of the indexer or of a search (maildir's textBatch and
// syncTextMax), so that each batch makes one FTS5 segment, and fewer
// segments are fewer merges. termChunk bounds the rows of one INSERT
// into the vocabulary.
const (
	ftsChunk  = 1024
	termChunk = 500
)

// PutContents stores the cache records and texts of several messages.
// The texts go into the full-text index with one INSERT statement per
// ftsChunk messages, in rowid order: FTS5 writes its pending terms out
// as a new segment at every statement's savepoint and whenever a rowid
// is lower than the one before. Their words join the vocabulary.
func (t *Tx) PutContents(box int64, cs map[uint32]Content) error {
	type row struct {
		id int64
		w  *Words
	}
	var rows []row
	terms := make(map[string]bool)
	ids, err := t.messageIDs(box, cs)
	if err != nil {
		return err
	}
	if err := t.putCacheRows(ids, cs); err != nil {
		return err
	}
	for uid, c := range cs {
		m, ok := ids[uid]
		if !ok {
			continue
		}
		id, fts := m.id, m.indexed
		if c.TextLater {
			continue
		}
		if fts == 1 {
			if _, err := t.tx.Exec(`DELETE FROM fts WHERE rowid = ?`, id); err != nil {
				return Err(err)
			}
		}
		state := 2
		if w := c.words(); w != nil {
			state = 1
			rows = append(rows, row{id, w})
			for _, term := range w.Terms {
				terms[term] = true
			}
		}
		if _, err := t.tx.Exec(`UPDATE messages SET indexed = ? WHERE id = ?`, state, id); err != nil {
			return Err(err)
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	for len(rows) > 0 {
		n := min(len(rows), ftsChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO fts (rowid, hdr, body) VALUES `)
		args := make([]any, 0, 3*n)
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, r.id, r.w.Hdr, r.w.Body)
		}
		if _, err := t.tx.Exec(q.String(), args...); err != nil {
			return Err(err)
		}
		rows = rows[n:]
	}
	return t.addTerms(terms)
}

// addTerms adds words to the vocabulary.
func (t *Tx) addTerms(terms map[string]bool) error {
	list := make([]any, 0, len(terms))
	for w := range terms {
		list = append(list, w)
	}
	for len(list) > 0 {
		n := min(len(list), termChunk)
		q := `INSERT OR IGNORE INTO terms (term) VALUES (?)` + strings.Repeat(",(?)", n-1)
		if _, err := t.tx.Exec(q, list[:n]...); err != nil {
			return Err(err)
		}
		list = list[n:]
	}
	return nil
}

// msgID is a message's row id and its full-text state.
type msgID struct {
	id      int64
	indexed int
}

// messageIDs returns the row ids of the messages of cs that are in the
// mailbox: with one query over their UID range when they are dense
// enough in it (a batch of FETCH or of a rebuild), one query each
// otherwise.
func (t *Tx) messageIDs(box int64, cs map[uint32]Content) (map[uint32]msgID, error) {
	out := make(map[uint32]msgID, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	lo, hi := ^uint32(0), uint32(0)
	for uid := range cs {
		lo, hi = min(lo, uid), max(hi, uid)
	}
	if len(cs) == 1 || uint64(hi-lo) > 4*uint64(len(cs)) {
		for uid := range cs {
			var m msgID
			err := t.tx.QueryRow(`SELECT id, indexed FROM messages WHERE mailbox = ? AND uid = ?`, box, uid).Scan(&m.id, &m.indexed)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return nil, Err(err)
			}
			out[uid] = m
		}
		return out, nil
	}
	rows, err := t.tx.Query(`SELECT uid, id, indexed FROM messages WHERE mailbox = ? AND uid BETWEEN ? AND ?`, box, lo, hi)
	if err != nil {
		return nil, Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid uint32
		var m msgID
		if err := rows.Scan(&uid, &m.id, &m.indexed); err != nil {
			return nil, Err(err)
		}
		if _, ok := cs[uid]; ok {
			out[uid] = m
		}
	}
	return out, Err(rows.Err())
}

// cacheChunk bounds the rows of one multi-row INSERT into the cache.
const cacheChunk = 200

// putCacheRows writes the cache records of cs (those without NoCache)
// for the messages in ids, cacheChunk rows per statement.
func (t *Tx) putCacheRows(ids map[uint32]msgID, cs map[uint32]Content) error {
	args := make([]any, 0, 2*min(len(cs), cacheChunk))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		q := `INSERT OR REPLACE INTO cache (msg, data) VALUES (?, ?)` + strings.Repeat(",(?, ?)", len(args)/2-1)
		_, err := t.tx.Exec(q, args...)
		args = args[:0]
		return Err(err)
	}
	uids := make([]uint32, 0, len(cs))
	for uid := range cs {
		uids = append(uids, uid)
	}
	slices.Sort(uids) // rows in id order: fewer b-tree pages touched
	for _, uid := range uids {
		m, ok := ids[uid]
		c := cs[uid]
		if !ok || c.NoCache {
			continue
		}
		args = append(args, m.id, encodeCached(c.Cached))
		if len(args) == 2*cacheChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
