package imap

import (
	"slices"
	"time"
)

// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4): the PARTIAL,
// UPDATE and CONTEXT return options of SEARCH and SORT, the ADDTO and
// REMOVEFROM updates of a search kept up to date, and CANCELUPDATE.
//
// A search with UPDATE becomes an updateContext of the selected
// mailbox's view, which ends with the selection. The view tells its
// viewWatch which messages changed (flags from the store or a STORE,
// new messages) and which are being expunged; the watch evaluates the
// contexts' programs again on those messages only and sends what left
// and joined each result: REMOVEFROM for expunged messages before the
// EXPUNGE responses, everything else after EXISTS (RFC 5267 sections
// 4.3.3 and 4.3.4).

// maxUpdateContexts bounds the updating contexts of a session; more are
// refused with NOUPDATE (RFC 5267 section 4.3.1).
const maxUpdateContexts = 10

// parseContextOpt parses one of RFC 5267's return options (its name read
// already): CONTEXT, a hint this server does not need; "PARTIAL"
// SP nz-number ":" nz-number; UPDATE, with RFC 5465 section 7's
// optional fetch attributes.
func parseContextOpt(p *parser, name string, ro *returnOpts) {
	switch name {
	case "PARTIAL":
		if ro.partial {
			p.fail("PARTIAL given twice")
			return
		}
		p.sp()
		lo := p.number()
		p.expect(':')
		hi := p.number()
		if p.err == nil && (lo == 0 || hi == 0) {
			p.fail("PARTIAL range must not contain 0")
		}
		ro.partial, ro.lo, ro.hi = true, min(lo, hi), max(lo, hi)
	case "UPDATE":
		ro.update = true
		if p.peek() == ' ' && p.pos+1 < len(p.b) && p.b[p.pos+1] == '(' {
			p.sp()
			p.list(func() { ro.updateFetch = append(ro.updateFetch, parseFetchItem(p)...) })
		}
	}
}

// partialOf returns the part of found that PARTIAL lo:hi names (RFC 5267
// section 4.4: the first result is 1).
func (ro returnOpts) partialOf(found []int) []int {
	lo, hi := int(ro.lo), int(ro.hi)
	if lo > len(found) {
		return nil
	}
	return found[lo-1 : min(hi, len(found))]
}

// updateContext is a search the client asked to keep up to date.
type updateContext struct {
	tag   string
	uid   bool            // UID SEARCH or UID SORT: updates carry UIDs
	prog  *searchKey      // the search program, without text index hints
	crit  []sortCriterion // nil for SEARCH
	fetch []fetchItem     // RFC 5465 section 7: FETCH for new results
	// uids is the result as the client holds it: in sort order for
	// SORT, ascending (mailbox order) for SEARCH.
	uids []uint32
}

// viewWatch follows a view's changes for its update contexts and for
// NOTIFY's MessageNew fetch attributes (notify.go). Its methods are safe
// on a nil watch, which does nothing.
type viewWatch struct {
	s        *session
	contexts []*updateContext
	dirty    map[uint32]bool // messages changed since the contexts were updated
}

// watchView gives the selected mailbox's view a watch when NOTIFY asks
// for fetch attributes of new messages (update contexts add theirs).
func (s *session) watchView() {
	if s.view != nil && s.view.hook == nil && s.notify != nil && len(s.notify.newFetch) > 0 {
		s.view.hook = &viewWatch{s: s, dirty: map[uint32]bool{}}
	}
}

func (w *viewWatch) changed(uid uint32) {
	if w != nil && len(w.contexts) > 0 {
		w.dirty[uid] = true
	}
}

// expunging runs before the view sends EXPUNGE or VANISHED for its gone
// messages: it sends REMOVEFROM for those in a result while their
// sequence numbers are still valid (RFC 5267 section 4.3.4).
func (w *viewWatch) expunging(out func(*enc)) {
	if w == nil {
		return
	}
	v := w.s.view
	for _, ctx := range w.contexts {
		next := slices.DeleteFunc(slices.Clone(ctx.uids), func(u uint32) bool { return v.gone[u] })
		if len(next) != len(ctx.uids) {
			w.sendDiff(ctx, ctx.uids, next, out)
			ctx.uids = next
		}
	}
}

