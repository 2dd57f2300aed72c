package imap

import (
	"slices"
	"strings"
)

// returnOpts are SEARCH's and SORT's RETURN options (RFC 4731 section
// 3.1, RFC 5182 section 2, RFC 5267 section 3).
type returnOpts struct {
	given                      bool // RETURN was present: answer with ESEARCH
	min, max, all, count, save bool
	// RFC 5267 section 4 (context.go): PARTIAL lo:hi, and UPDATE with
	// RFC 5465 section 7's fetch attributes for new matches.
	partial     bool
	lo, hi      uint32
	update      bool
	updateFetch []fetchItem
}

// parseReturnOpts parses "RETURN (opts)" if it is next, and the space
// after it.
func parseReturnOpts(p *parser) returnOpts {
	var ro returnOpts
	save := p.pos
	if !strings.EqualFold(p.takeWhile(isAtomChar), "RETURN") || !p.trySP() {
		p.pos = save
		return ro
	}
	ro.given = true
	p.list(func() {
		switch opt := strings.ToUpper(p.atom()); opt {
		case "MIN":
			ro.min = true
		case "MAX":
			ro.max = true
		case "ALL":
			ro.all = true
		case "COUNT":
			ro.count = true
		case "SAVE":
			ro.save = true
		case "CONTEXT", "PARTIAL", "UPDATE":
			parseContextOpt(p, opt, &ro)
		default:
			p.fail("unknown RETURN option")
		}
	})
	if ro.all && ro.partial {
		p.fail("ALL and PARTIAL are mutually exclusive") // RFC 5267 section 4.4
	}
	if !ro.min && !ro.max && !ro.count && !ro.save && !ro.partial && !ro.update {
		ro.all = true // RFC 4731 section 3.1: RETURN () means ALL
	}
	p.sp()
	return ro
}

// saveResult keeps a search's result for "$" (RFC 5182 section 2.1):
// the UIDs found, or only the MIN and MAX ones when those are all that
// was asked for.
func (s *session) saveResult(ro returnOpts, found []int, sorted bool) {
	if !ro.save {
		return
	}
	sel := found
	if ro.partial && !ro.all {
		sel = ro.partialOf(found)
	} else if (ro.min || ro.max) && !ro.all && !ro.count && len(found) > 0 {
		lo, hi := found[0], found[len(found)-1]
		if !sorted {
			lo, hi = slices.Min(found), slices.Max(found)
		}
		sel = nil
		if ro.min {
			sel = append(sel, lo)
		}
		if ro.max {
			sel = append(sel, hi)
		}
	}
	uids := s.view.uids(sel)
	slices.Sort(uids)
	s.view.saved = slices.Compact(uids)
}

// writeESearch sends "* ESEARCH (TAG "t") [UID] ..." (RFC 4731 section
// 3.1) for found (indexes into the view, ascending for SEARCH, in sort
// order for SORT, RFC 5267 section 3.2). A RETURN with only SAVE sends
// nothing (RFC 5182 section 2.1). modseq > 0 adds MODSEQ (RFC 7162
// section 3.1.5).
func (s *session) writeESearch(tag string, uid bool, ro returnOpts, found []int, modseq uint64) {
	if ro.save && !ro.min && !ro.max && !ro.all && !ro.count && !ro.partial && !ro.update {
		return
	}
	num := func(i int) uint32 {
		if uid {
			return s.view.msgs[i].UID
		}
		return uint32(i + 1)
	}
	e := untagged().raw("ESEARCH (TAG ").str(tag).raw(")")
	if uid {
		e.raw(" UID")
	}
	if len(found) > 0 {
		if ro.min {
			e.raw(" MIN ").num(num(found[0]))
		}
		if ro.max {
			e.raw(" MAX ").num(num(found[len(found)-1]))
		}
	}
	if ro.count {
		e.raw(" COUNT ").num(uint32(len(found)))
	}
	if ro.all && len(found) > 0 {
		nums := make([]uint32, len(found))
		for i, f := range found {
			nums[i] = num(f)
		}
		e.raw(" ALL ").raw(formatNumbers(nums))
	}
	if ro.partial {
		// RFC 5267 section 4.4: the range as asked, the results in it.
		e.raw(" PARTIAL (").num(ro.lo).raw(":").num(ro.hi).sp()
		if part := ro.partialOf(found); len(part) > 0 {
			nums := make([]uint32, len(part))
			for i, f := range part {
				nums[i] = num(f)
			}
			e.raw(formatNumbers(nums))
		} else {
			e.nil()
		}
		e.raw(")")
	}
	if modseq > 0 && len(found) > 0 {
		// RFC 7162 section 3.1.5: with only MIN and/or MAX, the
		// highest MODSEQ of the messages returned.
		if !ro.all && !ro.count {
			modseq = 0
			if ro.min {
				modseq = s.view.msgs[found[0]].ModSeq
			}
			if ro.max {
				modseq = max(modseq, s.view.msgs[found[len(found)-1]].ModSeq)
			}
		}
		e.raw(" MODSEQ ").num64(modseq)
	}
	s.writeEnc(e)
}

// formatNumbers formats numbers as a sequence set in their order,
// joining runs that ascend by one ("1:3,7,5").
func formatNumbers(nums []uint32) string {
	return formatUIDSet(nums)
}
