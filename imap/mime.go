package imap

import (
	"bytes"
	"strings"
)

// Limits of the MIME parser, against hostile nesting.
const (
	maxMIMEDepth = 50
	maxMIMEParts = 5000
)

// headerField is one header field as it appears in the message.
type headerField struct {
	name string // as written
	raw  []byte // the field's lines, CRLF included
}

// value returns the field's unfolded value, surrounding white space
// trimmed. It is made when asked for: a FETCH of cached header fields
// or of a structure reads a few fields of the twenty or more a header
// has.
func (f headerField) value() string { return fieldValue(f.raw) }

// part is one MIME entity of a message, as byte offsets into the raw
// message (RFC 2045, RFC 2046) so that BODY[section] returns exact bytes.
type part struct {
	start     int // start of the header
	bodyStart int // first byte after the header's blank line
	end       int // end of the body
	header    []headerField
	hasCT     bool   // Content-Type present and valid
	typ, sub  string // as written; defaults "text" "plain"
	params    []param
	children  []*part // multipart
	msg       *part   // message/rfc822: the encapsulated message
	// lines is the body's line count when it came from the cache
	// (linesKnown); otherwise it is counted from the bytes.
	lines      int64
	linesKnown bool
}

// lineCount returns the body's lines (RFC 9051 body-fld-lines).
func (p *part) lineCount(raw []byte) uint32 {
	if p.linesKnown {
		return uint32(p.lines)
	}
	return countLines(raw[p.bodyStart:p.end])
}

// setType sets the content type from the header, or the default
// (RFC 2045 section 5.2; message/rfc822 in a digest, RFC 2046 section
// 5.1.5).
func (p *part) setType(inDigest bool) {
	if v, ok := p.get("Content-Type"); ok {
		p.typ, p.sub, p.params, p.hasCT = parseContentType(v)
	}
	if !p.hasCT {
		p.typ, p.sub, p.params = "text", "plain", []param{{"charset", "us-ascii"}}
		if inDigest {
			p.typ, p.sub, p.params = "message", "rfc822", nil
		}
	}
}

type param struct{ name, value string }

// get returns the first field with the name (case-insensitive).
func (p *part) get(name string) (string, bool) {
	for _, f := range p.header {
		if strings.EqualFold(f.name, name) {
			return f.value(), true
		}
	}
	return "", false
}

func (p *part) isType(typ, sub string) bool {
	return strings.EqualFold(p.typ, typ) && (sub == "" || strings.EqualFold(p.sub, sub))
}

func (p *part) isMultipart() bool { return p.isType("multipart", "") && p.children != nil }

// isMessage reports message/rfc822 (and RFC 6532's message/global) with
// a parsed encapsulated message.
func (p *part) isMessage() bool { return p.msg != nil }

// parseMessage parses a whole message.
func parseMessage(raw []byte) *part {
	n := 0
	return parsePart(raw, 0, len(raw), false, 0, &n)
}

// parsePart parses the entity in raw[start:end]. inDigest makes
// message/rfc822 the default type (RFC 2046 section 5.1.5).
func parsePart(raw []byte, start, end int, inDigest bool, depth int, count *int) *part {
	*count++
	p := &part{start: start, end: end}
	p.header, p.bodyStart = parseHeader(raw, start, end)
	p.setType(inDigest)
	if depth >= maxMIMEDepth || *count >= maxMIMEParts {
		return p
	}
	switch {
	case p.isType("multipart", ""):
		boundary := p.param("boundary")
		p.children = []*part{}
		if boundary == "" {
			break
		}
		digest := p.isType("multipart", "digest")
		for _, r := range splitMultipart(raw, p.bodyStart, end, boundary) {
			if *count >= maxMIMEParts {
				break
			}
			p.children = append(p.children, parsePart(raw, r[0], r[1], digest, depth+1, count))
		}
	case p.isType("message", "rfc822"), p.isType("message", "global"):
		p.msg = parsePart(raw, p.bodyStart, end, false, depth+1, count)
	}
	return p
}

func (p *part) param(name string) string {
	for _, pr := range p.params {
		if strings.EqualFold(pr.name, name) {
			return pr.value
		}
	}
	return ""
}

// parseHeader reads header fields from raw[start:end] and returns them
// with the offset where the body starts (after the blank line; end when
// there is none). Lines without a colon are kept in no field.
func parseHeader(raw []byte, start, end int) ([]headerField, int) {
	// A field a line at most: one allocation for the slice, up to the
	// blank line (or a bound, for a long header).
	n := 0
	for i := start; i < end && n < 64; n++ {
		j := bytes.IndexByte(raw[i:end], '\n')
		if j < 0 || j <= 1 && (j == 0 || raw[i] == '\r') {
			break
		}
		i += j + 1
	}
	fields := make([]headerField, 0, n+1)
	pos, bodyStart := start, end
	for pos < end {
		lineEnd := bytes.IndexByte(raw[pos:end], '\n')
		next := end
		if lineEnd >= 0 {
			next = pos + lineEnd + 1
		}
		line := raw[pos:next]
		if isBlankLine(line) {
			bodyStart = next
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			f := &fields[len(fields)-1]
			f.raw = raw[pos-len(f.raw) : next]
		} else if i := bytes.IndexByte(line, ':'); i > 0 {
			fields = append(fields, headerField{name: fieldName(bytes.TrimRight(line[:i], " \t")), raw: line})
		} else {
			fields = append(fields, headerField{raw: line})
		}
		pos = next
	}
	return fields, bodyStart
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// fieldValue returns the unfolded value of a raw field (RFC 5322 section
// 2.2.3: folding CRLFs are removed, the white space stays).
func fieldValue(raw []byte) string {
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return ""
	}
	v := raw[i+1:]
	// The common case, a field on one line: trimming is all there is
	// to do (the line end is trimmed as white space would be after the
	// CRLFs are removed).
	end := len(v)
	for end > 0 && (v[end-1] == ' ' || v[end-1] == '\t' || v[end-1] == '\r' || v[end-1] == '\n') {
		end--
	}
	if bytes.IndexByte(v[:end], '\n') < 0 {
		start := 0
		for start < end && (v[start] == ' ' || v[start] == '\t' || v[start] == '\r') {
			start++
		}
		return string(v[start:end])
	}
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.Trim(string(v), " \t\r")
}

