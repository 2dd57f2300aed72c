package proto

import (
	"errors"
	"strings"
)

// Dovecot's auth protocols (auth-client and auth-master) are lines of
// TAB-separated fields ending in LF. Inside a field, 0x01 escapes the
// bytes that would break the framing: NUL as 0x01 '0', 0x01 as 0x01 '1',
// TAB as 0x01 't', CR as 0x01 'r' and LF as 0x01 'n'.

// MaxAuthLine is the longest line accepted on an auth socket.
const MaxAuthLine = 16384

// ErrAuthEscape reports a bad escape sequence in an auth protocol field.
var ErrAuthEscape = errors.New("proto: bad escape in auth field")

// AuthEscape escapes one field.
func AuthEscape(s string) string {
	if !strings.ContainsAny(s, "\x00\x01\t\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString("\x010")
		case 1:
			b.WriteString("\x011")
		case '\t':
			b.WriteString("\x01t")
		case '\r':
			b.WriteString("\x01r")
		case '\n':
			b.WriteString("\x01n")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// AuthUnescape undoes AuthEscape.
func AuthUnescape(s string) (string, error) {
	if strings.IndexByte(s, 1) < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != 1 {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", ErrAuthEscape
		}
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case '1':
			b.WriteByte(1)
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			return "", ErrAuthEscape
		}
	}
	return b.String(), nil
}

// AuthLine joins escaped fields into one line, LF included.
func AuthLine(fields ...string) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(AuthEscape(f))
	}
	b.WriteByte('\n')
	return b.String()
}

// ParseAuthLine splits a line (without its LF; a trailing CR is not
// removed) into unescaped fields.
func ParseAuthLine(line string) ([]string, error) {
	if len(line) > MaxAuthLine {
		return nil, errors.New("proto: auth line too long")
	}
	fields := strings.Split(line, "\t")
	for i, f := range fields {
		u, err := AuthUnescape(f)
		if err != nil {
			return nil, err
		}
		fields[i] = u
	}
	return fields, nil
}

// AuthParams turns "key=value" and bare "key" fields into a map; a bare
// key maps to "". Later duplicates win.
func AuthParams(fields []string) map[string]string {
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}
