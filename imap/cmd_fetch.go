package imap

import (
	"errors"
	"io"
	"slices"
	"strings"

	"cote/storage"
)

// fetchKind is a FETCH data item (RFC 3501 section 6.4.5).
type fetchKind int

const (
	fetchFlags fetchKind = iota
	fetchUID
	fetchInternalDate
	fetchSize
	fetchEnvelope
	fetchBodyStructure
	fetchBody // BODY without a section: BODYSTRUCTURE without extension data
	fetchSection
	fetchRFC822
	fetchRFC822Header
	fetchRFC822Text
)

type fetchItem struct {
	kind fetchKind
	sec  section
	peek bool
}

// setsSeen reports items that set \Seen when fetched (RFC 3501 section
// 6.4.5).
func (it fetchItem) setsSeen() bool {
	switch it.kind {
	case fetchSection:
		return !it.peek
	case fetchRFC822, fetchRFC822Text:
		return true
	}
	return false
}

func (it fetchItem) needsContent() bool {
	switch it.kind {
	case fetchFlags, fetchUID, fetchInternalDate, fetchSize:
		return false
	}
	return true
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
		return isDigit(c) || c == '.' || (c|0x20 >= 'a' && c|0x20 <= 'z')
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
	case "BODY", "BODY.PEEK":
		if !p.tryByte('[') {
			if name == "BODY.PEEK" {
				p.fail("BODY.PEEK needs a section")
			}
			return item(fetchBody)
		}
		return []fetchItem{{kind: fetchSection, sec: p.section(), peek: name == "BODY.PEEK"}}
	}
	p.fail("unknown FETCH item %q", truncate(name, 20))
	return nil
}

// cmdFetch: FETCH and UID FETCH, RFC 3501 sections 6.4.5 and 6.4.8.
func (s *session) cmdFetch(c *command) error {
	p := c.p
	p.sp()
	set := p.seqSet()
	p.sp()
	items := parseFetchItems(p)
	p.end()
	if p.err != nil {
		return p.err
	}
	if c.uid && !slices.ContainsFunc(items, func(it fetchItem) bool { return it.kind == fetchUID }) {
		items = append([]fetchItem{{kind: fetchUID}}, items...)
	}
	idx, err := s.view.resolve(set, c.uid)
	if err != nil {
		return err
	}
	seen, err := s.markSeen(idx, items)
	if err != nil {
		return err
	}
	needContent := slices.ContainsFunc(items, fetchItem.needsContent)
	expunged := false
	for _, i := range idx {
		m := s.view.msgs[i]
		var raw []byte
		if needContent {
			raw, err = s.readMessage(m.UID)
			if errors.Is(err, storage.ErrNoSuchMessage) {
				expunged = true
				continue
			}
			if err != nil {
				return err
			}
		}
		s.writeEnc(fetchResponse(uint32(i+1), m, raw, items, seen[m.UID]))
	}
	if expunged {
		// RFC 2180 section 4.1.2.
		return errNo("EXPUNGEISSUED", "Some messages were expunged before they could be fetched.")
	}
	return nil
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
	return io.ReadAll(io.LimitReader(rc, maxFetchMessage))
}

// fetchResponse builds one "* n FETCH (...)" response. flagsChanged adds
// FLAGS when a fetch set \Seen and FLAGS was not asked for.
func fetchResponse(seq uint32, m storage.Message, raw []byte, items []fetchItem, flagsChanged bool) *enc {
	e := untagged().num(seq).raw(" FETCH (")
	var root *part
	if raw != nil {
		root = parseMessage(raw)
	}
	wroteFlags := false
	for i, it := range items {
		if i > 0 {
			e.sp()
		}
		switch it.kind {
		case fetchFlags:
			e.raw("FLAGS ").flags(sessionFlags(m))
			wroteFlags = true
		case fetchUID:
			e.raw("UID ").num(m.UID)
		case fetchInternalDate:
			e.raw("INTERNALDATE ").dateTime(m.InternalDate)
		case fetchSize:
			e.raw("RFC822.SIZE ").num64(uint64(max(m.Size, 0)))
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
		}
	}
	if flagsChanged && !wroteFlags {
		e.raw(" FLAGS ").flags(sessionFlags(m))
	}
	return e.close()
}
