package sql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cote/auth/dbconf"
)

// Dialect is the placeholder syntax of a driver.
type Dialect int

// The supported dialects.
const (
	SQLite Dialect = iota // ?
	PgSQL                 // $1, $2, ...
)

// Query is a Dovecot query template rewritten so that every %-variable is
// a bound parameter: Text has placeholders, Params the variables in
// placeholder order. No value is ever written into Text.
type Query struct {
	Text   string
	Params []dbconf.Segment
}

// Args resolves the parameters for one lookup.
func (q Query) Args(lookup func(string) (string, bool)) ([]any, error) {
	args := make([]any, len(q.Params))
	for i, p := range q.Params {
		v, err := p.Value(lookup)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return args, nil
}

// Rewrite turns a Dovecot query such as
//
//	SELECT password FROM users WHERE username = '%n' AND domain = '%d'
//
// into one with placeholders. A string literal that is one variable
// ('%u') becomes a placeholder; a literal that mixes text and variables
// ('%n@%d') becomes a concatenation of quoted text and placeholders
// ('...' || ? || '...'); a variable outside any literal becomes a
// placeholder. Variables inside comments are left alone (they are
// comments); variables inside quoted identifiers, E” strings, or
// placeholders already in the query are refused.
func Rewrite(q string, d Dialect) (Query, error) {
	r := rewriter{d: d}
	if err := r.run(q); err != nil {
		return Query{}, err
	}
	return Query{Text: r.out.String(), Params: r.params}, nil
}

type rewriter struct {
	d      Dialect
	out    strings.Builder
	params []dbconf.Segment
	plain  strings.Builder // text outside literals not yet emitted
}

func (r *rewriter) placeholder(s dbconf.Segment, inConcat bool) string {
	r.params = append(r.params, s)
	if r.d == SQLite {
		return "?"
	}
	p := "$" + strconv.Itoa(len(r.params))
	if inConcat {
		return "CAST(" + p + " AS text)"
	}
	return p
}

// flushPlain emits unquoted text, turning its variables into
// placeholders.
func (r *rewriter) flushPlain() error {
	text := r.plain.String()
	r.plain.Reset()
	if text == "" {
		return nil
	}
	if err := r.checkPlaceholders(text); err != nil {
		return err
	}
	t, err := dbconf.ParseTemplate(text, nil)
	if err != nil {
		return err
	}
	for _, s := range t {
		if s.Var == "" {
			r.out.WriteString(s.Lit)
		} else {
			r.out.WriteString(r.placeholder(s, false))
		}
	}
	return nil
}

// checkPlaceholders refuses placeholders of the query's own, which would
// be confused with the ones the rewrite adds.
func (r *rewriter) checkPlaceholders(text string) error {
	switch r.d {
	case SQLite:
		for i := 0; i < len(text); i++ {
			switch text[i] {
			case '?':
				return errors.New("query has its own ? placeholder; use %-variables")
			case ':', '@', '$':
				if i+1 < len(text) && isIdentStart(text[i+1]) {
					return fmt.Errorf("query has its own %c parameter; use %%-variables", text[i])
				}
			}
		}
	case PgSQL:
		for i := 0; i+1 < len(text); i++ {
			if text[i] == '$' && (text[i+1] >= '0' && text[i+1] <= '9' || text[i+1] == '$') {
				return errors.New("query has its own $ placeholder or dollar quote; use %-variables")
			}
		}
	}
	return nil
}

func (r *rewriter) run(q string) error {
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			eprefix := r.endsInEPrefix()
			end, content, err := scanQuoted(q, i, '\'')
			if err != nil {
				return err
			}
			if err := r.flushPlain(); err != nil {
				return err
			}
			if err := r.literal(q[i:end], content, eprefix); err != nil {
				return err
			}
			i = end - 1
		case c == '"':
			end, content, err := scanQuoted(q, i, '"')
			if err != nil {
				return err
			}
			if strings.Contains(content, "%") {
				return errors.New("variables are not allowed in a quoted identifier")
			}
			if err := r.flushPlain(); err != nil {
				return err
			}
			r.out.WriteString(q[i:end])
			i = end - 1
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				end = len(q) - i
			}
			if err := r.flushPlain(); err != nil {
				return err
			}
			r.out.WriteString(q[i : i+end])
			i += end - 1
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return errors.New("unterminated /* comment")
			}
			if err := r.flushPlain(); err != nil {
				return err
			}
			r.out.WriteString(q[i : i+2+end+2])
			i += 2 + end + 1
		default:
			r.plain.WriteByte(c)
		}
	}
	return r.flushPlain()
}

// endsInEPrefix reports whether the pending text ends in a lone E or e,
// the prefix of a PostgreSQL escape string (E'...').
func (r *rewriter) endsInEPrefix() bool {
	p := r.plain.String()
	if p == "" || (p[len(p)-1] != 'E' && p[len(p)-1] != 'e') {
		return false
	}
	if len(p) == 1 {
		return true
	}
	b := p[len(p)-2]
	return !(b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9')
}

// literal emits one string literal, raw as written and content unescaped.
func (r *rewriter) literal(raw, content string, eprefix bool) error {
	if !strings.Contains(content, "%") {
		r.out.WriteString(raw)
		return nil
	}
	if eprefix {
		return errors.New("variables are not allowed in an E'' string")
	}
	t, err := dbconf.ParseTemplate(content, nil)
	if err != nil {
		return err
	}
	if !t.HasVars() {
		// Only %% escapes: the literal with them undone.
		r.out.WriteString(quote(t[0].Lit))
		return nil
	}
	if len(t) == 1 {
		r.out.WriteString(r.placeholder(t[0], false))
		return nil
	}
	parts := make([]string, len(t))
	for i, s := range t {
		if s.Var == "" {
			parts[i] = quote(s.Lit)
		} else {
			parts[i] = r.placeholder(s, true)
		}
	}
	r.out.WriteString("(" + strings.Join(parts, " || ") + ")")
	return nil
}

func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// scanQuoted finds the end of a quoted token starting at q[i] (a doubled
// quote inside is an escaped quote). It returns the index after the
// closing quote and the content with doubled quotes undone.
func scanQuoted(q string, i int, quoteChar byte) (int, string, error) {
	var b strings.Builder
	for j := i + 1; j < len(q); j++ {
		if q[j] != quoteChar {
			b.WriteByte(q[j])
			continue
		}
		if j+1 < len(q) && q[j+1] == quoteChar {
			b.WriteByte(quoteChar)
			j++
			continue
		}
		return j + 1, b.String(), nil
	}
	return 0, "", fmt.Errorf("unterminated %c quote", quoteChar)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
