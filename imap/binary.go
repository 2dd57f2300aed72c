package imap

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"
)

// binarySection parses RFC 3516's section-binary after "[": part
// numbers only, then "]" and an optional partial.
func (p *parser) binarySection() section {
	var sec section
	spec := p.takeWhile(func(c byte) bool { return isDigit(c) || c == '.' })
	if spec != "" {
		for n := range strings.SplitSeq(spec, ".") {
			v, err := strconv.Atoi(n)
			if err != nil || v == 0 || len(sec.path) >= maxSectionDepth {
				p.fail("invalid section part number")
				return sec
			}
			sec.path = append(sec.path, v)
		}
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

// writeBinary writes BINARY[section]<partial> or BINARY.SIZE[section]
// (RFC 3516 section 4.2): the part's body with its content transfer
// encoding undone, as a literal8 when it holds NUL. A part in an
// encoding the server does not know fails the command with [UNKNOWN-CTE].
func writeBinary(e *enc, it fetchItem, raw []byte, root *part) error {
	b, ok, err := binaryContent(it.sec.path, raw, root)
	if err != nil {
		return err
	}
	if it.kind == fetchBinarySize {
		e.raw("BINARY.SIZE")
		it.sec.name(e)
		e.sp().num(uint32(len(b)))
		return nil
	}
	e.raw("BINARY")
	it.sec.name(e)
	e.sp()
	if !ok {
		e.nil()
		return nil
	}
	if it.sec.partial {
		b = partial(b, it.sec.origin, it.sec.count)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		e.raw("~")
	}
	e.literal(b)
	return nil
}

// binaryContent returns the decoded body of the part at path, or the
// whole message for an empty path.
func binaryContent(path []int, raw []byte, root *part) ([]byte, bool, error) {
	if len(path) == 0 {
		return raw, true, nil
	}
	cur, ok := findPart(root, path)
	if !ok {
		return nil, false, nil
	}
	// A multipart or message part comes with the parts inside it
	// decoded (binaryconv.go), as Dovecot returns it.
	b, err := binaryBody(raw, cur)
	return b, true, err
}

// findPart walks a section path (RFC 9051 section 6.4.5).
func findPart(root *part, path []int) (*part, bool) {
	cur := root
	for i, n := range path {
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
	return cur, true
}

// decodeCTE undoes a content transfer encoding (RFC 2045 section 6).
func decodeCTE(cte string, body []byte) ([]byte, error) {
	switch cte {
	case "", "7bit", "8bit", "binary":
		return body, nil
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			switch {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				clean = append(clean, c)
			}
		}
		// Padding is ignored; a lone trailing character is dropped.
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n], nil
	case "quoted-printable":
		// What decoded is kept; a broken soft break is not fatal.
		b, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return b, nil
	}
	return nil, errNo("UNKNOWN-CTE", "Unknown Content-Transfer-Encoding.")
}
