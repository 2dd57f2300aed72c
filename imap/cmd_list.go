package imap

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cote/storage"
)

// listOptions are LIST-EXTENDED's selection and return options (RFC 5258
// section 3, RFC 6154 section 3).
type listOptions struct {
	subscribed     bool // selection SUBSCRIBED
	recursiveMatch bool
	specialUse     bool // selection SPECIAL-USE
	retSubscribed  bool
	retChildren    bool
	status         []string // RETURN (STATUS (...)), RFC 5819
}

// cmdList: LIST, RFC 9051 section 6.3.9 with RFC 5258 (LIST-EXTENDED),
// RFC 3348 (CHILDREN), RFC 6154 (SPECIAL-USE) and RFC 5819
// (LIST-STATUS).
func (s *session) cmdList(c *command) error {
	p := c.p
	var o listOptions
	p.sp()
	if p.peek() == '(' {
		p.list(func() {
			switch strings.ToUpper(p.atom()) {
			case "SUBSCRIBED":
				o.subscribed = true
			case "RECURSIVEMATCH":
				o.recursiveMatch = true
			case "REMOTE":
			case "SPECIAL-USE":
				o.specialUse = true
			default:
				p.fail("unknown LIST selection option")
			}
		})
		p.sp()
	}
	ref := p.mailbox()
	p.sp()
	var patterns []string
	if p.peek() == '(' {
		p.list(func() { patterns = append(patterns, p.listMailbox()) })
	} else {
		patterns = append(patterns, p.listMailbox())
	}
	if p.trySP() {
		if !strings.EqualFold(p.atom(), "RETURN") {
			p.fail("expected RETURN")
		}
		p.sp()
		p.list(func() {
			switch strings.ToUpper(p.atom()) {
			case "SUBSCRIBED":
				o.retSubscribed = true
			case "CHILDREN":
				o.retChildren = true
			case "SPECIAL-USE":
			case "STATUS":
				p.sp()
				o.status = parseStatusItems(p)
			default:
				p.fail("unknown LIST return option")
			}
		})
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if o.recursiveMatch && !o.subscribed && !o.specialUse {
		return errBad("RECURSIVEMATCH requires another selection option.")
	}
	if len(patterns) == 1 && patterns[0] == "" {
		// RFC 3501 section 6.3.8: the delimiter and root of ref.
		root := ""
		if i := strings.IndexRune(ref, s.o.Store.Delimiter()); i >= 0 {
			root = ref[:i+1]
		}
		s.writeEnc(untagged().raw(`LIST (\Noselect) `).str(string(s.o.Store.Delimiter())).sp().mailbox(root, s.utf8Names()))
		return nil
	}
	infos, err := s.mailboxes()
	if err != nil {
		return err
	}
	var res []*regexp.Regexp
	for _, pat := range patterns {
		res = append(res, s.patternRegexp(ref, pat))
	}
	for _, e := range listEntries(infos, s.o.Store.Delimiter(), res, o) {
		s.writeListEntry("LIST", e)
		if len(o.status) > 0 && !slices.Contains(e.attrs, storage.AttrNoselect) &&
			!slices.Contains(e.attrs, storage.AttrNonExistent) {
			// RFC 5819 section 2: STATUS after the LIST line; a
			// mailbox whose status fails is skipped.
			if st, err := s.statusResponse(e.name, o.status); err == nil {
				s.writeEnc(st)
			}
		}
	}
	return nil
}

// listEntry is one LIST response.
type listEntry struct {
	name      string
	attrs     []string
	childInfo bool // CHILDINFO ("SUBSCRIBED")
}

// listEntries selects and decorates mailboxes for LIST.
func listEntries(infos []storage.MailboxInfo, delim rune, res []*regexp.Regexp, o listOptions) []listEntry {
	d := string(delim)
	exists := map[string]storage.MailboxInfo{}
	parents := map[string]bool{}         // has children
	subscribedBelow := map[string]bool{} // has a subscribed descendant
	for _, mi := range infos {
		exists[mi.Name] = mi
		for i := strings.LastIndex(mi.Name, d); i > 0; i = strings.LastIndex(mi.Name[:i], d) {
			parents[mi.Name[:i]] = true
			// CHILDINFO is for descendants that are not listed
			// themselves (RFC 5258 section 3.5).
			if mi.Subscribed && !matchAny(res, mi.Name) {
				subscribedBelow[mi.Name[:i]] = true
			}
		}
	}
	names := make([]string, 0, len(exists)+len(parents))
	for n := range exists {
		names = append(names, n)
	}
	for n := range parents {
		if _, ok := exists[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []listEntry
	for _, name := range names {
		if !matchAny(res, name) {
			continue
		}
		mi, ok := exists[name]
		e := listEntry{name: name}
		if !ok {
			e.attrs = []string{storage.AttrNoselect}
		}
		for _, a := range mi.Attrs {
			if a != storage.AttrHasChildren && a != storage.AttrHasNoChildren && a != storage.AttrSubscribed {
				e.attrs = append(e.attrs, a)
			}
		}
		if parents[name] {
			e.attrs = append(e.attrs, storage.AttrHasChildren)
		} else {
			e.attrs = append(e.attrs, storage.AttrHasNoChildren)
		}
		selected := true
		if o.subscribed {
			selected = mi.Subscribed
		}
		if o.specialUse {
			selected = selected && hasSpecialUse(mi.Attrs)
		}
		if !selected {
			if !(o.recursiveMatch && o.subscribed && subscribedBelow[name]) {
				continue
			}
			// An existing mailbox listed only for CHILDINFO gets
			// no attributes (as Dovecot; RFC 5258 section 5).
			if ok && !slices.Contains(e.attrs, storage.AttrNoselect) {
				e.attrs = []string{}
				if o.retChildren {
					e.attrs = append(e.attrs, storage.AttrHasChildren)
				}
			}
			e.childInfo = true
		} else if !ok && (o.subscribed || o.specialUse) {
			continue
		}
		if mi.Subscribed && (o.subscribed || o.retSubscribed) {
			e.attrs = append(e.attrs, storage.AttrSubscribed)
		}
		out = append(out, e)
	}
	return out
}

func hasSpecialUse(attrs []string) bool {
	for _, a := range attrs {
		switch a {
		case storage.AttrAll, storage.AttrArchive, storage.AttrDrafts, storage.AttrFlagged,
			storage.AttrJunk, storage.AttrSent, storage.AttrTrash:
			return true
		}
	}
	return false
}

func matchAny(res []*regexp.Regexp, name string) bool {
	for _, re := range res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// patternRegexp compiles ref+pattern: "*" matches anything, "%" anything
// but the delimiter (RFC 3501 section 6.3.8). An INBOX prefix matches
// case-insensitively (section 5.1).
func (s *session) patternRegexp(ref, pat string) *regexp.Regexp {
	key := strconv.FormatBool(s.utf8Names()) + " " + strconv.Quote(ref) + " " + pat
	if s.listRE.re != nil && s.listRE.key == key {
		return s.listRE.re
	}
	re := s.compilePattern(ref, pat)
	s.listRE.key, s.listRE.re = key, re
	return re
}

func (s *session) compilePattern(ref, pat string) *regexp.Regexp {
	d := string(s.o.Store.Delimiter())
	if !s.utf8Names() {
		// Patterns are in modified UTF-7 like names (RFC 3501
		// section 5.1.3); a pattern that does not decode stays.
		if dec, err := decodeMailboxName(pat); err == nil {
			pat = dec
		}
	}
	full := pat
	if ref != "" && !strings.HasPrefix(pat, d) {
		full = ref + pat
	}
	if len(full) >= 5 && strings.EqualFold(full[:5], "INBOX") && (len(full) == 5 || strings.HasPrefix(full[5:], d)) {
		full = "INBOX" + full[5:]
	}
	var sb strings.Builder
	sb.WriteString("^")
	for _, r := range full {
		switch r {
		case '*':
			sb.WriteString(".*")
		case '%':
			sb.WriteString("[^" + regexp.QuoteMeta(d) + "]*")
		default:
			sb.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	sb.WriteString("$")
	return regexp.MustCompile(sb.String())
}

func (s *session) writeListEntry(kind string, e listEntry) {
	out := untagged().raw(kind).sp().flags(e.attrs).sp().str(string(s.o.Store.Delimiter())).sp().mailbox(e.name, s.utf8Names())
	if e.childInfo {
		out.raw(` ("CHILDINFO" ("SUBSCRIBED"))`)
	}
	s.writeEnc(out)
}

// cmdLsub: RFC 3501 section 6.3.9. A parent that is not subscribed but
// matches "%" with subscribed children is listed \Noselect.
func (s *session) cmdLsub(c *command) error {
	p := c.p
	p.sp()
	ref := p.mailbox()
	p.sp()
	pat := p.listMailbox()
	p.end()
	if p.err != nil {
		return p.err
	}
	infos, err := s.mailboxes()
	if err != nil {
		return err
	}
	re := s.patternRegexp(ref, pat)
	d := string(s.o.Store.Delimiter())
	seen := map[string]bool{}
	var entries []listEntry
	for _, mi := range infos {
		if !mi.Subscribed {
			continue
		}
		if re.MatchString(mi.Name) {
			seen[mi.Name] = true
			entries = append(entries, listEntry{name: mi.Name, attrs: []string{}})
		}
	}
	if strings.HasSuffix(pat, "%") {
		for _, mi := range infos {
			if !mi.Subscribed {
				continue
			}
			for i := strings.LastIndex(mi.Name, d); i > 0; i = strings.LastIndex(mi.Name[:i], d) {
				parent := mi.Name[:i]
				if !seen[parent] && re.MatchString(parent) {
					seen[parent] = true
					entries = append(entries, listEntry{name: parent, attrs: []string{storage.AttrNoselect}})
				}
			}
		}
	}
	slices.SortFunc(entries, func(a, b listEntry) int { return strings.Compare(a.name, b.name) })
	for _, e := range entries {
		s.writeListEntry("LSUB", e)
	}
	return nil
}

// cmdNamespace: RFC 2342 section 5. One personal namespace, no prefix.
func (s *session) cmdNamespace(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	s.writeEnc(untagged().raw(`NAMESPACE (("" `).str(string(s.o.Store.Delimiter())).raw(")) NIL NIL"))
	return nil
}
