package imap

import (
	"errors"
	"strconv"
	"strings"
)

// seqRange is one element of a sequence set; 0 stands for "*", the
// largest number in use (RFC 3501 section 9 seq-number).
type seqRange struct {
	start, stop uint32
	// saved stands for "$", the saved search result (RFC 5182); such a
	// set has this one element and matches by UID.
	saved bool
}

// seqSet is a parsed sequence set, in the client's order.
type seqSet []seqRange

// maxSeqSetRanges bounds a sequence set's elements.
const maxSeqSetRanges = 10000

var errBadSeqSet = errors.New("invalid sequence set")

// parseSeqSet parses a sequence set (RFC 3501 section 9 sequence-set).
func parseSeqSet(s string) (seqSet, error) {
	if s == "" {
		return nil, errBadSeqSet
	}
	var set seqSet
	for part := range strings.SplitSeq(s, ",") {
		if len(set) >= maxSeqSetRanges {
			return nil, errors.New("sequence set too long")
		}
		a, b, isRange := strings.Cut(part, ":")
		start, err := parseSeqNumber(a)
		if err != nil {
			return nil, err
		}
		stop := start
		if isRange {
			if stop, err = parseSeqNumber(b); err != nil {
				return nil, err
			}
		}
		set = append(set, seqRange{start: start, stop: stop})
	}
	return set, nil
}

func parseSeqNumber(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" || s[0] == '0' {
		return 0, errBadSeqSet
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errBadSeqSet
	}
	return uint32(n), nil
}

// isSaved reports "$".
func (set seqSet) isSaved() bool { return len(set) == 1 && set[0].saved }

// contains reports whether n is in the set, with "*" meaning max. "$"
// is resolved by the view, never here.
func (set seqSet) contains(n, max uint32) bool {
	for _, r := range set {
		if r.saved {
			continue
		}
		lo, hi := r.start, r.stop
		if lo == 0 {
			lo = max
		}
		if hi == 0 {
			hi = max
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if n >= lo && n <= hi {
			return true
		}
	}
	return false
}

// String formats the set for logs and tests.
func (set seqSet) String() string {
	var sb strings.Builder
	for i, r := range set {
		if i > 0 {
			sb.WriteByte(',')
		}
		if r.saved {
			sb.WriteByte('$')
			continue
		}
		sb.WriteString(seqNumString(r.start))
		if r.stop != r.start {
			sb.WriteByte(':')
			sb.WriteString(seqNumString(r.stop))
		}
	}
	return sb.String()
}

func seqNumString(n uint32) string {
	if n == 0 {
		return "*"
	}
	return strconv.FormatUint(uint64(n), 10)
}

// formatUIDSet formats ascending UIDs compactly ("1:3,7") for UIDPLUS
// responses (RFC 4315 section 4).
func formatUIDSet(uids []uint32) string {
	var sb strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(uids[i]), 10))
		if j > i {
			sb.WriteByte(':')
			sb.WriteString(strconv.FormatUint(uint64(uids[j]), 10))
		}
		i = j + 1
	}
	return sb.String()
}