// applied runs after the view sent EXISTS for messages above prevMax:
// NOTIFY's FETCH for them first, then the contexts' updates (RFC 5465
// section 7: EXISTS, FETCH, then ESEARCH).
func (w *viewWatch) applied(prevMax uint32, out func(*enc)) {
	if w == nil {
		return
	}
	s, v := w.s, w.s.view
	if s.notify != nil && len(s.notify.newFetch) > 0 {
		s.fetchNew(prevMax, s.notify.newFetch, out)
	}
	if len(w.contexts) == 0 {
		return
	}
	for i := len(v.msgs) - 1; i >= 0 && v.msgs[i].UID > prevMax; i-- {
		w.dirty[v.msgs[i].UID] = true
	}
	if len(w.dirty) == 0 && len(v.gone) == 0 {
		return
	}
	for _, ctx := range w.contexts {
		w.update(ctx, out)
	}
	clear(w.dirty)
}

// update evaluates a context's program again on the changed messages and
// sends how its result changed.
func (w *viewWatch) update(ctx *updateContext, out func(*enc)) {
	s, v := w.s, w.s.view
	// Every result is in the view (expunging took out those leaving
	// it); a guard against a number that would not be valid.
	ctx.uids = slices.DeleteFunc(ctx.uids, func(u uint32) bool { return v.seqOf(u) == 0 })
	in := make(map[uint32]bool, len(ctx.uids))
	for _, u := range ctx.uids {
		in[u] = true
	}
	var joined []uint32
	left := map[uint32]bool{}
	now := time.Now()
	for uid := range w.dirty {
		seq := v.seqOf(uid)
		match := false
		if seq != 0 && !v.gone[uid] {
			sm := &searchMsg{s: s, idx: int(seq - 1), m: v.msgs[seq-1], now: now}
			ok, err := sm.match(ctx.prog)
			if err != nil {
				s.log.Warn("search context update", "tag", ctx.tag, "err", err)
			}
			match = ok && err == nil
		}
		switch {
		case match && !in[uid]:
			joined = append(joined, uid)
		case !match && in[uid]:
			left[uid] = true
		}
	}
	for _, u := range ctx.uids {
		if v.gone[u] {
			left[u] = true
		}
	}
	if len(joined) == 0 && len(left) == 0 {
		return
	}
	next := slices.DeleteFunc(slices.Clone(ctx.uids), func(u uint32) bool { return left[u] })
	next = append(next, joined...)
	if ctx.crit == nil {
		slices.Sort(next)
	} else if len(joined) > 0 {
		idx := make([]int, len(next))
		for i, u := range next {
			idx[i] = int(v.seqOf(u) - 1)
		}
		slices.Sort(idx)
		sorted, err := s.sortMessages(idx, ctx.crit)
		if err != nil {
			s.log.Warn("search context update", "tag", ctx.tag, "err", err)
			return
		}
		next = v.uids(sorted)
	}
	w.sendDiff(ctx, ctx.uids, next, out)
	ctx.uids = next
	if len(ctx.fetch) > 0 && len(joined) > 0 {
		// RFC 5465 section 7: FETCH for the new results; with the
		// ESEARCH already sent, its order puts FETCH after it.
		slices.Sort(joined)
		w.s.fetchUIDs(joined, ctx.fetch, out)
	}
}

// sendDiff sends one ESEARCH with REMOVEFROM and ADDTO turning old into
// next. A SEARCH result is kept in mailbox order, so position 0 (let the
// client place them) with one set each says it all; a SORT result gets
// the positions, one pair per run (RFC 5267 sections 4.3.3, 4.3.4).
func (w *viewWatch) sendDiff(ctx *updateContext, old, next []uint32, out func(*enc)) {
	e := untagged().raw("ESEARCH (TAG ").str(ctx.tag).raw(")")
	if ctx.uid {
		e.raw(" UID")
	}
	n0 := len(e.b)
	rem, add := positionPairs(old, next, ctx.crit != nil)
	w.writePairs(e, "REMOVEFROM", rem, ctx.uid)
	w.writePairs(e, "ADDTO", add, ctx.uid)
	if len(e.b) > n0 {
		out(e)
	}
}

// posRun is a run of results at a context position (0: anywhere).
type posRun struct {
	pos  int
	uids []uint32
}

