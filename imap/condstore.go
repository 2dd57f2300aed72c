package imap

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// qresyncParams are SELECT's QRESYNC parameters (RFC 7162 section
// 3.2.5): "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")".
type qresyncParams struct {
	uidValidity uint32
	modSeq      uint64
	knownUIDs   seqSet // nil: every UID
	// knownSeqs and knownSeqUIDs are seq-match-data; the server may
	// ignore them, and does: it computes vanished UIDs exactly.
	knownSeqs, knownSeqUIDs seqSet
}

// parseQresync parses the QRESYNC parameter list.
func parseQresync(p *parser) *qresyncParams {
	q := &qresyncParams{}
	p.expect('(')
	q.uidValidity = p.number()
	if q.uidValidity == 0 && p.err == nil {
		p.fail("invalid UIDVALIDITY")
	}
	p.sp()
	q.modSeq = p.number64()
	if p.trySP() {
		if p.peek() != '(' {
			q.knownUIDs = p.seqSet()
			if q.knownUIDs.isSaved() {
				p.fail("$ is not allowed here")
			}
			p.trySP()
		}
		if p.tryByte('(') {
			q.knownSeqs = p.seqSet()
			p.sp()
			q.knownSeqUIDs = p.seqSet()
			p.expect(')')
		}
	}
	p.expect(')')
	return q
}

// qresync sends what changed since the client's cached state, after the
// SELECT responses (RFC 7162 section 3.2.5.1): VANISHED (EARLIER) for
// expunged UIDs, then FETCH for messages changed since modseq.
func (s *session) qresync(q *qresyncParams) error {
	known := q.knownUIDs
	if known == nil {
		known = seqSet{{start: 1, stop: 0}}
	}
	if err := s.sendVanishedEarlier(known, q.modSeq); err != nil {
		return err
	}
	for i, m := range s.view.msgs {
		if m.ModSeq > q.modSeq && (q.knownUIDs == nil || q.knownUIDs.contains(m.UID, s.view.maxUID())) {
			s.writeEnc(s.view.fetchFlags(uint32(i+1), m))
		}
	}
	return nil
}

// sendVanishedEarlier sends "* VANISHED (EARLIER) uids" for the UIDs in
// set expunged after modseq (RFC 7162 section 3.2.6). When the store's
// history does not reach back that far, every UID of set that is not in
// the mailbox is reported, which the RFC allows.
func (s *session) sendVanishedEarlier(set seqSet, modseq uint64) error {
	ch, ok, err := s.mbox.ChangesSince(modseq)
	if err != nil {
		return err
	}
	limit := s.view.maxUID()
	var out []seqRange
	if ok {
		for _, u := range ch.Expunged {
			if set.contains(u, ^uint32(0)) && s.view.seqOf(u) == 0 {
				out = append(out, seqRange{start: u, stop: u})
			}
		}
	} else {
		present := make([]uint32, 0, len(s.view.msgs))
		for _, m := range s.view.msgs {
			if !s.view.gone[m.UID] {
				present = append(present, m.UID)
			}
		}
		out = missingUIDs(set, limit, present)
	}
	if len(out) > 0 {
		s.writeEnc(untagged().raw("VANISHED (EARLIER) ").raw(formatRanges(out)))
	}
	return nil
}

// missingUIDs returns the UIDs of set, up to limit, that are not in
// present (ascending), as ascending ranges.
func missingUIDs(set seqSet, limit uint32, present []uint32) []seqRange {
	var rs []seqRange
	for _, r := range set {
		lo, hi := r.start, r.stop
		if lo == 0 {
			lo = limit
		}
		if hi == 0 {
			hi = limit
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		hi = min(hi, limit)
		if lo == 0 || lo > hi {
			continue
		}
		rs = append(rs, seqRange{start: lo, stop: hi})
	}
	slices.SortFunc(rs, func(a, b seqRange) int { return int(int64(a.start) - int64(b.start)) })
	var merged []seqRange
	for _, r := range rs {
		if n := len(merged); n > 0 && uint64(r.start) <= uint64(merged[n-1].stop)+1 {
			merged[n-1].stop = max(merged[n-1].stop, r.stop)
			continue
		}
		merged = append(merged, r)
	}
	var out []seqRange
	for _, r := range merged {
		i := sort.Search(len(present), func(i int) bool { return present[i] >= r.start })
		cur := uint64(r.start)
		for ; i < len(present) && present[i] <= r.stop; i++ {
			if uint64(present[i]) > cur {
				out = append(out, seqRange{start: uint32(cur), stop: present[i] - 1})
			}
			cur = uint64(present[i]) + 1
		}
		if cur <= uint64(r.stop) {
			out = append(out, seqRange{start: uint32(cur), stop: r.stop})
		}
	}
	return out
}

// formatRanges formats ascending ranges as a sequence set.
func formatRanges(rs []seqRange) string {
	var sb strings.Builder
	for i, r := range rs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(r.start), 10))
		if r.stop != r.start {
			sb.WriteByte(':')
			sb.WriteString(strconv.FormatUint(uint64(r.stop), 10))
		}
	}
	return sb.String()
}

// fetchModifiers are FETCH's modifiers (RFC 7162 sections 3.1.4.1 and
// 3.2.6).
type fetchModifiers struct {
	changedSince    uint64
	hasChangedSince bool
	vanished        bool
}

func parseFetchModifiers(p *parser) fetchModifiers {
	var m fetchModifiers
	p.list(func() {
		switch strings.ToUpper(p.atom()) {
		case "CHANGEDSINCE":
			p.sp()
			m.changedSince = p.number64()
			m.hasChangedSince = true
		case "VANISHED":
			m.vanished = true
		default:
			p.fail("unknown FETCH modifier")
		}
	})
	return m
}

// storeModifiers are STORE's modifiers (RFC 7162 section 3.1.3).
type storeModifiers struct {
	unchangedSince    uint64
	hasUnchangedSince bool
}

func parseStoreModifiers(p *parser) storeModifiers {
	var m storeModifiers
	p.list(func() {
		switch strings.ToUpper(p.atom()) {
		case "UNCHANGEDSINCE":
			p.sp()
			m.unchangedSince = p.number64()
			m.hasUnchangedSince = true
		default:
			p.fail("unknown STORE modifier")
		}
	})
	return m
}
