package sieve

import (
	"regexp"
	"strconv"
	"strings"
)

// matchSpec is a checked comparator and match type.
type matchSpec struct {
	comparator string // "i;octet", "i;ascii-casemap", "i;ascii-numeric"
	typ        string // "is", "contains", "matches", "regex", "value", "count"
	rel        string // for value and count
}

// maxCachedPatterns bounds the per-run cache of compiled patterns.
const maxCachedPatterns = 256

// match compares values against keys (RFC 5228 section 2.7): the test is
// true when any value matches any key. For :matches and :regex a success
// sets the match variables (RFC 5229 section 3.2).
func (r *run) match(m matchSpec, values, keys []string) (bool, error) {
	if m.typ == "count" {
		// RFC 5231 section 4.2: the number of values against each key.
		count := strconv.Itoa(len(values))
		for _, k := range keys {
			if err := r.step(); err != nil {
				return false, err
			}
			if relate(m.comparator, m.rel, count, k) {
				return true, nil
			}
		}
		return false, nil
	}
	for _, v := range values {
		for _, k := range keys {
			if err := r.step(); err != nil {
				return false, err
			}
			ok, caps, err := r.matchOne(m, v, k)
			if err != nil {
				return false, err
			}
			if ok {
				if caps != nil && r.fr.script.required["variables"] {
					r.fr.match = caps
				}
				return true, nil
			}
		}
	}
	return false, nil
}

func (r *run) matchOne(m matchSpec, v, k string) (bool, []string, error) {
	switch m.typ {
	case "is":
		return relate(m.comparator, "eq", v, k), nil, nil
	case "value":
		return relate(m.comparator, m.rel, v, k), nil, nil
	case "contains":
		if m.comparator == "i;ascii-casemap" {
			return strings.Contains(asciiLower(v), asciiLower(k)), nil, nil
		}
		return strings.Contains(v, k), nil, nil
	case "matches":
		re, err := r.pattern("g"+m.comparator, k, func() (*regexp.Regexp, error) {
			pat := k
			if m.comparator == "i;ascii-casemap" {
				pat = asciiLower(k)
			}
			return regexp.Compile(globToRegexp(pat))
		})
		if err != nil {
			return false, nil, err
		}
		subject := v
		if m.comparator == "i;ascii-casemap" {
			subject = asciiLower(v) // same length: captures index v
		}
		idx := re.FindStringSubmatchIndex(subject)
		if idx == nil {
			return false, nil, nil
		}
		return true, captures(v, idx), nil
	case "regex":
		re, err := r.pattern("r"+m.comparator, k, func() (*regexp.Regexp, error) {
			if m.comparator == "i;ascii-casemap" {
				return regexp.Compile("(?i)" + k)
			}
			return regexp.Compile(k)
		})
		if err != nil {
			return false, nil, &RuntimeError{Msg: "invalid regular expression " + strconv.Quote(k) + ": " + err.Error()}
		}
		idx := re.FindStringSubmatchIndex(v)
		if idx == nil {
			return false, nil, nil
		}
		return true, captures(v, idx), nil
	}
	return false, nil, nil
}

func captures(v string, idx []int) []string {
	caps := make([]string, len(idx)/2)
	for i := range caps {
		if idx[2*i] >= 0 {
			caps[i] = v[idx[2*i]:idx[2*i+1]]
		}
	}
	return caps
}

func (r *run) pattern(kind, k string, compile func() (*regexp.Regexp, error)) (*regexp.Regexp, error) {
	key := kind + "\x00" + k
	if re, ok := r.patterns[key]; ok {
		return re, nil
	}
	re, err := compile()
	if err != nil {
		return nil, err
	}
	if len(r.patterns) < maxCachedPatterns {
		r.patterns[key] = re
	}
	return re, nil
}

// globToRegexp turns a :matches pattern into an anchored regular
// expression: "*" matches as little as it can and "?" one character, each
// a capture group; a backslash quotes the next character (RFC 5228
// section 2.7.1, RFC 5229 section 3.2).
func globToRegexp(p string) string {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteString(`(.*?)`)
		case '?':
			b.WriteString(`(.)`)
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return b.String()
}

// relate applies a relational operator under a comparator (RFC 5231
// section 4, RFC 4790 section 9).
func relate(comparator, op, a, b string) bool {
	c := compare(comparator, a, b)
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func compare(comparator, a, b string) int {
	switch comparator {
	case "i;ascii-casemap":
		return strings.Compare(asciiLower(a), asciiLower(b))
	case "i;ascii-numeric":
		return compareNumeric(a, b)
	}
	return strings.Compare(a, b)
}

// compareNumeric is i;ascii-numeric: the leading digits as a number, and a
// string without leading digits is positive infinity.
func compareNumeric(a, b string) int {
	na, ia := leadingDigits(a)
	nb, ib := leadingDigits(b)
	switch {
	case ia && ib:
		return 0
	case ia:
		return 1
	case ib:
		return -1
	}
	na = strings.TrimLeft(na, "0")
	nb = strings.TrimLeft(nb, "0")
	if len(na) != len(nb) {
		if len(na) < len(nb) {
			return -1
		}
		return 1
	}
	return strings.Compare(na, nb)
}

func leadingDigits(s string) (string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], i == 0
}
