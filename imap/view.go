package imap

import (
	"slices"
	"sort"

	"cote/storage"
)

// view is what the client has been told about the selected mailbox:
// message sequence numbers (RFC 3501 section 2.3.1.2) and flags. It lags
// behind the store where the protocol requires: expunges seen while
// EXPUNGE responses are not allowed stay in the view, marked gone, until
// the next command that allows them (RFC 3501 section 7.4.1).
type view struct {
	msgs []storage.Message // by sequence number - 1, ascending UID
	gone map[uint32]bool   // expunged in the store, EXPUNGE not sent yet
	told uint32            // EXISTS count the client knows
	// toldRecent is the RECENT count the client knows.
	toldRecent uint32
	// highestModSeq is the HIGHESTMODSEQ the client may be told (RFC
	// 7162 section 3.1.2.1).
	highestModSeq uint64
	// saved is the saved search result, ascending UIDs (RFC 5182).
	saved []uint32
	mode  *modes   // the session's enabled extensions
	flags []string // the FLAGS the client was told
	// hook follows the view's changes for search contexts and NOTIFY
	// (context.go); nil when nothing does.
	hook *viewWatch
	// holdFlags keeps apply from sending flag changes, which it notes
	// in untold and sends at the next apply without it (NOTIFY without
	// FlagChange, RFC 5465 section 5.1).
	holdFlags bool
	untold    map[uint32]bool
}

// newView makes the view of a mailbox's snapshot; it keeps msgs (the
// store's Messages gives a slice of the caller's own: no copy of a
// mailbox of 100,000 messages at each SELECT).
func newView(msgs []storage.Message, mode *modes) *view {
	v := &view{msgs: msgs, gone: map[uint32]bool{}, mode: mode}
	v.told = uint32(len(v.msgs))
	v.toldRecent = v.recent()
	return v
}

func (v *view) exists() uint32 { return uint32(len(v.msgs)) }

func (v *view) recent() uint32 {
	var n uint32
	for _, m := range v.msgs {
		if m.Recent {
			n++
		}
	}
	return n
}

func (v *view) maxUID() uint32 {
	if len(v.msgs) == 0 {
		return 0
	}
	return v.msgs[len(v.msgs)-1].UID
}

// seqOf returns the sequence number of uid, 0 if not in the view.
func (v *view) seqOf(uid uint32) uint32 {
	i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].UID >= uid })
	if i < len(v.msgs) && v.msgs[i].UID == uid {
		return uint32(i + 1)
	}
	return 0
}

