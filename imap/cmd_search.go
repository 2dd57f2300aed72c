package imap

import (
	"errors"
	"slices"
	"strings"
	"time"

	"cote/storage"
)

// searchKey is one node of a SEARCH program (RFC 9051 section 6.4.4).
type searchKey struct {
	op     string // upper-case key name; "SEQ" for a sequence set, "AND" for a list
	set    seqSet
	str    string // string argument, or header field name for HEADER
	str2   string // HEADER's value
	num    int64
	modseq uint64
	date   time.Time
	sub    []*searchKey // AND, NOT (one), OR (two)

	// fts holds the candidates of a BODY or TEXT key from the store's
	// text index (storage.TextSearchMailbox); ftsExact says they are
	// exactly the matches. nil: no index, scan.
	fts      map[uint32]bool
	ftsExact bool
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
	if isDigit(c) || c == '*' || c == '$' {
		return &searchKey{op: "SEQ", set: p.seqSet()}
	}
	k := &searchKey{op: strings.ToUpper(p.atom())}
	switch k.op {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "SAVEDATESUPPORTED":
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
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
		"SAVEDBEFORE", "SAVEDON", "SAVEDSINCE": // RFC 8514 section 5
		p.sp()
		k.date = p.date()
	case "LARGER", "SMALLER":
		p.sp()
		k.num = int64(p.number64())
	case "OLDER", "YOUNGER": // RFC 5032 section 3
		p.sp()
		k.num = int64(p.number())
		if k.num == 0 && p.err == nil {
			p.fail("interval must be positive")
		}
	case "MODSEQ": // RFC 7162 section 3.1.5
		p.sp()
		if p.peek() == '"' {
			p.quoted() // entry-name: per-flag modseqs are not kept
			p.sp()
			switch strings.ToLower(p.atom()) {
			case "priv", "shared", "all":
			default:
				p.fail("invalid MODSEQ entry type")
			}
			p.sp()
		}
		k.modseq = p.number64()
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

// parseCharset checks a SEARCH/SORT/THREAD charset (RFC 9051 section
// 6.4.4: UTF-8 and US-ASCII).
func parseCharset(cs string) error {
	if !strings.EqualFold(cs, "UTF-8") && !strings.EqualFold(cs, "US-ASCII") {
		return errNo("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset.")
	}
	return nil
}

// cmdSearch: SEARCH and UID SEARCH, RFC 9051 sections 6.4.4 and 6.4.9,
// with ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032),
// SAVEDATE (RFC 8514) and MODSEQ (RFC 7162 section 3.1.5).
func (s *session) cmdSearch(c *command) error {
	p := c.p
	p.sp()
	if p.err != nil {
		return p.err
	}
	ro := parseReturnOpts(p)
	save := p.pos
	var csErr error
	if strings.EqualFold(p.atom(), "CHARSET") {
		p.sp()
		csErr = parseCharset(p.astring())
		p.sp()
	} else {
		p.pos, p.err = save, nil
	}
	prog := parseSearchKeys(p, 0)
	p.end()
	if ro.save {
		// RFC 5182 section 2.1: a failed SEARCH empties "$".
		s.view.saved = nil
	}
	if p.err != nil {
		return p.err
	}
	if csErr != nil {
		return csErr
	}
	if ro.update {
		if err := s.checkUpdate(c.tag); err != nil {
			return err
		}
	}
	found, modseq, err := s.search(prog)
	if err != nil {
		return err
	}
	s.saveResult(ro, found, false)
	if ro.given || s.mode.rev2 {
		if !ro.given {
			ro.all = true
		}
		s.writeESearch(c.tag, c.uid, ro, found, modseq)
		s.addUpdateContext(c, ro, prog, nil, found)
		return nil
	}
	e := untagged().raw("SEARCH")
	for _, i := range found {
		if c.uid {
			e.sp().num(s.view.msgs[i].UID)
		} else {
			e.sp().num(uint32(i + 1))
		}
	}
	if modseq > 0 && len(found) > 0 {
		e.raw(" (MODSEQ ").num64(modseq).raw(")")
	}
	s.writeEnc(e)
	return nil
}

// search runs a program over the view and returns the matching indexes,
// ascending, and when the program has a MODSEQ key the highest MODSEQ of
// the matches (else 0).
func (s *session) search(prog *searchKey) ([]int, uint64, error) {
	usesModSeq := false
	walkKeys(prog, func(k *searchKey) {
		if k.op == "MODSEQ" {
			usesModSeq = true
		}
	})
	if usesModSeq {
		s.enableCondstore()
	}
	if err := s.prepareTextSearch(prog); err != nil {
		return nil, 0, err
	}
	var found []int
	var modseq uint64
	now := time.Now()
	pre := s.newPrefetch(nil)
	for i := range s.view.msgs {
		sm := &searchMsg{s: s, idx: i, m: s.view.msgs[i], now: now, pre: pre}
		ok, err := sm.match(prog)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			found = append(found, i)
			if usesModSeq {
				modseq = max(modseq, sm.m.ModSeq)
			}
		}
	}
	return found, modseq, nil
}

func walkKeys(k *searchKey, f func(*searchKey)) {
	if k == nil {
		return
	}
	f(k)
	for _, sub := range k.sub {
		walkKeys(sub, f)
	}
}

// prepareTextSearch asks the store's full-text index for the candidates
// of every BODY and TEXT key (storage.TextSearchMailbox).
func (s *session) prepareTextSearch(prog *searchKey) error {
	if err := s.prepareHeaderSearch(prog); err != nil {
		return err
	}
	ts, ok := s.mbox.(storage.TextSearchMailbox)
	if !ok {
		return nil
	}
	var err error
	walkKeys(prog, func(k *searchKey) {
		if (k.op != "BODY" && k.op != "TEXT") || err != nil || k.str == "" {
			return
		}
		uids, exact, e := ts.SearchText(k.str, k.op == "BODY")
		if e != nil {
			err = e
			return
		}
		k.fts, k.ftsExact = make(map[uint32]bool, len(uids)), exact
		for _, u := range uids {
			k.fts[u] = true
		}
	})
	return err
}

// searchMsg evaluates search keys against one message, reading and
// parsing its content only when a key needs it, and taking the header
// fields the store caches from its cache.
type searchMsg struct {
	s    *session
	idx  int
	m    storage.Message
	now  time.Time
	raw  []byte
	root *part // parsed from raw, or from the cache when cached
	// cached says root came from the cache: only storage.CachedField
	// fields are there.
	cached bool
	gone   bool // expunged meanwhile: content keys do not match
	text   *messageText
	// pre reads cached structures ahead in batches; nil: one by one.
	// hint is the index candidates of the key being checked (nil: all).
	pre  *structPrefetch
	hint map[uint32]bool
}

// content loads the message's bytes; with headerOnly, a header field
// that the store caches is enough.
func (sm *searchMsg) content(field string) error {
	if sm.gone || (sm.root != nil && (!sm.cached || (field != "" && storage.CachedField(field)))) {
		return nil
	}
	need := needRaw
	if field != "" && storage.CachedField(field) {
		need = needStructure
	}
	if need == needStructure && sm.pre != nil {
		root, ok, err := sm.pre.get(sm.idx, sm.hint)
		if err != nil {
			return err
		}
		if ok {
			sm.root, sm.cached = root, true
			return nil
		}
		need = needRaw // not cached: the cache was just asked
	}
	mc, err := sm.s.content(sm.m.UID, need)
	if errors.Is(err, storage.ErrNoSuchMessage) {
		sm.gone = true
		return nil
	}
	if err != nil {
		return err
	}
	sm.raw, sm.root, sm.cached = mc.raw, mc.root, mc.raw == nil
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
		return sm.s.view.matches(k.set, false, sm.idx), nil
	case "UID":
		return sm.s.view.matches(k.set, true, sm.idx), nil
	case "ALL", "SAVEDATESUPPORTED":
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
	case "MODSEQ":
		return sm.m.ModSeq >= k.modseq, nil
	case "OLDER":
		return sm.now.Sub(sm.m.InternalDate) >= time.Duration(k.num)*time.Second, nil
	case "YOUNGER":
		return sm.now.Sub(sm.m.InternalDate) <= time.Duration(k.num)*time.Second, nil
	case "BEFORE", "ON", "SINCE":
		return compareDate(k.op, dateOf(sm.m.InternalDate), k.date), nil
	case "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		d := sm.m.SaveDate
		if d.IsZero() {
			d = sm.m.InternalDate
		}
		return compareDate(k.op[5:], dateOf(d), k.date), nil
	case "BODY", "TEXT", "SUBJECT", "HEADER":
		if k.fts != nil {
			if !k.fts[sm.m.UID] {
				return false, nil
			}
			if k.ftsExact {
				return true, nil
			}
		}
	}
	return sm.matchContent(k)
}

// matchContent evaluates the keys that need the message's header or
// body (RFC 9051 section 6.4.4).
func (sm *searchMsg) matchContent(k *searchKey) (bool, error) {
	field := ""
	switch k.op {
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		field = "Date"
	case "HEADER":
		field = k.str
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		field = k.op
	}
	sm.hint = k.fts
	if err := sm.content(field); err != nil || sm.gone {
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

// dateOf is t's calendar date, in t's own zone (RFC 9051 section 6.4.4:
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
