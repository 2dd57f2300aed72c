package imap

import (
	"errors"
	"slices"
	"strings"
	"time"

	"cote/storage"
)

// searchKey is one node of a SEARCH program (RFC 3501 section 6.4.4).
type searchKey struct {
	op   string // upper-case key name; "SEQ" for a sequence set, "AND" for a list
	set  seqSet
	str  string // string argument, or header field name for HEADER
	str2 string // HEADER's value
	num  int64
	date time.Time
	sub  []*searchKey // AND, NOT (one), OR (two)
}

// maxSearchDepth bounds nesting of NOT, OR and parentheses.
const maxSearchDepth = 100

// parseSearchKeys parses "search-key *(SP search-key)" up to the end or a
// closing parenthesis.
func parseSearchKeys(p *parser, depth int) *searchKey {
	and := &searchKey{op: "AND"}
	for p.err == nil {
		and.sub = append(and.sub, parseSearchKey(p, depth))
		if p.atEnd() || p.peek() == ')' || !p.trySP() {
			break
		}
	}
	return and
}

func parseSearchKey(p *parser, depth int) *searchKey {
	if depth > maxSearchDepth {
		p.fail("search program nested too deeply")
		return nil
	}
	c := p.peek()
	if c == '(' {
		p.expect('(')
		k := parseSearchKeys(p, depth+1)
		p.expect(')')
		return k
	}
	if isDigit(c) || c == '*' {
		return &searchKey{op: "SEQ", set: p.seqSet()}
	}
	k := &searchKey{op: strings.ToUpper(p.atom())}
	switch k.op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		p.sp()
		k.str = p.astring()
	case "KEYWORD", "UNKEYWORD":
		p.sp()
		k.str = p.atom()
	case "HEADER":
		p.sp()
		k.str = p.astring()
		p.sp()
		k.str2 = p.astring()
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		p.sp()
		k.date = p.date()
	case "LARGER", "SMALLER":
		p.sp()
		k.num = int64(p.number64())
	case "UID":
		p.sp()
		k.set = p.seqSet()
	case "NOT":
		p.sp()
		k.sub = []*searchKey{parseSearchKey(p, depth+1)}
	case "OR":
		p.sp()
		a := parseSearchKey(p, depth+1)
		p.sp()
		k.sub = []*searchKey{a, parseSearchKey(p, depth+1)}
	default:
		p.fail("unknown search key %q", truncate(k.op, 20))
	}
	return k
}

// cmdSearch: SEARCH and UID SEARCH, RFC 3501 sections 6.4.4 and 6.4.8.
func (s *session) cmdSearch(c *command) error {
	p := c.p
	p.sp()
	if p.err != nil {
		return p.err
	}
	save := p.pos
	if strings.EqualFold(p.atom(), "CHARSET") {
		p.sp()
		cs := p.astring()
		if p.err == nil && !strings.EqualFold(cs, "UTF-8") && !strings.EqualFold(cs, "US-ASCII") {
			return errNo("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset.")
		}
		p.sp()
	} else {
		p.pos, p.err = save, nil
	}
	prog := parseSearchKeys(p, 0)
	p.end()
	if p.err != nil {
		return p.err
	}
	if err := s.checkSearchSets(prog, c.uid); err != nil {
		return err
	}
	var found []uint32
	for i := range s.view.msgs {
		ctx := &searchMsg{s: s, seq: uint32(i + 1), m: s.view.msgs[i]}
		ok, err := ctx.match(prog)
		if err != nil {
			return err
		}
		if ok {
			if c.uid {
				found = append(found, ctx.m.UID)
			} else {
				found = append(found, ctx.seq)
			}
		}
	}
	e := untagged().raw("SEARCH")
	for _, n := range found {
		e.sp().num(n)
	}
	s.writeEnc(e)
	return nil
}

// checkSearchSets refuses sequence numbers above EXISTS, like FETCH.
func (s *session) checkSearchSets(k *searchKey, uid bool) error {
	if k == nil {
		return nil
	}
	if k.op == "SEQ" {
		if _, err := s.view.resolve(k.set, false); err != nil {
			return err
		}
	}
	for _, sub := range k.sub {
		if err := s.checkSearchSets(sub, uid); err != nil {
			return err
		}
	}
	return nil
}

// searchMsg evaluates search keys against one message, reading and
// parsing its content only when a key needs it.
type searchMsg struct {
	s    *session
	seq  uint32
	m    storage.Message
	raw  []byte
	root *part
	read bool
	gone bool // expunged meanwhile: content keys do not match
	text *messageText
}

func (sm *searchMsg) content() error {
	if sm.read {
		return nil
	}
	sm.read = true
	raw, err := sm.s.readMessage(sm.m.UID)
	if errors.Is(err, storage.ErrNoSuchMessage) {
		sm.gone = true
		return nil
	}
	if err != nil {
		return err
	}
	sm.raw, sm.root = raw, parseMessage(raw)
	return nil
}

func (sm *searchMsg) hasFlag(f string) bool {
	return slices.ContainsFunc(sm.m.Flags, func(x string) bool { return strings.EqualFold(x, f) })
}

func (sm *searchMsg) match(k *searchKey) (bool, error) {
	switch k.op {
	case "AND":
		for _, sub := range k.sub {
			if ok, err := sm.match(sub); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	case "NOT":
		ok, err := sm.match(k.sub[0])
		return !ok, err
	case "OR":
		if ok, err := sm.match(k.sub[0]); ok || err != nil {
			return ok, err
		}
		return sm.match(k.sub[1])
	case "SEQ":
		return k.set.contains(sm.seq, sm.s.view.exists()), nil
	case "UID":
		return k.set.contains(sm.m.UID, sm.s.view.maxUID()), nil
	case "ALL":
		return true, nil
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		return sm.hasFlag(`\` + k.op), nil
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return !sm.hasFlag(`\` + k.op[2:]), nil
	case "KEYWORD":
		return sm.hasFlag(k.str), nil
	case "UNKEYWORD":
		return !sm.hasFlag(k.str), nil
	case "RECENT":
		return sm.m.Recent, nil
	case "OLD":
		return !sm.m.Recent, nil
	case "NEW":
		return sm.m.Recent && !sm.hasFlag(storage.FlagSeen), nil
	case "LARGER":
		return sm.m.Size > k.num, nil
	case "SMALLER":
		return sm.m.Size < k.num, nil
	case "BEFORE", "ON", "SINCE":
		return compareDate(k.op, dateOf(sm.m.InternalDate), k.date), nil
	}
	if err := sm.content(); err != nil || sm.gone {
		return false, err
	}
	switch k.op {
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		v, ok := sm.root.get("Date")
		if !ok {
			return false, nil
		}
		t, err := parseMessageDate(v)
		if err != nil {
			return false, nil
		}
		return compareDate(k.op[4:], dateOf(t), k.date), nil
	case "HEADER":
		return sm.headerContains(k.str, k.str2), nil
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		return sm.headerContains(k.op, k.str), nil
	case "BODY":
		return sm.messageText().bodyContains(k.str), nil
	case "TEXT":
		return sm.headerContains("", k.str) || sm.messageText().bodyContains(k.str), nil
	}
	return false, nil
}

// dateOf is t's calendar date, in t's own zone (RFC 3501 section 6.4.4:
// "disregarding time and timezone").
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func compareDate(op string, d, key time.Time) bool {
	switch op {
	case "BEFORE":
		return d.Before(key)
	case "ON":
		return d.Equal(key)
	}
	return !d.Before(key) // SINCE
}
