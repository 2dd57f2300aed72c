package imap

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"cote/storage"
)

// This file exports the SEARCH engine to the admin tool (`coteadm search`,
// `fetch`, `expunge` and the other mail commands run in the user's worker),
// which takes its queries in IMAP SEARCH's language as `doveadm search`
// does: one search key or argument per command-line word.

// SearchQuery is a parsed search query: the mailboxes it names with the
// doveadm key `mailbox NAME` (IMAP LIST wildcards allowed; none means every
// mailbox) and a search program (RFC 9051 section 6.4.4).
type SearchQuery struct {
	// Mailboxes are the names or patterns given with `mailbox`.
	Mailboxes []string
	prog      *searchKey
}

// ParseSearch parses a query given as words, as a shell passes them:
//
//	mailbox INBOX SUBJECT "hello world" SINCE 1-Jan-2026
//	OR FROM alice ( SEEN LARGER 10000 )
//
// Keys are IMAP SEARCH keys, case-insensitive. Beside the IMAP forms, a
// date may be given as YYYY-MM-DD, and BEFORE, SINCE and SAVEDBEFORE...
// take an interval such as 30d (s, m, h, d or w) meaning that long ago, as
// doveadm-search-query(7) allows. `mailbox NAME` may appear only at the
// top level (not under NOT, OR or parentheses). A query with no keys
// matches every message.
func ParseSearch(args []string) (*SearchQuery, error) {
	b := &queryBuilder{args: args, now: time.Now()}
	q := &SearchQuery{}
	var parts []string
	for b.i < len(b.args) {
		if strings.EqualFold(b.args[b.i], "mailbox") {
			if b.i+1 >= len(b.args) {
				return nil, errors.New("mailbox: missing mailbox name")
			}
			q.Mailboxes = append(q.Mailboxes, b.args[b.i+1])
			b.i += 2
			continue
		}
		s, err := b.key(0)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		parts = []string{"ALL"}
	}
	p := &parser{b: []byte(strings.Join(parts, " ")), utf8: true}
	q.prog = parseSearchKeys(p, 0)
	p.end()
	if p.err != nil {
		return nil, fmt.Errorf("search query: %w", p.err)
	}
	return q, nil
}

// Search returns the UIDs of the messages of mbox's snapshot that match
// q, ascending.
func Search(mbox storage.Mailbox, q *SearchQuery) ([]uint32, error) {
	walkKeys(q.prog, func(k *searchKey) { k.fts, k.ftsExact = nil, false })
	s := &session{mbox: mbox, mode: modes{condstore: true, rev2: true, utf8: true}}
	s.view = newView(mbox.Messages(), &s.mode)
	found, _, err := s.search(q.prog)
	if err != nil {
		return nil, err
	}
	uids := make([]uint32, len(found))
	for i, idx := range found {
		uids[i] = s.view.msgs[idx].UID
	}
	return uids, nil
}

// queryBuilder turns words into the text of a search program, quoting
// string arguments and converting doveadm's date forms, so that the
// IMAP parser reads it.
type queryBuilder struct {
	args []string
	i    int
	now  time.Time
}

func (b *queryBuilder) next(what string) (string, error) {
	if b.i >= len(b.args) {
		return "", fmt.Errorf("search query: %s: missing argument", what)
	}
	s := b.args[b.i]
	b.i++
	return s, nil
}

// key converts one search key with its arguments.
func (b *queryBuilder) key(depth int) (string, error) {
	if depth > maxSearchDepth {
		return "", errors.New("search query nested too deeply")
	}
	word, err := b.next("search key")
	if err != nil {
		return "", err
	}
	if word == "(" {
		var parts []string
		for {
			if b.i >= len(b.args) {
				return "", errors.New("search query: missing )")
			}
			if b.args[b.i] == ")" {
				b.i++
				break
			}
			if strings.EqualFold(b.args[b.i], "mailbox") {
				return "", errors.New("search query: mailbox is allowed only at the top level")
			}
			s, err := b.key(depth + 1)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "", errors.New("search query: empty parentheses")
		}
		return "(" + strings.Join(parts, " ") + ")", nil
	}
	op := strings.ToUpper(word)
	switch op {
	case "NOT", "OR":
		n := 1
		if op == "OR" {
			n = 2
		}
		out := op
		for range n {
			if b.i < len(b.args) && strings.EqualFold(b.args[b.i], "mailbox") {
				return "", errors.New("search query: mailbox is allowed only at the top level")
			}
			s, err := b.key(depth + 1)
			if err != nil {
				return "", err
			}
			out += " " + s
		}
		return out, nil
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		v, err := b.next(op)
		if err != nil {
			return "", err
		}
		q, err := quote(v)
		return op + " " + q, err
	case "HEADER":
		name, err := b.next(op)
		if err != nil {
			return "", err
		}
		v, err := b.next(op)
		if err != nil {
			return "", err
		}
		qn, err := quote(name)
		if err != nil {
			return "", err
		}
		qv, err := quote(v)
		return op + " " + qn + " " + qv, err
	case "KEYWORD", "UNKEYWORD", "LARGER", "SMALLER", "OLDER", "YOUNGER", "MODSEQ", "UID":
		v, err := b.next(op)
		if err != nil {
			return "", err
		}
		return op + " " + v, nil
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
		"SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		v, err := b.next(op)
		if err != nil {
			return "", err
		}
		return b.date(op, v)
	}
	return word, nil
}

// intervalRE is compiled on first use, as the regular expressions of
// every package are compiled at the start of every process otherwise.
var intervalRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+)\s*(s|secs?|m|mins?|h|hours?|d|days?|w|weeks?)$`)
})

// date converts a date key's argument: an IMAP date stays as it is,
// YYYY-MM-DD becomes one, and an interval becomes OLDER or YOUNGER for
// the internal date (exact to the second) or the date that long ago for
// the others.
func (b *queryBuilder) date(op, v string) (string, error) {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return op + " " + t.Format("2-Jan-2006"), nil
	}
	m := intervalRE().FindStringSubmatch(strings.ToLower(v))
	if m == nil {
		return op + " " + v, nil
	}
	n, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil {
		return "", fmt.Errorf("search query: %s: bad interval %q", op, v)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[m[2][0]]
	d := time.Duration(n) * unit
	switch op {
	case "BEFORE":
		return "OLDER " + strconv.FormatInt(max(1, int64(d/time.Second)), 10), nil
	case "SINCE":
		return "YOUNGER " + strconv.FormatInt(max(1, int64(d/time.Second)), 10), nil
	}
	return op + " " + b.now.Add(-d).Format("2-Jan-2006"), nil
}

// quote makes an IMAP quoted string (RFC 9051 section 4.3); a string with
// CR, LF or NUL cannot be one.
func quote(s string) (string, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("search query: %q: line breaks are not allowed", s)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`, nil
}