// positionPairs returns the REMOVEFROM pairs that take old to the
// results both have, then the ADDTO pairs that take that to next; each
// pair's position counts in the list as the pairs before it left it.
// The results old and next have in common are in the same order in
// both (sort keys do not change; ties go by mailbox order).
func positionPairs(old, next []uint32, positional bool) (rem, add []posRun) {
	inNext := make(map[uint32]bool, len(next))
	for _, u := range next {
		inNext[u] = true
	}
	inOld := make(map[uint32]bool, len(old))
	for _, u := range old {
		inOld[u] = true
	}
	if !positional {
		var r, a []uint32
		for _, u := range old {
			if !inNext[u] {
				r = append(r, u)
			}
		}
		for _, u := range next {
			if !inOld[u] {
				a = append(a, u)
			}
		}
		if len(r) > 0 {
			rem = []posRun{{0, r}}
		}
		if len(a) > 0 {
			add = []posRun{{0, a}}
		}
		return rem, add
	}
	kept := 0 // results before the current one that stay
	for i := 0; i < len(old); {
		if inNext[old[i]] {
			kept++
			i++
			continue
		}
		run := posRun{pos: kept + 1}
		for ; i < len(old) && !inNext[old[i]]; i++ {
			run.uids = append(run.uids, old[i])
		}
		rem = append(rem, run)
	}
	for i := 0; i < len(next); {
		if inOld[next[i]] {
			i++
			continue
		}
		run := posRun{pos: i + 1}
		for ; i < len(next) && !inOld[next[i]]; i++ {
			run.uids = append(run.uids, next[i])
		}
		add = append(add, run)
	}
	return rem, add
}

// writePairs writes " NAME (pos set pos set ...)"; sequence numbers are
// the view's as it stands.
func (w *viewWatch) writePairs(e *enc, name string, runs []posRun, uid bool) {
	if len(runs) == 0 {
		return
	}
	v := w.s.view
	e.sp().raw(name).raw(" (")
	for i, r := range runs {
		if i > 0 {
			e.sp()
		}
		nums := r.uids
		if !uid {
			nums = make([]uint32, len(r.uids))
			for k, u := range r.uids {
				nums[k] = v.seqOf(u)
			}
		}
		e.num(uint32(r.pos)).sp().raw(formatNumbers(nums))
	}
	e.raw(")")
}

// checkUpdate refuses UPDATE with a tag that names a live context (RFC
// 5267 section 4.3: BAD).
func (s *session) checkUpdate(tag string) error {
	if w := s.view.hook; w != nil {
		for _, ctx := range w.contexts {
			if ctx.tag == tag {
				return errBad("Tag reuse.")
			}
		}
	}
	return nil
}

// addUpdateContext keeps a search with UPDATE up to date (RFC 5267
// section 4.3), or refuses with NOUPDATE past maxUpdateContexts (section
// 4.3.1). found are view indexes in the result's order.
func (s *session) addUpdateContext(c *command, ro returnOpts, prog *searchKey, crit []sortCriterion, found []int) {
	if !ro.update {
		return
	}
	if w := s.view.hook; w != nil && len(w.contexts) >= maxUpdateContexts {
		s.writeEnc(untagged().raw("NO [NOUPDATE ").str(c.tag).raw("] Too many contexts."))
		return
	}
	// The text index's candidates were for the messages of this
	// moment; later evaluations read the messages.
	walkKeys(prog, func(k *searchKey) { k.fts, k.ftsExact = nil, false })
	if s.view.hook == nil {
		s.view.hook = &viewWatch{s: s, dirty: map[uint32]bool{}}
	}
	w := s.view.hook
	w.contexts = append(w.contexts, &updateContext{
		tag: c.tag, uid: c.uid, prog: prog, crit: crit, fetch: ro.updateFetch, uids: s.view.uids(found),
	})
}

// cmdCancelUpdate: CANCELUPDATE, RFC 5267 section 4.3.5.
func (s *session) cmdCancelUpdate(c *command) error {
	p := c.p
	var tags []string
	for p.err == nil {
		p.sp()
		tags = append(tags, p.quoted())
		if p.atEnd() {
			break
		}
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if s.view == nil {
		return errBad("No mailbox selected.")
	}
	w := s.view.hook
	for _, t := range tags {
		n := 0
		if w != nil {
			n = len(w.contexts)
			w.contexts = slices.DeleteFunc(w.contexts, func(ctx *updateContext) bool { return ctx.tag == t })
		}
		if w == nil || len(w.contexts) == n {
			return errNo("", "Unknown search update %q.", truncate(t, 20))
		}
	}
	return nil
}

// hasUpdateContexts reports searches kept up to date, which hibernation
// cannot carry.
func (s *session) hasUpdateContexts() bool {
	return s.view != nil && s.view.hook != nil && len(s.view.hook.contexts) > 0
}
