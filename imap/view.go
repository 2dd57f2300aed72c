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
}

func newView(msgs []storage.Message) *view {
	v := &view{msgs: slices.Clone(msgs), gone: map[uint32]bool{}}
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
	}
}

// apply merges changes from Mailbox.Poll and writes the untagged
// responses: FETCH for flag changes, EXPUNGE (when allowed), EXISTS and
// RECENT for new messages (RFC 3501 section 7.3, 7.4).
func (v *view) apply(ch storage.Changes, allowExpunge bool, out func(*enc)) {
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
			if !sameFlags(old.Flags, m.Flags) {
				out(untagged().num(seq).raw(" FETCH (UID ").num(m.UID).raw(" FLAGS ").flags(sessionFlags(m)).close())
			}
		case m.UID > v.maxUID():
			v.msgs = append(v.msgs, m)
		}
	}
	if allowExpunge {
		v.flushExpunges(out)
	}
	if n := v.exists(); n != v.told {
		v.told = n
		out(untagged().num(n).raw(" EXISTS"))
	}
	if r := v.recent(); r != v.toldRecent {
		v.toldRecent = r
		out(untagged().num(r).raw(" RECENT"))
	}
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
	for i := len(v.msgs) - 1; i >= 0; i-- {
		if v.gone[v.msgs[i].UID] {
			out(untagged().num(uint32(i + 1)).raw(" EXPUNGE"))
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
	s.view.apply(ch, allowExpunge, s.writeEnc)
}