// resolve returns the indexes (sequence number - 1) of the messages a
// set names, ascending. For sequence numbers a number above EXISTS is an
// error (RFC 9051 section 7.1: BAD for an invalid sequence number).
func (v *view) resolve(set seqSet, uid bool) ([]int, error) {
	var idx []int
	if set.isSaved() {
		for i, m := range v.msgs {
			if v.inSaved(m.UID) {
				idx = append(idx, i)
			}
		}
		return idx, nil
	}
	if uid {
		max := v.maxUID()
		for i, m := range v.msgs {
			if set.contains(m.UID, max) {
				idx = append(idx, i)
			}
		}
		return idx, nil
	}
	n := v.exists()
	for _, r := range set {
		// A range with "*" is clamped (RFC 3501 section 6.4.8: "*"
		// is the largest number in use); plain numbers must exist.
		if r.start != 0 && r.stop != 0 && (r.start > n || r.stop > n) {
			return nil, errBad("Invalid messageset.")
		}
	}
	for i := range v.msgs {
		if set.contains(uint32(i+1), n) {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// inSaved reports whether uid is in the saved search result.
func (v *view) inSaved(uid uint32) bool {
	_, ok := slices.BinarySearch(v.saved, uid)
	return ok
}

// matches reports whether the message at index i is in set, as a
// sequence set or a UID set.
func (v *view) matches(set seqSet, uid bool, i int) bool {
	switch {
	case set.isSaved():
		return v.inSaved(v.msgs[i].UID)
	case uid:
		return set.contains(v.msgs[i].UID, v.maxUID())
	}
	return set.contains(uint32(i+1), v.exists())
}

// flagsOf returns a message's flags as the client sees them: with
// \Recent when it applies, except for IMAP4rev2, which has no \Recent
// (RFC 9051 appendix E item 7).
func (v *view) flagsOf(m storage.Message) []string {
	if v.mode != nil && v.mode.rev2 {
		return m.Flags
	}
	return sessionFlags(m)
}

// fetchFlags writes an unsolicited "* n FETCH (UID u FLAGS (...))", with
// MODSEQ once CONDSTORE is on (RFC 7162 section 3.1.4).
func (v *view) fetchFlags(seq uint32, m storage.Message) *enc {
	e := untagged().num(seq).raw(" FETCH (UID ").num(m.UID).raw(" FLAGS ").flags(v.flagsOf(m))
	if v.mode != nil && v.mode.condstore {
		e.raw(" MODSEQ (").num64(m.ModSeq).raw(")")
	}
	return e.close()
}

// noteModSeq raises the HIGHESTMODSEQ the client may be told.
func (v *view) noteModSeq(ms uint64) { v.highestModSeq = max(v.highestModSeq, ms) }

// uids returns the UIDs at the given indexes.
func (v *view) uids(idx []int) []uint32 {
	u := make([]uint32, len(idx))
	for i, j := range idx {
		u[i] = v.msgs[j].UID
	}
	return u
}

// setFlags records flags the client has been (or is being) told.
func (v *view) setFlags(m storage.Message) {
	if seq := v.seqOf(m.UID); seq != 0 {
		old := v.msgs[seq-1]
		m.Recent = old.Recent
		if m.InternalDate.IsZero() {
			m.InternalDate, m.Size = old.InternalDate, old.Size
		}
		v.msgs[seq-1] = m
		v.hook.changed(m.UID)
	}
	v.noteModSeq(m.ModSeq)
}

// apply merges changes from Mailbox.Poll and writes the untagged
// responses: FETCH for flag changes, EXPUNGE (when allowed), EXISTS and
// RECENT for new messages (RFC 3501 section 7.3, 7.4).
func (v *view) apply(ch storage.Changes, allowExpunge bool, out func(*enc)) {
	prevMax := v.maxUID()
	for _, uid := range ch.Expunged {
		if v.seqOf(uid) != 0 {
			v.gone[uid] = true
		}
	}
	for _, m := range ch.Updated {
		seq := v.seqOf(m.UID)
		switch {
		case seq != 0:
			if v.gone[m.UID] {
				continue
			}
			old := v.msgs[seq-1]
			m.Recent = m.Recent || old.Recent
			v.msgs[seq-1] = m
			v.hook.changed(m.UID)
			if !sameFlags(old.Flags, m.Flags) || (v.mode != nil && v.mode.condstore && old.ModSeq != m.ModSeq) {
				v.tellFlags(seq, m, out)
			}
		case m.UID > v.maxUID():
			v.msgs = append(v.msgs, m)
		}
	}
	v.tellHeldFlags(out)
	if allowExpunge {
		v.flushExpunges(out)
	}
	if len(v.gone) == 0 && len(v.untold) == 0 {
		// With expunges or flag changes pending the client must not
		// learn a HIGHESTMODSEQ that covers them (RFC 7162 section
		// 3.2.10).
		v.noteModSeq(ch.HighestModSeq)
	}
	if n := v.exists(); n != v.told {
		v.told = n
		out(untagged().num(n).raw(" EXISTS"))
	}
	if v.mode != nil && v.mode.rev2 {
		v.toldRecent = v.recent()
	} else if r := v.recent(); r != v.toldRecent {
		v.toldRecent = r
		out(untagged().num(r).raw(" RECENT"))
	}
	v.hook.applied(prevMax, out)
}

// tellFlags sends a message's changed flags, or notes them while
// holdFlags is set.
func (v *view) tellFlags(seq uint32, m storage.Message, out func(*enc)) {
	if v.holdFlags {
		if v.untold == nil {
			v.untold = map[uint32]bool{}
		}
		v.untold[m.UID] = true
		return
	}
	delete(v.untold, m.UID)
	out(v.fetchFlags(seq, m))
}

// tellHeldFlags sends the flag changes held back, for messages still
// there.
func (v *view) tellHeldFlags(out func(*enc)) {
	if v.holdFlags || len(v.untold) == 0 {
		return
	}
	for _, m := range v.msgs {
		if v.untold[m.UID] && !v.gone[m.UID] {
			out(v.fetchFlags(v.seqOf(m.UID), m))
		}
	}
	clear(v.untold)
}

// expunge removes messages the session itself expunged or moved.
func (v *view) expunge(uids []uint32, out func(*enc)) {
	for _, uid := range uids {
		if v.seqOf(uid) != 0 {
			v.gone[uid] = true
		}
	}
	v.flushExpunges(out)
}

// flushExpunges sends EXPUNGE for every gone message, highest sequence
// number first so that each number is valid when sent, and compacts.
func (v *view) flushExpunges(out func(*enc)) {
	if len(v.gone) == 0 {
		return
	}
	v.hook.expunging(out)
	if v.mode != nil && v.mode.qresync {
		// RFC 7162 section 3.2.10: VANISHED replaces EXPUNGE.
		uids := make([]uint32, 0, len(v.gone))
		for _, m := range v.msgs {
			if v.gone[m.UID] {
				uids = append(uids, m.UID)
			}
		}
		out(untagged().raw("VANISHED ").raw(formatUIDSet(uids)))
	} else {
		for i := len(v.msgs) - 1; i >= 0; i-- {
			if v.gone[v.msgs[i].UID] {
				out(untagged().num(uint32(i + 1)).raw(" EXPUNGE"))
			}
		}
	}
	kept := v.msgs[:0]
	for _, m := range v.msgs {
		if !v.gone[m.UID] {
			kept = append(kept, m)
		}
	}
	clear(v.msgs[len(kept):])
	v.msgs = kept
	v.told -= uint32(len(v.gone))
	clear(v.gone)
	v.toldRecent = min(v.toldRecent, v.recent())
}

// sessionFlags returns a message's flags with \Recent when it applies.
func sessionFlags(m storage.Message) []string {
	if !m.Recent {
		return m.Flags
	}
	return append(slices.Clip(m.Flags), storage.FlagRecent)
}

func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if slices.Equal(a, b) {
		// The store lists them in the same order each time: every
		// command's poll ends here.
		return true
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// sync polls the selected mailbox and sends what changed.
func (s *session) sync(allowExpunge bool) {
	ch, err := s.mbox.Poll()
	if err != nil {
		s.log.Warn("mailbox poll failed", "mailbox", s.mbox.Name(), "err", err)
		return
	}
	s.announceFlags()
	s.watchView()
	s.view.apply(ch, allowExpunge, s.writeEnc)
}

// announceFlags sends FLAGS and PERMANENTFLAGS again when keywords were
// defined since the client last heard them, before any FETCH uses them
// (RFC 9051 section 7.3.5).
func (s *session) announceFlags() {
	flags := s.mbox.Flags()
	if len(flags) == 0 {
		flags = systemFlags()
	}
	if sameFlags(flags, s.view.flags) {
		return
	}
	s.view.flags = flags
	s.writeEnc(untagged().raw("FLAGS ").flags(flags))
	perm := []string{}
	if !s.mbox.ReadOnly() {
		perm = permanentFlags(s.mbox, flags)
	}
	s.writeEnc(untagged().raw("OK [PERMANENTFLAGS ").flags(perm).raw("] Flags permitted."))
}
