package imap

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// sortCriterion is one SORT key (RFC 5256 section 3, RFC 5957).
type sortCriterion struct {
	key     string // ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO
	reverse bool
}

// maxSortCriteria bounds a SORT program.
const maxSortCriteria = 20

// parseSortCriteria parses "(" sort-criterion *(SP sort-criterion) ")".
func parseSortCriteria(p *parser) []sortCriterion {
	var crit []sortCriterion
	p.expect('(')
	for p.err == nil {
		c := sortCriterion{key: strings.ToUpper(p.atom())}
		if c.key == "REVERSE" {
			c.reverse = true
			p.sp()
			c.key = strings.ToUpper(p.atom())
		}
		switch c.key {
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO":
		default:
			if p.err == nil {
				p.fail("unknown sort key %q", truncate(c.key, 20))
			}
		}
		if len(crit) >= maxSortCriteria {
			p.fail("too many sort criteria")
		}
		crit = append(crit, c)
		if p.tryByte(')') {
			break
		}
		p.sp()
	}
	return crit
}

// cmdSort: SORT and UID SORT, RFC 5256 section 3, with ESORT (RFC 5267
// section 3) and SORT=DISPLAY (RFC 5957). Strings compare with
// i;unicode-casemap (RFC 5255 section 4).
func (s *session) cmdSort(c *command) error {
	p := c.p
	p.sp()
	ro := parseReturnOpts(p)
	crit := parseSortCriteria(p)
	p.sp()
	csErr := parseCharset(p.astring())
	p.sp()
	prog := parseSearchKeys(p, 0)
	p.end()
	if ro.save {
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
	sorted, err := s.sortMessages(found, crit)
	if err != nil {
		return err
	}
	if ro.given {
		s.saveResult(ro, sorted, true)
		s.writeESearch(c.tag, c.uid, ro, sorted, modseq)
		s.addUpdateContext(c, ro, prog, crit, sorted)
		return nil
	}
	e := untagged().raw("SORT")
	for _, i := range sorted {
		if c.uid {
			e.sp().num(s.view.msgs[i].UID)
		} else {
			e.sp().num(uint32(i + 1))
		}
	}
	if modseq > 0 && len(sorted) > 0 {
		e.raw(" (MODSEQ ").num64(modseq).raw(")")
	}
	s.writeEnc(e)
	return nil
}

// sortValues are one message's sort keys, computed once.
type sortValues struct {
	idx  int
	strs map[string]string
	date time.Time // DATE: sent date in UTC, or the internal date
}

// sortMessages orders view indexes by the criteria, ties broken by
// sequence number (RFC 5256 section 3).
func (s *session) sortMessages(found []int, crit []sortCriterion) ([]int, error) {
	vals := make([]sortValues, len(found))
	pre := s.newPrefetch(found)
	for n, i := range found {
		v, err := s.sortValuesOf(i, crit, pre)
		if err != nil {
			return nil, err
		}
		vals[n] = v
	}
	slices.SortStableFunc(vals, func(a, b sortValues) int {
		for _, c := range crit {
			r := compareSortKey(s, c.key, a, b)
			if c.reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(a.idx, b.idx)
	})
	out := make([]int, len(vals))
	for n, v := range vals {
		out[n] = v.idx
	}
	return out, nil
}

func compareSortKey(s *session, key string, a, b sortValues) int {
	ma, mb := s.view.msgs[a.idx], s.view.msgs[b.idx]
	switch key {
	case "ARRIVAL":
		return ma.InternalDate.Compare(mb.InternalDate)
	case "SIZE":
		return cmp.Compare(ma.Size, mb.Size)
	case "DATE":
		return a.date.Compare(b.date)
	}
	return strings.Compare(a.strs[key], b.strs[key])
}

// sortValuesOf computes the keys the criteria need; header fields come
// from the store's cache when it has one.
func (s *session) sortValuesOf(i int, crit []sortCriterion, pre *structPrefetch) (sortValues, error) {
	v := sortValues{idx: i, strs: map[string]string{}}
	m := s.view.msgs[i]
	sm := &searchMsg{s: s, idx: i, m: m, pre: pre}
	for _, c := range crit {
		field := ""
		switch c.key {
		case "ARRIVAL", "SIZE":
			continue
		case "DATE":
			field = "Date"
		case "SUBJECT":
			field = "Subject"
		case "FROM", "DISPLAYFROM":
			field = "From"
		case "TO", "DISPLAYTO":
			field = "To"
		case "CC":
			field = "Cc"
		}
		if err := sm.content(field); err != nil {
			return v, err
		}
		hv, ok := "", false
		if !sm.gone {
			hv, ok = sm.root.get(field)
		}
		switch c.key {
		case "DATE":
			v.date = m.InternalDate.UTC()
			if t, err := parseMessageDate(hv); ok && err == nil {
				v.date = t.UTC()
			}
		case "SUBJECT":
			base, _ := baseSubject(hv)
			v.strs[c.key] = casemap(base)
		case "FROM", "TO", "CC":
			if a, ok := firstAddress(hv); ok {
				v.strs[c.key] = casemap(a.mailbox)
			}
		case "DISPLAYFROM", "DISPLAYTO":
			v.strs[c.key] = casemap(displayName(hv))
		}
	}
	return v, nil
}

// firstAddress returns the first address of an address list; a group's
// start stands for the group, with its name as mailbox (as Dovecot
// sorts).
func firstAddress(v string) (address, bool) {
	for _, a := range parseAddressList(v) {
		if !a.groupEnd {
			return a, true
		}
	}
	return address{}, false
}

// displayName is RFC 5957 section 2's sort value: the first address's
// decoded display name, or its addr-spec when it has none.
func displayName(v string) string {
	a, ok := firstAddress(v)
	if !ok {
		return ""
	}
	if a.groupStart {
		return decodeHeaderValue(a.mailbox)
	}
	if a.hasName {
		if n := strings.TrimSpace(decodeHeaderValue(a.name)); n != "" {
			return n
		}
	}
	if a.host == "" {
		return a.mailbox
	}
	return a.mailbox + "@" + a.host
}
