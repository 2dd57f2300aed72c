package imap

import (
	"bytes"
	"errors"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"cote/storage"
)

// fetchKind is a FETCH data item (RFC 9051 section 6.4.5, RFC 3501
// section 6.4.5).
type fetchKind int

const (
	fetchFlags fetchKind = iota
	fetchUID
	fetchInternalDate
	fetchSize
	fetchModSeq   // RFC 7162 section 3.1.4.1
	fetchSaveDate // RFC 8514 section 4
	fetchEnvelope
	fetchBodyStructure
	fetchBody // BODY without a section: BODYSTRUCTURE without extension data
	fetchSection
	fetchRFC822
	fetchRFC822Header
	fetchRFC822Text
	fetchBinary     // RFC 3516 section 4.2
	fetchBinarySize // RFC 3516 section 4.2
	fetchPreview    // RFC 8970 section 3
)

type fetchItem struct {
	kind fetchKind
	sec  section
	peek bool
}

// setsSeen reports items that set \Seen when fetched (RFC 9051 section
// 6.4.5).
func (it fetchItem) setsSeen() bool {
	switch it.kind {
	case fetchSection, fetchBinary:
		return !it.peek
	case fetchRFC822, fetchRFC822Text:
		return true
	}
	return false
}

// Content an item needs.
const (
	needNone      = iota // the message's metadata
	needStructure        // the MIME structure and cached header fields
	needRaw              // the message's bytes
)

func (it fetchItem) needs() int {
	switch it.kind {
	case fetchFlags, fetchUID, fetchInternalDate, fetchSize, fetchModSeq, fetchSaveDate:
		return needNone
	case fetchEnvelope, fetchBodyStructure, fetchBody:
		return needStructure
	case fetchSection:
		if it.sec.specifier == "HEADER.FIELDS" && len(it.sec.path) == 0 &&
			!slices.ContainsFunc(it.sec.fields, func(f string) bool { return !storage.CachedField(f) }) {
			return needStructure
		}
	}
	return needRaw
}

// parseFetchItems parses the macro, the item or the item list.
func parseFetchItems(p *parser) []fetchItem {
	if p.peek() == '(' {
		var items []fetchItem
		p.list(func() { items = append(items, parseFetchItem(p)...) })
		return items
	}
	return parseFetchItem(p)
}

func parseFetchItem(p *parser) []fetchItem {
	name := strings.ToUpper(p.takeWhile(func(c byte) bool {
		return isDigit(c) || c == '.' || c == '-' || (c|0x20 >= 'a' && c|0x20 <= 'z')
	}))
	if p.err != nil {
		return nil
	}
	item := func(k fetchKind) []fetchItem { return []fetchItem{{kind: k}} }
	switch name {
	case "ALL":
		return []fetchItem{{kind: fetchFlags}, {kind: fetchInternalDate}, {kind: fetchSize}, {kind: fetchEnvelope}}
	case "FAST":
		return []fetchItem{{kind: fetchFlags}, {kind: fetchInternalDate}, {kind: fetchSize}}
	case "FULL":
		return []fetchItem{{kind: fetchFlags}, {kind: fetchInternalDate}, {kind: fetchSize}, {kind: fetchEnvelope}, {kind: fetchBody}}
	case "FLAGS":
		return item(fetchFlags)
	case "UID":
		return item(fetchUID)
	case "INTERNALDATE":
		return item(fetchInternalDate)
	case "RFC822.SIZE":
		return item(fetchSize)
	case "MODSEQ":
		return item(fetchModSeq)
	case "SAVEDATE":
		return item(fetchSaveDate)
	case "ENVELOPE":
		return item(fetchEnvelope)
	case "BODYSTRUCTURE":
		return item(fetchBodyStructure)
	case "RFC822":
		return item(fetchRFC822)
	case "RFC822.HEADER":
		return item(fetchRFC822Header)
	case "RFC822.TEXT":
		return item(fetchRFC822Text)
	case "PREVIEW":
		// RFC 8970 section 3: an optional (LAZY) modifier; the preview
		// is always computed.
		if p.peek() == ' ' && p.pos+1 < len(p.b) && p.b[p.pos+1] == '(' &&
			len(p.b)-p.pos >= 7 && strings.EqualFold(string(p.b[p.pos+2:min(len(p.b), p.pos+6)]), "LAZY") {
			p.sp()
			p.list(func() {
				if !strings.EqualFold(p.atom(), "LAZY") {
					p.fail("unknown PREVIEW modifier")
				}
			})
		}
		return item(fetchPreview)
	case "BODY", "BODY.PEEK":
		if !p.tryByte('[') {
			if name == "BODY.PEEK" {
				p.fail("BODY.PEEK needs a section")
			}
			return item(fetchBody)
		}
		return []fetchItem{{kind: fetchSection, sec: p.section(), peek: name == "BODY.PEEK"}}
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		if !p.tryByte('[') {
			p.fail("%s needs a section", name)
			return nil
		}
		it := fetchItem{kind: fetchBinary, sec: p.binarySection(), peek: name == "BINARY.PEEK"}
		if name == "BINARY.SIZE" {
			it.kind = fetchBinarySize
			if it.sec.partial {
				p.fail("BINARY.SIZE takes no partial")
			}
		}
		return []fetchItem{it}
	}
	p.fail("unknown FETCH item %q", truncate(name, 20))
	return nil
}

