package mailstate

import (
	"slices"
	"strings"

	"cote/storage"
)

// systemFlags are the storable system flags in canonical spelling and order.
var systemFlags = [...]string{
	storage.FlagAnswered,
	storage.FlagDeleted,
	storage.FlagDraft,
	storage.FlagFlagged,
	storage.FlagSeen,
}

// SystemFlags returns the storable system flags in canonical order.
func SystemFlags() []string { return systemFlags[:] }

// canonicalSystem returns the canonical spelling of a system flag, or ""
// when f is not a storable system flag.
func canonicalSystem(f string) string {
	for _, s := range systemFlags {
		if strings.EqualFold(f, s) {
			return s
		}
	}
	return ""
}

// NormalizeFlags returns flags with system flags in canonical spelling,
// keywords spelled as the mailbox already knows them (known, matched
// case-insensitively), \Recent, unknown system flags and keywords that
// are not atoms dropped,
// duplicates removed, system flags first in canonical order and keywords
// sorted. It never modifies its arguments.
func NormalizeFlags(flags []string, known []string) []string {
	var sys [len(systemFlags)]bool
	var kws []string
	for _, f := range flags {
		if f == "" {
			continue
		}
		if strings.HasPrefix(f, `\`) {
			c := canonicalSystem(f)
			if c == "" {
				continue
			}
			sys[slices.Index(systemFlags[:], c)] = true
			continue
		}
		if !ValidKeyword(f) {
			continue
		}
		if k := lookupFold(known, f); k != "" {
			f = k
		}
		if lookupFold(kws, f) == "" {
			kws = append(kws, f)
		}
	}
	out := make([]string, 0, len(kws)+len(systemFlags))
	for i, ok := range sys {
		if ok {
			out = append(out, systemFlags[i])
		}
	}
	slices.Sort(kws)
	return append(out, kws...)
}

func lookupFold(list []string, s string) string {
	for _, k := range list {
		if strings.EqualFold(k, s) {
			return k
		}
	}
	return ""
}

// HasFlag reports whether flags (normalized) contain f.
func HasFlag(flags []string, f string) bool {
	return lookupFold(flags, f) != ""
}

// Keywords returns the keywords (non-system flags) of normalized flags.
func Keywords(flags []string) []string {
	var out []string
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) {
			out = append(out, f)
		}
	}
	return out
}

// applyFlags computes a message's new flags for a STORE.
func applyFlags(cur []string, op storage.FlagOp, flags []string, known []string) []string {
	switch op {
	case storage.FlagsAdd:
		return NormalizeFlags(append(slices.Clone(cur), flags...), known)
	case storage.FlagsRemove:
		var out []string
		for _, f := range cur {
			if lookupFold(flags, f) == "" {
				out = append(out, f)
			}
		}
		return NormalizeFlags(out, known)
	default:
		return NormalizeFlags(flags, known)
	}
}

// ValidKeyword reports whether k is an IMAP atom usable as a keyword
// (RFC 9051 section 9, flag-keyword = atom).
func ValidKeyword(k string) bool {
	if k == "" || len(k) > 200 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
			return false
		}
	}
	return true
}