// splitMultipart returns the [start, end) ranges of the body parts
// between boundary delimiter lines (RFC 2046 section 5.1.1). The CRLF
// before a delimiter belongs to the delimiter. Preamble and epilogue are
// dropped; a missing close delimiter ends the last part at end.
func splitMultipart(raw []byte, start, end int, boundary string) [][2]int {
	delim := []byte("--" + boundary)
	var ranges [][2]int
	partStart := -1
	pos := start
	for pos < end {
		lineEnd := bytes.IndexByte(raw[pos:end], '\n')
		next := end
		if lineEnd >= 0 {
			next = pos + lineEnd + 1
		}
		line := raw[pos:next]
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r\n")
			closing := bytes.Equal(rest, []byte("--"))
			if closing || len(rest) == 0 {
				if partStart >= 0 {
					ranges = append(ranges, [2]int{partStart, trimPrecedingNewline(raw, partStart, pos)})
				}
				if closing {
					return ranges
				}
				partStart = next
			}
		}
		pos = next
	}
	if partStart >= 0 {
		ranges = append(ranges, [2]int{partStart, end})
	}
	return ranges
}

// trimPrecedingNewline drops the CRLF (or LF) before pos, not before min.
func trimPrecedingNewline(raw []byte, min, pos int) int {
	if pos > min && raw[pos-1] == '\n' {
		pos--
		if pos > min && raw[pos-1] == '\r' {
			pos--
		}
	}
	return pos
}

// parseContentType parses "type/subtype *(; name=value)" keeping the
// parameters in order and as written (RFC 2045 section 5.1). ok is false
// when the type is not valid, and the default applies.
func parseContentType(v string) (typ, sub string, params []param, ok bool) {
	v = stripComments(v)
	mt, rest, _ := strings.Cut(v, ";")
	typ, sub, found := strings.Cut(strings.TrimSpace(mt), "/")
	typ, sub = strings.TrimSpace(typ), strings.TrimSpace(sub)
	if !found || !isToken(typ) || !isToken(sub) {
		return "", "", nil, false
	}
	return typ, sub, parseParams(rest), true
}

// parseParams parses "name=value; name="quoted"" leniently.
func parseParams(s string) []param {
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
		if j := strings.IndexAny(s[min(1, len(s)):], `"\\`); strings.HasPrefix(s, `"`) && j >= 0 && s[1+j] == '"' {
			// A quoted value without quoted pairs: its bytes.
			value = s[1 : 1+j]
			s = s[2+j:]
			if j := strings.IndexByte(s, ';'); j >= 0 {
				s = s[j:]
			} else {
				s = ""
			}
		} else if strings.HasPrefix(s, `"`) {
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

// stripComments removes RFC 5322 comments outside quoted strings.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var sb strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			sb.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				sb.WriteByte(s[i])
			} else if c == '"' {
				quoted = false
			}
		case depth > 0:
			if c == '\\' {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '"':
			quoted = true
			sb.WriteByte(c)
		case c == '(':
			depth++
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// isToken reports an RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// fieldName returns b as a string, without allocating for the names
// messages usually carry, written as they usually are.
func fieldName(b []byte) string {
	switch string(b) {
	case "Date":
		return "Date"
	case "Subject":
		return "Subject"
	case "From":
		return "From"
	case "Sender":
		return "Sender"
	case "Reply-To":
		return "Reply-To"
	case "To":
		return "To"
	case "Cc":
		return "Cc"
	case "Bcc":
		return "Bcc"
	case "In-Reply-To":
		return "In-Reply-To"
	case "Message-ID":
		return "Message-ID"
	case "Message-Id":
		return "Message-Id"
	case "References":
		return "References"
	case "MIME-Version":
		return "MIME-Version"
	case "Mime-Version":
		return "Mime-Version"
	case "Content-Type":
		return "Content-Type"
	case "Content-Transfer-Encoding":
		return "Content-Transfer-Encoding"
	case "Content-Disposition":
		return "Content-Disposition"
	case "Content-ID":
		return "Content-ID"
	case "Content-Description":
		return "Content-Description"
	case "Content-Language":
		return "Content-Language"
	case "Content-Location":
		return "Content-Location"
	case "Content-MD5":
		return "Content-MD5"
	case "Return-Path":
		return "Return-Path"
	case "Received":
		return "Received"
	case "Delivered-To":
		return "Delivered-To"
	case "X-Mailer":
		return "X-Mailer"
	case "User-Agent":
		return "User-Agent"
	case "List-Id":
		return "List-Id"
	case "List-Unsubscribe":
		return "List-Unsubscribe"
	case "List-Post":
		return "List-Post"
	case "X-Priority":
		return "X-Priority"
	case "Priority":
		return "Priority"
	case "Importance":
		return "Importance"
	case "X-Spam-Status":
		return "X-Spam-Status"
	case "X-Spam-Flag":
		return "X-Spam-Flag"
	case "DKIM-Signature":
		return "DKIM-Signature"
	case "Authentication-Results":
		return "Authentication-Results"
	}
	return string(b)
}
