package index

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits are a user's quota limits; 0 means none.
type Limits struct {
	Storage  int64 // bytes
	Messages int64
}

var errQuotaRule = errors.New("bad quota rule")

// ParseQuotaRules parses the values of Dovecot's quota_rule, quota_rule2,
// ... settings (doc/wiki Quota.Configuration): "<mailbox>:<limit>[:<limit>]"
// where a limit is storage=<n>[BKMGT] (kilobytes without a unit),
// bytes=<n>[BKMGT] (bytes without a unit), messages=<n>, or ignore. Only
// rules for "*" (the user's total) set limits; rules for one mailbox are
// accepted and not enforced. A later rule overrides an earlier one's
// values; 0 means unlimited.
func ParseQuotaRules(rules []string) (Limits, error) {
	var l Limits
	for _, r := range rules {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		box, rest, ok := strings.Cut(r, ":")
		if !ok || box == "" {
			return Limits{}, fmt.Errorf("%w %q: want <mailbox>:<limits>", errQuotaRule, r)
		}
		for _, lim := range strings.Split(rest, ":") {
			lim = strings.TrimSpace(lim)
			if lim == "" || strings.EqualFold(lim, "ignore") || strings.EqualFold(lim, "noenforcing") {
				continue
			}
			k, v, ok := strings.Cut(lim, "=")
			if !ok {
				return Limits{}, fmt.Errorf("%w %q: limit %q", errQuotaRule, r, lim)
			}
			var n int64
			var err error
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "storage":
				n, err = parseSize(v, 1024)
				if box == "*" {
					l.Storage = n
				}
			case "bytes":
				n, err = parseSize(v, 1)
				if box == "*" {
					l.Storage = n
				}
			case "messages":
				n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err == nil && n < 0 {
					err = errQuotaRule
				}
				if box == "*" {
					l.Messages = n
				}
			case "backend":
			default:
				return Limits{}, fmt.Errorf("%w %q: unknown limit %q", errQuotaRule, r, k)
			}
			if err != nil {
				return Limits{}, fmt.Errorf("%w %q: value %q", errQuotaRule, r, v)
			}
		}
	}
	return l, nil
}

// parseSize parses a size with an optional B, K, M, G or T unit (any
// case, an optional trailing "B" as in "1GB"); unit is the multiplier
// without one. Relative ("+10M") and percent values only make sense for
// per-mailbox rules and are refused.
func parseSize(v string, unit int64) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, "+-%") {
		return 0, errQuotaRule
	}
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, errQuotaRule
	}
	suffix := strings.ToUpper(v[i:])
	if len(suffix) == 2 && suffix[1] == 'B' {
		suffix = suffix[:1]
	}
	mult := unit
	switch suffix {
	case "":
	case "B":
		mult = 1
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, errQuotaRule
	}
	if n > (1<<62)/mult {
		return 0, errQuotaRule
	}
	return n * mult, nil
}
