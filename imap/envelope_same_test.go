package imap

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// The address and field parsers were rewritten to allocate less; these
// are the versions before, and the fuzz targets check that both give
// the same results.

func FuzzAddressListSame(f *testing.F) {
	for _, s := range []string{
		"Sender 5 <sender5@example.org>",
		"user@example.com, \"Other, Person\" <other@example.net>",
		"(comment) a@b.c (Real Name), x.y@[1.2.3.4]",
		"undisclosed-recipients:;",
		"Group: a@b, \"q\\\"d\" <c@d>; e@f",
		"<@r1,@r2:u@h>",
		"J. Doe <j . doe @ example . org>",
		"\"unterminated <a@b>",
		"(nested (comment)) a@b",
		"=?utf-8?q?J=C3=BCrgen?= <jurgen@example.com>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := parseAddressList(s), refParseAddressList(s)
		if !slices.Equal(got, want) {
			t.Errorf("parseAddressList(%q) = %+v, want %+v", s, got, want)
		}
	})
}

func FuzzFieldValueSame(f *testing.F) {
	for _, s := range []string{
		"Subject: hello\r\n", "Subject:  a\r\n b \r\n", "X:\r\n\tfolded\r\n", "X: a\r\r\n",
		"X: a \n \r\n", "X:\r", "no colon", "X: \r a\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := fieldValue(raw), refFieldValue(raw); got != want {
			t.Errorf("fieldValue(%q) = %q, want %q", raw, got, want)
		}
	})
}

func refFieldValue(raw []byte) string {
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return ""
	}
	v := raw[i+1:]
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.Trim(string(v), " \t\r")
}

type refAddrToken struct {
	special byte // 0 for a word
	text    string
	quoted  bool
}

// refLexAddresses splits an address header, dropping comments and
// remembering the first comment's text.
func refLexAddresses(s string) (toks []refAddrToken, comments []string) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			depth, j := 0, i
			var sb strings.Builder
			for ; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					sb.WriteByte(s[j])
					continue
				}
				if s[j] == '(' {
					depth++
					if depth == 1 {
						continue
					}
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
				sb.WriteByte(s[j])
			}
			comments = append(comments, strings.TrimSpace(sb.String()))
			i = j + 1
		case c == '"':
			var sb strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				sb.WriteByte(s[j])
			}
			toks = append(toks, refAddrToken{text: sb.String(), quoted: true})
			i = j + 1
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, refAddrToken{text: s[i : i+j+1]})
			i += j + 1
		case strings.IndexByte("<>@,:;.", c) >= 0:
			toks = append(toks, refAddrToken{special: c})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n()\"[<>@,:;.", s[j]) < 0 {
				j++
			}
			if j == i {
				i++ // a stray ")": skip it
				continue
			}
			toks = append(toks, refAddrToken{text: s[i:j]})
			i = j
		}
	}
	return toks, comments
}

// refMaxAddresses bounds the addresses taken from one header.
const refMaxAddresses = 1000

// refParseAddressList parses an RFC 5322 section 3.4 address-list leniently,
// groups included, leaving encoded-words as they are.
func refParseAddressList(s string) []address {
	toks, comments := refLexAddresses(s)
	var out []address
	inGroup := false
	for i := 0; i < len(toks) && len(out) < refMaxAddresses; {
		t := toks[i]
		if t.special == ',' {
			i++
			continue
		}
		if t.special == ';' {
			if inGroup {
				out = append(out, address{groupEnd: true})
				inGroup = false
			}
			i++
			continue
		}
		// Find what ends this address's leading words.
		j := i
		for j < len(toks) && toks[j].special != ',' && toks[j].special != ':' &&
			toks[j].special != '<' && toks[j].special != ';' {
			j++
		}
		switch {
		case j < len(toks) && toks[j].special == ':' && !inGroup:
			out = append(out, address{groupStart: true, mailbox: refPhrase(toks[i:j])})
			inGroup = true
			i = j + 1
		case j < len(toks) && toks[j].special == '<':
			a := address{}
			if j > i {
				a.name, a.hasName = refPhrase(toks[i:j]), true
			}
			k := j + 1
			for k < len(toks) && toks[k].special != '>' {
				k++
			}
			inner := toks[j+1 : k]
			// Obsolete route: "@a,@b:" before the addr-spec.
			if n := refIndexSpecial(inner, ':'); n >= 0 && len(inner) > 0 && inner[0].special == '@' {
				a.adl, a.hasAdl = refJoinTokens(inner[:n]), true
				inner = inner[n+1:]
			}
			a.mailbox, a.host = refAddrSpec(inner)
			if len(inner) > 0 || a.hasName {
				out = append(out, a)
			}
			i = k + 1
		default:
			if j > i {
				a := address{}
				a.mailbox, a.host = refAddrSpec(toks[i:j])
				if len(comments) > 0 && comments[0] != "" {
					a.name, a.hasName = comments[0], true
					comments = comments[1:]
				}
				out = append(out, a)
			}
			i = j
			if i < len(toks) && toks[i].special == ':' {
				i++ // a stray colon inside a group
			}
		}
	}
	if inGroup {
		out = append(out, address{groupEnd: true})
	}
	return out
}

