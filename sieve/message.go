package sieve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/charset"
)

// maxHeaderBytes bounds the header section OpenMessage reads.
const maxHeaderBytes = 4 << 20

// RawMessage is a Message read from stored octets.
type RawMessage struct {
	header  []HeaderField
	r       io.ReaderAt
	bodyOff int64
	size    int64
}

// NewMessage reads a message held in memory.
func NewMessage(raw []byte) (*RawMessage, error) {
	return OpenMessage(bytes.NewReader(raw), int64(len(raw)))
}

// OpenMessage reads the header of a message stored in r (a sealed memfd or
// file, for instance); the body is read from r when a test needs it.
func OpenMessage(r io.ReaderAt, size int64) (*RawMessage, error) {
	br := bufio.NewReader(io.NewSectionReader(r, 0, size))
	fields, n, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	return &RawMessage{header: fields, r: r, bodyOff: n, size: size}, nil
}

func (m *RawMessage) Header() []HeaderField { return m.header }
func (m *RawMessage) Size() int64           { return m.size }

// BodyOffset is where the body starts: the octets before it are the
// header section, blank line included.
func (m *RawMessage) BodyOffset() int64 { return min(m.bodyOff, m.size) }

func (m *RawMessage) Body() (io.Reader, error) {
	if m.bodyOff >= m.size {
		return bytes.NewReader(nil), nil
	}
	return io.NewSectionReader(m.r, m.bodyOff, m.size-m.bodyOff), nil
}

// readHeader reads header fields up to and including the blank line and
// returns them with the number of octets consumed. It is lenient as MDAs
// must be: a line without a colon ends the header, a message with no
// blank line is all header.
func readHeader(br *bufio.Reader) ([]HeaderField, int64, error) {
	var fields []HeaderField
	var n int64
	var cur *HeaderField
	for {
		line, err := br.ReadString('\n')
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return fields, n, nil
			}
			return nil, 0, err
		}
		if n+int64(len(line)) > maxHeaderBytes {
			return nil, 0, fmt.Errorf("message header larger than %d bytes", maxHeaderBytes)
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" {
			n += int64(len(line))
			return fields, n, nil
		}
		if (trimmed[0] == ' ' || trimmed[0] == '\t') && cur != nil {
			cur.Value += "\r\n" + trimmed
			n += int64(len(line))
			continue
		}
		colon := strings.IndexByte(trimmed, ':')
		if colon <= 0 || !validHeaderName(strings.TrimRight(trimmed[:colon], " \t")) {
			// Not a header line: the body starts here.
			return fields, n, nil
		}
		n += int64(len(line))
		fields = append(fields, HeaderField{
			Name:  strings.TrimRight(trimmed[:colon], " \t"),
			Value: strings.TrimLeft(trimmed[colon+1:], " \t"),
		})
		cur = &fields[len(fields)-1]
		if err != nil {
			return fields, n, nil
		}
	}
}

// unfold removes the line breaks of a folded field (RFC 5322 section 2.2.3).
func unfold(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	v = strings.ReplaceAll(v, "\r\n", "")
	return strings.ReplaceAll(v, "\n", "")
}

func charsetReader(cs string, r io.Reader) (io.Reader, error) { return charset.Reader(cs, r) }

// decodeHeaderValue unfolds a raw field value and decodes RFC 2047 words
// into UTF-8 (RFC 5228 section 2.7.2: comparisons see decoded text). A
// word in an unknown charset or badly encoded stays as written.
func decodeHeaderValue(v string) string {
	v = strings.TrimSpace(unfold(v))
	if !strings.Contains(v, "=?") {
		return v
	}
	dec := mime.WordDecoder{CharsetReader: charsetReader}
	out, err := dec.DecodeHeader(v)
	if err != nil {
		return v
	}
	return out
}

// headerValues returns the decoded values of the fields named name.
func headerValues(h []HeaderField, name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, decodeHeaderValue(f.Value))
		}
	}
	return out
}

// rawHeaderValues returns the unfolded, undecoded values of the fields
// named name.
func rawHeaderValues(h []HeaderField, name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, strings.TrimSpace(unfold(f.Value)))
		}
	}
	return out
}

// address is a parsed addr-spec.
type address struct {
	local, domain string
}

func (a address) String() string {
	if a.domain == "" {
		return a.local
	}
	return a.local + "@" + a.domain
}

func splitAddr(s string) address {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return address{local: s}
	}
	return address{local: s[:at], domain: s[at+1:]}
}

// parseAddressList reads the addresses of an address header. It tries the
// RFC 5322 grammar first and falls back to picking out what looks like an
// address, since mail in the wild breaks the grammar.
func parseAddressList(raw string) []address {
	v := strings.TrimSpace(unfold(raw))
	if v == "" {
		return nil
	}
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}
	if list, err := p.ParseList(v); err == nil {
		out := make([]address, 0, len(list))
		for _, a := range list {
			out = append(out, splitAddr(a.Address))
		}
		return out
	}
	var out []address
	for _, part := range splitOutsideQuotes(v) {
		part = strings.TrimSpace(part)
		if i := strings.LastIndexByte(part, '<'); i >= 0 {
			if j := strings.IndexByte(part[i:], '>'); j > 0 {
				part = part[i+1 : i+j]
			}
		} else if k := strings.LastIndexByte(part, ':'); k >= 0 {
			part = part[k+1:] // group display name
		}
		part = strings.Trim(strings.TrimSpace(part), ";")
		if part != "" {
			out = append(out, splitAddr(part))
		}
	}
	return out
}

func splitOutsideQuotes(s string) []string {
	var parts []string
	inQuote, depth, start := false, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// parseAddress parses one address, as redirect and vacation :from take.
func parseAddress(s string) (address, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil {
		return address{}, err
	}
	if !strings.Contains(a.Address, "@") {
		return address{}, errors.New("no domain")
	}
	return splitAddr(a.Address), nil
}