// cmdFetch: FETCH and UID FETCH, RFC 9051 sections 6.4.5 and 6.4.9, with
// CHANGEDSINCE and VANISHED (RFC 7162 sections 3.1.4.1 and 3.2.6).
func (s *session) cmdFetch(c *command) error {
	p := c.p
	p.sp()
	set := p.seqSet()
	p.sp()
	items := parseFetchItems(p)
	var mods fetchModifiers
	if p.trySP() {
		mods = parseFetchModifiers(p)
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if mods.vanished && (!c.uid || !s.mode.qresync || !mods.hasChangedSince) {
		return errBad("VANISHED needs UID FETCH, QRESYNC enabled and CHANGEDSINCE.")
	}
	has := func(k fetchKind) bool {
		return slices.ContainsFunc(items, func(it fetchItem) bool { return it.kind == k })
	}
	if c.uid && !has(fetchUID) {
		items = append([]fetchItem{{kind: fetchUID}}, items...)
	}
	if mods.hasChangedSince && !has(fetchModSeq) {
		items = append(items, fetchItem{kind: fetchModSeq})
	}
	if has(fetchModSeq) {
		s.enableCondstore()
	}
	idx, err := s.view.resolve(set, c.uid)
	if err != nil {
		return err
	}
	if mods.vanished {
		if err := s.sendVanishedEarlier(set, mods.changedSince); err != nil {
			return err
		}
	}
	if mods.hasChangedSince {
		idx = slices.DeleteFunc(idx, func(i int) bool { return s.view.msgs[i].ModSeq <= mods.changedSince })
	}
	seen, err := s.markSeen(idx, items)
	if err != nil {
		return err
	}
	need := needNone
	for _, it := range items {
		need = max(need, it.needs())
	}
	expunged := false
	resp := &enc{b: make([]byte, 0, 4096), byRef: true} // one buffer for every response
	top := !slices.ContainsFunc(items, needsTree)
	var batch map[uint32]*msgContent
	var ahead *batchAhead
	switch {
	case need == needStructure && len(idx) <= fetchBatch:
		// One batch: there is nothing to read ahead of, and the session
		// would only wait for a goroutine (most FETCHes of a mail
		// client).
		batch = prepareBatch(s.cachedBatch(idx, items), items)
	case need == needStructure:
		ahead = s.cachedBatchAhead(idx, items)
		defer ahead.stop()
	}
	for n, i := range idx {
		m := s.view.msgs[i]
		if ahead != nil && n%fetchBatch == 0 {
			batch = ahead.next()
		}
		var mc msgContent
		if c := batch[m.UID]; c != nil {
			mc = *c
		} else if need > needNone {
			mc, err = s.fetchContent(m.UID, need, top)
			if errors.Is(err, storage.ErrNoSuchMessage) {
				expunged = true
				continue
			}
			if err != nil {
				return err
			}
		}
		resp.b = append(resp.b, "* "...) // empty: reset after each response
		if err := s.appendFetchResponse(resp, uint32(i+1), m, mc, items, seen[m.UID]); err != nil {
			return err
		}
		s.writeEnc(resp)
		// The response is written: its references to the message's
		// bytes go, and the buffer serves the next message.
		resp.reset()
		releaseMessage(mc.raw)
	}
	if expunged {
		// RFC 2180 section 4.1.2.
		return errNo("EXPUNGEISSUED", "Some of the requested messages no longer exist.")
	}
	return nil
}

// fetchBatch is how many messages' cached structures one index query
// returns.
const fetchBatch = 512

// batchAhead reads the cached structures of a FETCH's messages a batch
// ahead of the responses being written, on a goroutine of its own, and
// encodes their ENVELOPE, BODYSTRUCTURE and BODY there: the store's query
// (or, on a first FETCH, its parse of the messages) and the encoding run
// while the session writes the batch before. The store is safe for
// concurrent use; the goroutine reads only the view, which the session
// does not change during the FETCH.
type batchAhead struct {
	s     *session
	idx   []int
	items []fetchItem
	pos   int                           // end of the last batch started
	queue []chan map[uint32]*msgContent // the batches started, in order
}

// aheadBatches is how many batches are read ahead at once: their store
// queries take turns, their encoding runs in parallel.
const aheadBatches = 2

func (s *session) cachedBatchAhead(idx []int, items []fetchItem) *batchAhead {
	a := &batchAhead{s: s, idx: idx, items: items}
	for range aheadBatches {
		a.start()
	}
	return a
}

// stop waits for the goroutines: they must be done before the session
// goes on.
func (a *batchAhead) stop() {
	for _, ch := range a.queue {
		<-ch
	}
	a.queue = nil
}

func (a *batchAhead) start() {
	if a.pos >= len(a.idx) {
		return
	}
	part := a.idx[a.pos:min(a.pos+fetchBatch, len(a.idx))]
	a.pos += len(part)
	ch := make(chan map[uint32]*msgContent, 1)
	a.queue = append(a.queue, ch)
	go func() {
		var b map[uint32]*msgContent
		defer func() {
			// No session recovers a panic on this goroutine: the
			// batch is left to the session, which reads and encodes
			// its messages one by one (and recovers).
			if v := recover(); v != nil {
				a.s.log.Error("FETCH read ahead", "panic", v, "stack", string(debug.Stack()))
				b = nil
			}
			ch <- b
		}()
		b = prepareBatch(a.s.cachedBatch(part, a.items), a.items)
	}()
}

// next returns the next batch and starts reading another.
func (a *batchAhead) next() map[uint32]*msgContent {
	if len(a.queue) == 0 {
		return nil
	}
	b := <-a.queue[0]
	a.queue = a.queue[1:]
	a.start()
	return b
}

// prepareBatch builds the structure of each cached message and encodes
// the items that depend only on it, into one buffer for the batch; the
// ENVELOPE and BODYSTRUCTURE the index kept (encodeWire) are used as
// they are, and the structure is built only when another item needs it.
func prepareBatch(cached []storage.CachedResult, items []fetchItem) map[uint32]*msgContent {
	if cached == nil {
		return nil
	}
	needRoot := needsRoot(items)
	// ENVELOPE and BODY[HEADER.FIELDS] without a part number read the
	// top-level header alone: a FETCH that wants no BODY, and no
	// BODYSTRUCTURE the index did not keep, builds no other part.
	treeItem := func(kept bool) func(fetchItem) bool {
		return func(it fetchItem) bool {
			switch it.kind {
			case fetchEnvelope:
				return false
			case fetchBodyStructure:
				return !kept
			case fetchSection:
				return it.needs() == needStructure && len(it.sec.path) > 0
			}
			return it.needs() == needStructure
		}
	}
	treeKept, treeEncoded := slices.ContainsFunc(items, treeItem(true)), slices.ContainsFunc(items, treeItem(false))
	out := make(map[uint32]*msgContent, len(cached))
	mcs := make([]msgContent, len(cached))
	var e *enc // for what the index did not keep
	encode := func(fn func()) []byte {
		if e == nil {
			e = &enc{b: make([]byte, 0, 640*len(cached))}
		}
		start := len(e.b)
		fn()
		return e.b[start:len(e.b):len(e.b)]
	}
	for k := range cached {
		r := &cached[k]
		if !r.OK {
			continue
		}
		mc := &mcs[k]
		env, bs, kept := splitWire(r.Cached.Wire)
		switch {
		case kept && !needRoot:
		case kept && treeKept, !kept && treeEncoded:
			mc.root = partFromCache(&r.Cached.Part, false)
		default:
			mc.root = headerFromCache(&r.Cached.Part)
		}
		for _, it := range items {
			switch {
			case it.kind == fetchEnvelope && kept:
				mc.envelope = env
			case it.kind == fetchEnvelope:
				mc.envelope = encode(func() { writeEnvelope(e, mc.root) })
			case it.kind == fetchBodyStructure && kept:
				mc.bodyStructure = bs
			case it.kind == fetchBodyStructure:
				mc.bodyStructure = encode(func() { writeBodyStructure(e, nil, mc.root, true) })
			case it.kind == fetchBody:
				mc.body = encode(func() { writeBodyStructure(e, nil, mc.root, false) })
			}
		}
		out[r.UID] = mc
	}
	return out
}

// needsRoot reports whether items need a cached message's structure
// besides the ENVELOPE and BODYSTRUCTURE the index keeps encoded.
func needsRoot(items []fetchItem) bool {
	return slices.ContainsFunc(items, func(it fetchItem) bool {
		return it.needs() == needStructure && it.kind != fetchEnvelope && it.kind != fetchBodyStructure
	})
}

// cachedBatch reads the cached structure of the messages at idx in one
// query when the store can (storage.CacheBatchMailbox), with the
// encodings of ENVELOPE and BODYSTRUCTURE kept in the index when items
// ask for them and the store keeps them (storage.CacheEncodeMailbox);
// nil otherwise, and content then asks message by message.
func (s *session) cachedBatch(idx []int, items []fetchItem) []storage.CachedResult {
	bm, ok := s.mbox.(storage.CacheBatchMailbox)
	if !ok {
		return nil
	}
	uids := make([]uint32, len(idx))
	for k, i := range idx {
		uids[k] = s.view.msgs[i].UID
	}
	var res []storage.CachedResult
	var err error
	em, encoded := s.mbox.(storage.CacheEncodeMailbox)
	wm, wire := s.mbox.(storage.CacheWireMailbox)
	switch {
	case !slices.ContainsFunc(items, func(it fetchItem) bool {
		return it.kind == fetchEnvelope || it.kind == fetchBodyStructure
	}):
		res, err = bm.CachedBatch(uids)
	case wire && !needsRoot(items):
		// ENVELOPE and BODYSTRUCTURE alone: the kept encodings are
		// all prepareBatch uses of a record that has them.
		res, err = wm.CachedBatchWire(uids, wireVersion, encodeWire)
	case encoded:
		res, err = em.CachedBatchEncoded(uids, wireVersion, encodeWire)
	default:
		res, err = bm.CachedBatch(uids)
	}
	if err != nil {
		s.log.Warn("cached structure batch", "err", err)
		return nil
	}
	return res
}

// markSeen sets \Seen on the messages a non-PEEK body fetch reads, in a
// read-write mailbox, and returns the UIDs whose flags changed.
func (s *session) markSeen(idx []int, items []fetchItem) (map[uint32]bool, error) {
	if s.mbox.ReadOnly() || !slices.ContainsFunc(items, fetchItem.setsSeen) {
		return nil, nil
	}
	var uids []uint32
	for _, i := range idx {
		if !slices.Contains(s.view.msgs[i].Flags, storage.FlagSeen) {
			uids = append(uids, s.view.msgs[i].UID)
		}
	}
	if len(uids) == 0 {
		return nil, nil
	}
	res, err := s.mbox.Store(uids, storage.FlagsAdd, []string{storage.FlagSeen}, 0)
	if err != nil {
		return nil, err
	}
	seen := map[uint32]bool{}
	for _, m := range res.Changed {
		s.view.setFlags(m)
		seen[m.UID] = true
	}
	return seen, nil
}

// maxFetchMessage bounds a message read into memory for FETCH.
const maxFetchMessage = 1 << 30

func (s *session) readMessage(uid uint32) ([]byte, error) {
	rc, err := s.mbox.Read(uid)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The buffer is sized from the message's RFC822.SIZE, once, rather
	// than grown from 512 bytes by doubling (io.ReadAll): reading an
	// 18 KB message went from 40 KB in 17 allocations to 19 KB in 5
	// (BenchmarkFetchBodyRead). The size is only a hint.
	//
	// The buffer comes from msgBufs when FETCH gave one back
	// (releaseMessage), so that a FETCH of message after message reads
	// them all into one.
	var b []byte
	if p, ok := msgBufs.Get().(*[]byte); ok {
		b = (*p)[:0]
	}
	if seq := s.view.seqOf(uid); seq > 0 {
		b = slices.Grow(b, int(min(max(s.view.msgs[seq-1].Size, 0), maxFetchMessage))+bytes.MinRead)
	}
	lr := io.LimitedReader{R: rc, N: maxFetchMessage}
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, bytes.MinRead)
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// msgBufs holds message buffers FETCH is done with, for readMessage.
var msgBufs sync.Pool // of *[]byte

// maxPooledMessage is the largest buffer msgBufs keeps: a large message
// now and then should not pin its buffer.
const maxPooledMessage = 1 << 20

// releaseMessage gives back the buffer of a message readMessage read,
// once nothing refers to it.
func releaseMessage(raw []byte) {
	if raw == nil || cap(raw) > maxPooledMessage {
		return
	}
	raw = raw[:0]
	msgBufs.Put(&raw)
}

// msgContent is what FETCH and SEARCH know of a message's content: its
// MIME structure, and its bytes unless the structure came from the
// store's cache.
type msgContent struct {
	raw  []byte // nil when root came from storage.CacheMailbox
	root *part
	// envelope, bodyStructure and body are the items encoded in advance
	// (prepareBatch); nil when they are to be encoded from root.
	envelope, bodyStructure, body []byte
}

// content returns a message's structure from the store's cache when
// need allows it and the store has one (storage.CacheMailbox), and
// otherwise reads and parses the message.
func (s *session) content(uid uint32, need int) (msgContent, error) {
	if cm, ok := s.mbox.(storage.CacheMailbox); ok && need == needStructure {
		c, ok, err := cm.Cached(uid)
		if err != nil {
			return msgContent{}, err
		}
		if ok {
			return msgContent{root: partFromCache(&c.Part, false)}, nil
		}
	}
	raw, err := s.readMessage(uid)
	if err != nil {
		return msgContent{}, err
	}
	return msgContent{raw: raw, root: parseMessage(raw)}, nil
}

// fetchContent is content for FETCH's items. With top (no item needsTree)
// a message read whole is parsed only as far as its top-level header:
// BODY[], BODY[HEADER], BODY[TEXT] and the like are byte ranges of it.
func (s *session) fetchContent(uid uint32, need int, top bool) (msgContent, error) {
	if need != needRaw || !top {
		return s.content(uid, need)
	}
	raw, err := s.readMessage(uid)
	if err != nil {
		return msgContent{}, err
	}
	root := &part{start: 0, end: len(raw)}
	root.header, root.bodyStart = parseHeader(raw, 0, len(raw))
	return msgContent{raw: raw, root: root}, nil
}

// needsTree reports whether a FETCH item reads below a message's
// top-level header: its MIME parts, or the content type of its top.
func needsTree(it fetchItem) bool {
	switch it.kind {
	case fetchFlags, fetchUID, fetchInternalDate, fetchSize, fetchModSeq, fetchSaveDate,
		fetchEnvelope, fetchRFC822, fetchRFC822Header, fetchRFC822Text:
		return false
	case fetchSection:
		return len(it.sec.path) > 0 || it.sec.specifier == "MIME"
	}
	return true
}

// fetchResponse builds one "* n FETCH (...)" response. flagsChanged adds
// FLAGS when a fetch set \Seen and FLAGS was not asked for.
func (s *session) fetchResponse(seq uint32, m storage.Message, mc msgContent, items []fetchItem, flagsChanged bool) (*enc, error) {
	e := untagged()
	if err := s.appendFetchResponse(e, seq, m, mc, items, flagsChanged); err != nil {
		return nil, err
	}
	return e, nil
}

// appendFetchResponse is fetchResponse appending to e.
func (s *session) appendFetchResponse(e *enc, seq uint32, m storage.Message, mc msgContent, items []fetchItem, flagsChanged bool) error {
	e.num(seq).raw(" FETCH (")
	raw, root := mc.raw, mc.root
	wroteFlags, wroteModSeq := false, false
	for i, it := range items {
		if i > 0 {
			e.sp()
		}
		switch it.kind {
		case fetchFlags:
			e.raw("FLAGS ").flags(s.view.flagsOf(m))
			wroteFlags = true
		case fetchUID:
			e.raw("UID ").num(m.UID)
		case fetchInternalDate:
			e.raw("INTERNALDATE ").dateTime(m.InternalDate)
		case fetchSize:
			e.raw("RFC822.SIZE ").num64(uint64(max(m.Size, 0)))
		case fetchModSeq:
			e.raw("MODSEQ (").num64(m.ModSeq).raw(")")
			wroteModSeq = true
		case fetchSaveDate:
			e.raw("SAVEDATE ")
			if m.SaveDate.IsZero() {
				e.nil()
			} else {
				e.dateTime(m.SaveDate)
			}
		case fetchEnvelope:
			e.raw("ENVELOPE ")
			if mc.envelope != nil {
				e.b = append(e.b, mc.envelope...)
			} else {
				writeEnvelope(e, root)
			}
		case fetchBodyStructure:
			e.raw("BODYSTRUCTURE ")
			if mc.bodyStructure != nil {
				e.b = append(e.b, mc.bodyStructure...)
			} else {
				writeBodyStructure(e, raw, root, true)
			}
		case fetchBody:
			e.raw("BODY ")
			if mc.body != nil {
				e.b = append(e.b, mc.body...)
			} else {
				writeBodyStructure(e, raw, root, false)
			}
		case fetchRFC822:
			e.raw("RFC822 ").literal(raw)
		case fetchRFC822Header:
			e.raw("RFC822.HEADER ").literal(raw[:root.bodyStart])
		case fetchRFC822Text:
			e.raw("RFC822.TEXT ").literal(raw[root.bodyStart:])
		case fetchSection:
			e.raw("BODY")
			it.sec.name(e)
			e.sp()
			if b, ok := it.sec.extract(raw, root); ok {
				e.literal(b)
			} else {
				e.nil()
			}
		case fetchBinary, fetchBinarySize:
			if err := writeBinary(e, it, raw, root); err != nil {
				return err
			}
		case fetchPreview:
			e.raw("PREVIEW ")
			e.str(preview(raw, root))
		}
	}
	if flagsChanged && !wroteFlags {
		e.raw(" FLAGS ").flags(s.view.flagsOf(m))
		if s.mode.condstore && !wroteModSeq {
			e.raw(" MODSEQ (").num64(m.ModSeq).raw(")")
		}
	}
	e.close()
	return nil
}
