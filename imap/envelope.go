package imap

import "strings"

// writeEnvelope writes a message's ENVELOPE (RFC 3501 section 7.4.2):
// header values as they are (encoded-words are not decoded), NIL for an
// absent field, Sender and Reply-To defaulting to From.
func writeEnvelope(e *enc, p *part) {
	str := func(name string) {
		v, ok := p.get(name)
		e.nstr(v, ok)
	}
	addrs := func(name string) []address {
		v, _ := p.get(name)
		return parseAddressList(v)
	}
	from := addrs("From")
	sender, replyTo := addrs("Sender"), addrs("Reply-To")
	if len(sender) == 0 {
		sender = from
	}
	if len(replyTo) == 0 {
		replyTo = from
	}
	e.open()
	str("Date")
	e.sp()
	str("Subject")
	e.sp()
	writeAddresses(e, from)
	e.sp()
	writeAddresses(e, sender)
	e.sp()
	writeAddresses(e, replyTo)
	for _, name := range []string{"To", "Cc", "Bcc"} {
		e.sp()
		writeAddresses(e, addrs(name))
	}
	e.sp()
	str("In-Reply-To")
	e.sp()
	str("Message-ID")
	e.close()
}

// address is one ENVELOPE address structure. A group start has only
// mailbox (the group name); a group end has nothing (RFC 3501 section 9
// "address").
type address struct {
	name, adl, mailbox, host string
	hasName, hasAdl          bool
	groupStart, groupEnd     bool
}

func writeAddresses(e *enc, list []address) {
	if len(list) == 0 {
		e.nil()
		return
	}
	e.open()
	for _, a := range list {
		switch {
		case a.groupEnd:
			e.raw("(NIL NIL NIL NIL)")
		case a.groupStart:
			e.raw("(NIL NIL ").str(a.mailbox).raw(" NIL)")
		default:
			e.open().nstr(a.name, a.hasName).sp().nstr(a.adl, a.hasAdl).sp().str(a.mailbox).sp().str(a.host).close()
		}
	}
	e.close()
}

// addrToken is a lexical token of an address header: a word (atom,
// quoted string or domain literal) or one special character.
type addrToken struct {
	special byte // 0 for a word
	text    string
	quoted  bool
	// start and end are the token's place in the header value; text is
	// value[start:end] for words that are not quoted.
	start, end int
}

// lexAddresses splits an address header, dropping comments and
// remembering the first comment's text.
// The tokens are appended to toks.
func lexAddresses(s string, toks []addrToken) (_ []addrToken, comments []string) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(' && simpleComment(s[i:]) > 0:
			j := i + simpleComment(s[i:])
			comments = append(comments, strings.TrimSpace(s[i+1:j]))
			i = j + 1
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
		case c == '"' && simpleQuoted(s[i:]) > 0:
			j := i + simpleQuoted(s[i:])
			toks = append(toks, addrToken{text: s[i+1 : j], quoted: true, start: i, end: j + 1})
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
			toks = append(toks, addrToken{text: sb.String(), quoted: true, start: i, end: min(j+1, len(s))})
			i = j + 1
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, addrToken{text: s[i : i+j+1], start: i, end: i + j + 1})
			i += j + 1
		case strings.IndexByte("<>@,:;.", c) >= 0:
			toks = append(toks, addrToken{special: c, start: i, end: i + 1})
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
			toks = append(toks, addrToken{text: s[i:j], start: i, end: j})
			i = j
		}
	}
	return toks, comments
}

// simpleComment returns the offset of the ")" closing the comment that
// s starts with when it has no nested comment and no quoted pair (its
// text is then what lies between), 0 otherwise.
func simpleComment(s string) int {
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case ')':
			return j
		case '(', '\\':
			return 0
		}
	}
	return 0
}

// simpleQuoted returns the offset of the closing quote of the quoted
// string s starts with when it has no quoted pair, 0 otherwise.
func simpleQuoted(s string) int {
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '"':
			return j
		case '\\':
			return 0
		}
	}
	return 0
}

// maxAddresses bounds the addresses taken from one header.
const maxAddresses = 1000

// parseAddressList parses an RFC 5322 section 3.4 address-list leniently,
// groups included, leaving encoded-words as they are.
func parseAddressList(s string) []address {
	var buf [24]addrToken // most headers: no allocation for the tokens
	toks, comments := lexAddresses(s, buf[:0])
	var out []address
	inGroup := false
	for i := 0; i < len(toks) && len(out) < maxAddresses; {
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
			out = append(out, address{groupStart: true, mailbox: phrase(toks[i:j])})
			inGroup = true
			i = j + 1
		case j < len(toks) && toks[j].special == '<':
			a := address{}
			if j > i {
				a.name, a.hasName = phrase(toks[i:j]), true
			}
			k := j + 1
			for k < len(toks) && toks[k].special != '>' {
				k++
			}
			inner := toks[j+1 : k]
			// Obsolete route: "@a,@b:" before the addr-spec.
			if n := indexSpecial(inner, ':'); n >= 0 && len(inner) > 0 && inner[0].special == '@' {
				a.adl, a.hasAdl = joinTokens(s, inner[:n]), true
				inner = inner[n+1:]
			}
			a.mailbox, a.host = addrSpec(s, inner)
			if len(inner) > 0 || a.hasName {
				out = append(out, a)
			}
			i = k + 1
		default:
			if j > i {
				a := address{}
				a.mailbox, a.host = addrSpec(s, toks[i:j])
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

func indexSpecial(toks []addrToken, c byte) int {
	for i, t := range toks {
		if t.special == c {
			return i
		}
	}
	return -1
}

// phrase joins display-name words with single spaces; "." attaches to the
// word before it (obs-phrase).
func phrase(toks []addrToken) string {
	if len(toks) == 1 && toks[0].special == 0 {
		return toks[0].text
	}
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

// joinTokens concatenates tokens of the header value v without spaces.
func joinTokens(v string, toks []addrToken) string {
	if len(toks) == 1 && toks[0].special == 0 {
		return toks[0].text
	}
	// Unquoted tokens side by side are their bytes in v.
	contiguous := len(toks) > 0
	for k, t := range toks {
		if t.quoted || k > 0 && t.start != toks[k-1].end {
			contiguous = false
			break
		}
	}
	if contiguous {
		return v[toks[0].start:toks[len(toks)-1].end]
	}
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

// addrSpec splits local-part "@" domain at the last "@".
func addrSpec(v string, toks []addrToken) (mailbox, host string) {
	at := -1
	for i, t := range toks {
		if t.special == '@' {
			at = i
		}
	}
	if at < 0 {
		return joinTokens(v, toks), ""
	}
	return joinTokens(v, toks[:at]), joinTokens(v, toks[at+1:])
}
