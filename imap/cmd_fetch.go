package imap

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"

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
	var batch map[uint32]*storage.Cached
	for n, i := range idx {
		m := s.view.msgs[i]
		if need == needStructure && n%fetchBatch == 0 {
			batch = s.cachedBatch(idx[n:min(n+fetchBatch, len(idx))])
		}
		var mc msgContent
		if c := batch[m.UID]; c != nil {
			mc = msgContent{root: partFromCache(&c.Part, false)}
		} else if need > needNone {
			mc, err = s.content(m.UID, need)
			if errors.Is(err, storage.ErrNoSuchMessage) {
				expunged = true
				continue
			}
			if err != nil {
				return err
			}
		}
		e, err := s.fetchResponse(uint32(i+1), m, mc, items, seen[m.UID])
		if err != nil {
			return err
		}
		s.writeEnc(e)
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

// cachedBatch reads the cached structure of the messages at idx in one
// query when the store can (storage.CacheBatchMailbox); nil otherwise,
// and content then asks message by message.
func (s *session) cachedBatch(idx []int) map[uint32]*storage.Cached {
	bm, ok := s.mbox.(storage.CacheBatchMailbox)
	if !ok {
		return nil
	}
	uids := make([]uint32, len(idx))
	for k, i := range idx {
		uids[k] = s.view.msgs[i].UID
	}
	res, err := bm.CachedBatch(uids)
	if err != nil {
		s.log.Warn("cached structure batch", "err", err)
		return nil
	}
	out := make(map[uint32]*storage.Cached, len(res))
	for k := range res {
		if res[k].OK {
			out[res[k].UID] = &res[k].Cached
		}
	}
	return out
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
	var buf bytes.Buffer
	if seq := s.view.seqOf(uid); seq > 0 {
		buf.Grow(int(min(max(s.view.msgs[seq-1].Size, 0), maxFetchMessage)) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(rc, maxFetchMessage))
	return buf.Bytes(), err
}

// msgContent is what FETCH and SEARCH know of a message's content: its
// MIME structure, and its bytes unless the structure came from the
// store's cache.
type msgContent struct {
	raw  []byte // nil when root came from storage.CacheMailbox
	root *part
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

// fetchResponse builds one "* n FETCH (...)" response. flagsChanged adds
// FLAGS when a fetch set \Seen and FLAGS was not asked for.
func (s *session) fetchResponse(seq uint32, m storage.Message, mc msgContent, items []fetchItem, flagsChanged bool) (*enc, error) {
	e := untagged().num(seq).raw(" FETCH (")
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
			writeEnvelope(e, root)
		case fetchBodyStructure:
			e.raw("BODYSTRUCTURE ")
			writeBodyStructure(e, raw, root, true)
		case fetchBody:
			e.raw("BODY ")
			writeBodyStructure(e, raw, root, false)
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
				return nil, err
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
	return e.close(), nil
}
