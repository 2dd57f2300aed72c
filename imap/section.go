package imap

import (
	"bytes"
	"strconv"
	"strings"
)

// section is a BODY[section]<partial> specification (RFC 3501 section
// 6.4.5 and section 9 "section").
type section struct {
	path      []int    // part numbers
	specifier string   // "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"
	fields    []string // for HEADER.FIELDS (NOT)
	partial   bool
	origin    uint32
	count     uint32
}

// maxSectionDepth bounds a section's part numbers.
const maxSectionDepth = 100

// parseSection parses from after "[" through "]" and an optional partial.
func (p *parser) section() section {
	var sec section
	spec := p.takeWhile(func(c byte) bool { return isDigit(c) || c == '.' || (c|0x20 >= 'a' && c|0x20 <= 'z') })
	parts := strings.Split(spec, ".")
	i := 0
	for ; i < len(parts) && spec != ""; i++ {
		if parts[i] == "" || !isDigit(parts[i][0]) {
			break
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil || n == 0 || len(sec.path) >= maxSectionDepth {
			p.fail("invalid section part number")
			return sec
		}
		sec.path = append(sec.path, n)
	}
	if spec != "" {
		sec.specifier = strings.ToUpper(strings.Join(parts[i:], "."))
	}
	switch sec.specifier {
	case "":
		if strings.HasSuffix(spec, ".") {
			p.fail("invalid section")
		}
	case "HEADER", "TEXT":
	case "MIME":
		if len(sec.path) == 0 {
			p.fail("MIME needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		p.sp()
		// Upper case, as the FETCH response echoes them (name); the
		// fields match header names case-insensitively.
		p.list(func() { sec.fields = append(sec.fields, strings.ToUpper(p.astring())) })
		if len(sec.fields) == 0 && p.err == nil {
			p.fail("empty header field list")
		}
	default:
		p.fail("invalid section %q", truncate(spec, 30))
	}
	p.expect(']')
	if p.tryByte('<') {
		sec.partial = true
		sec.origin = p.number()
		p.expect('.')
		sec.count = p.number()
		p.expect('>')
		if sec.count == 0 && p.err == nil {
			p.fail("partial length must not be zero")
		}
	}
	return sec
}

// name is the section as echoed in the FETCH response, with the partial's
// origin only (RFC 3501 section 7.4.2).
func (sec section) name(e *enc) {
	e.raw("[")
	for i, n := range sec.path {
		if i > 0 {
			e.raw(".")
		}
		e.raw(strconv.Itoa(n))
	}
	if sec.specifier != "" {
		if len(sec.path) > 0 {
			e.raw(".")
		}
		e.raw(sec.specifier)
	}
	if len(sec.fields) > 0 {
		e.raw(" (")
		for i, f := range sec.fields {
			if i > 0 {
				e.sp()
			}
			e.astr(f)
		}
		e.raw(")")
	}
	e.raw("]")
	if sec.partial {
		e.raw("<").num(sec.origin).raw(">")
	}
}

// extract returns the section's bytes, ok false for a part that does not
// exist.
func (sec section) extract(raw []byte, root *part) ([]byte, bool) {
	cur := root
	for i, n := range sec.path {
		if i > 0 && cur.isMessage() {
			cur = cur.msg
		}
		switch {
		case cur.isMultipart():
			if n > len(cur.children) {
				return nil, false
			}
			cur = cur.children[n-1]
		case n == 1:
		default:
			return nil, false
		}
	}
	msg := cur
	if len(sec.path) > 0 && sec.specifier != "" && sec.specifier != "MIME" {
		// HEADER and TEXT of a part apply to message/rfc822 parts.
		if !cur.isMessage() {
			return nil, false
		}
		msg = cur.msg
	}
	var b []byte
	switch sec.specifier {
	case "":
		if len(sec.path) == 0 {
			b = raw[cur.start:cur.end]
		} else {
			b = raw[cur.bodyStart:cur.end]
		}
	case "MIME", "HEADER":
		b = raw[msg.start:msg.bodyStart]
	case "TEXT":
		b = raw[msg.bodyStart:msg.end]
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		b = filterHeader(msg, sec.fields, sec.specifier == "HEADER.FIELDS.NOT")
	}
	if sec.partial {
		b = partial(b, sec.origin, sec.count)
	}
	return b, true
}

// filterHeader returns the fields named (or all but them with not), as
// written, followed by the blank line (RFC 3501 section 6.4.5).
func filterHeader(p *part, names []string, not bool) []byte {
	// The fields' lengths first, so that the result takes one
	// allocation.
	n := 2
	for _, f := range p.header {
		if f.name != "" && fieldNamed(f.name, names) != not {
			n += len(f.raw) + 2
		}
	}
	out := make([]byte, 0, n)
	for _, f := range p.header {
		if f.name != "" && fieldNamed(f.name, names) != not {
			out = append(out, f.raw...)
			if !bytes.HasSuffix(f.raw, []byte("\n")) {
				out = append(out, '\r', '\n')
			}
		}
	}
	return append(out, '\r', '\n')
}

// fieldNamed reports whether a field's name is one of names
// (case-insensitive).
func fieldNamed(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

func partial(b []byte, origin, count uint32) []byte {
	if uint64(origin) >= uint64(len(b)) {
		return []byte{}
	}
	b = b[origin:]
	if uint64(count) < uint64(len(b)) {
		b = b[:count]
	}
	return b
}