func refIndexSpecial(toks []refAddrToken, c byte) int {
	for i, t := range toks {
		if t.special == c {
			return i
		}
	}
	return -1
}

// refPhrase joins display-name words with single spaces; "." attaches to the
// word before it (obs-refPhrase).
func refPhrase(toks []refAddrToken) string {
	var sb strings.Builder
	for i, t := range toks {
		if t.special != 0 {
			sb.WriteByte(t.special)
			continue
		}
		if i > 0 && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(t.text)
	}
	return sb.String()
}

// refJoinTokens concatenates tokens without spaces.
func refJoinTokens(toks []refAddrToken) string {
	var sb strings.Builder
	for _, t := range toks {
		if t.special != 0 {
			sb.WriteByte(t.special)
		} else {
			sb.WriteString(t.text)
		}
	}
	return sb.String()
}

// refAddrSpec splits local-part "@" domain at the last "@".
func refAddrSpec(toks []refAddrToken) (mailbox, host string) {
	at := -1
	for i, t := range toks {
		if t.special == '@' {
			at = i
		}
	}
	if at < 0 {
		return refJoinTokens(toks), ""
	}
	return refJoinTokens(toks[:at]), refJoinTokens(toks[at+1:])
}
func refParseParams(s string) []param {
	var params []param
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t;")
		if s == "" {
			break
		}
		eq := strings.IndexAny(s, "=;")
		if eq < 0 || s[eq] == ';' {
			// A parameter without a value: skip it.
			if eq < 0 {
				break
			}
			s = s[eq:]
			continue
		}
		name := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			var sb strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				sb.WriteByte(s[i])
			}
			value = sb.String()
			s = s[min(i+1, len(s)):]
			if j := strings.IndexByte(s, ';'); j >= 0 {
				s = s[j:]
			} else {
				s = ""
			}
		} else {
			j := strings.IndexByte(s, ';')
			if j < 0 {
				j = len(s)
			}
			value = strings.TrimSpace(s[:j])
			s = s[j:]
		}
		if name != "" && len(params) < 100 {
			params = append(params, param{name, value})
		}
	}
	return params
}
func (e *enc) refStr(s string) *enc {
	if !quotable(s) {
		return e.literal([]byte(s))
	}
	e.b = append(e.b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			e.b = append(e.b, '\\')
		}
		e.b = append(e.b, s[i])
	}
	e.b = append(e.b, '"')
	return e
}

func FuzzParamsSame(f *testing.F) {
	for _, s := range []string{
		`; charset="utf-8"; format=flowed`, `;boundary="a\"b"; x`, `; name="unterminated`, `;a=;b="";c`,
		`; filename="x y.txt" ; size=12`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := parseParams(s), refParseParams(s); !slices.Equal(got, want) {
			t.Errorf("parseParams(%q) = %q, want %q", s, got, want)
		}
		var got, want enc
		got.str(s)
		want.refStr(s)
		if !bytes.Equal(got.b, want.b) {
			t.Errorf("str(%q) = %q, want %q", s, got.b, want.b)
		}
	})
}
