package imap

import (
	"strconv"
	"time"
)

// enc builds one response line by appending; strings choose between quoted
// and literal form (RFC 3501 section 4.3).
type enc struct {
	b []byte
	// byRef lets literal keep a large literal's bytes by reference in
	// refs instead of copying them into b: the response is then only
	// for writeEnc, which writes b with them in their places. FETCH's
	// message bytes take one copy less that way (into the session's
	// buffered writer).
	byRef bool
	refs  []encRef
}

// encRef is a literal's bytes, written after b[:at].
type encRef struct {
	at int
	b  []byte
}

// refMin is the smallest literal byRef keeps by reference.
const refMin = 1024

// reset empties e for the next response, keeping its buffer.
func (e *enc) reset() {
	e.b = e.b[:0]
	clear(e.refs)
	e.refs = e.refs[:0]
}

func (e *enc) raw(s string) *enc   { e.b = append(e.b, s...); return e }
func (e *enc) sp() *enc            { e.b = append(e.b, ' '); return e }
func (e *enc) open() *enc          { e.b = append(e.b, '('); return e }
func (e *enc) close() *enc         { e.b = append(e.b, ')'); return e }
func (e *enc) num(n uint32) *enc   { e.b = strconv.AppendUint(e.b, uint64(n), 10); return e }
func (e *enc) num64(n uint64) *enc { e.b = strconv.AppendUint(e.b, n, 10); return e }
func (e *enc) nil() *enc           { return e.raw("NIL") }

// quotable reports whether s can be sent as a quoted string: 7-bit, no
// CR, LF or NUL (RFC 3501 section 9 QUOTED-CHAR).
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 || c == '\r' || c == '\n' || c >= 0x80 {
			return false
		}
	}
	return true
}

// str writes s as a quoted string or, when it cannot be quoted, a literal.
func (e *enc) str(s string) *enc {
	escape := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0 || c == '\r' || c == '\n' || c >= 0x80:
			return e.literal([]byte(s))
		case c == '"' || c == '\\':
			escape = true
		}
	}
	if !escape {
		e.b = append(e.b, '"')
		e.b = append(e.b, s...)
		e.b = append(e.b, '"')
		return e
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

// nstr writes NIL for absent values.
func (e *enc) nstr(s string, present bool) *enc {
	if !present {
		return e.nil()
	}
	return e.str(s)
}

// literal writes "{n}" CRLF and the bytes.
func (e *enc) literal(b []byte) *enc {
	e.b = append(e.b, '{')
	e.b = strconv.AppendInt(e.b, int64(len(b)), 10)
	e.b = append(e.b, "}\r\n"...)
	if e.byRef && len(b) >= refMin {
		e.refs = append(e.refs, encRef{at: len(e.b), b: b})
		return e
	}
	e.b = append(e.b, b...)
	return e
}

// astr writes an atom where it is one and a string otherwise.
func (e *enc) astr(s string) *enc {
	if s == "" || len(s) > 100 || equalFoldASCII(s, "NIL") {
		return e.str(s)
	}
	for i := 0; i < len(s); i++ {
		if !isAtomChar(s[i]) {
			return e.str(s)
		}
	}
	return e.raw(s)
}

// mailbox writes a mailbox name in modified UTF-7, or in UTF-8 once the
// client enabled UTF8=ACCEPT or IMAP4rev2 (RFC 6855 section 3, RFC 9051
// section 5.1).
func (e *enc) mailbox(name string, utf8 bool) *enc {
	if !utf8 {
		return e.astr(encodeMailboxName(name))
	}
	if quotable(name) {
		return e.astr(name)
	}
	return e.utf8str(name)
}

// utf8str writes a quoted string that may hold UTF-8 (RFC 6855 section 3
// quoted-utf8, RFC 9051), or a literal when it cannot be quoted.
func (e *enc) utf8str(s string) *enc {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\r' || c == '\n' {
			return e.literal([]byte(s))
		}
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

// flags writes a parenthesised flag list.
func (e *enc) flags(fl []string) *enc {
	e.open()
	for i, f := range fl {
		if i > 0 {
			e.sp()
		}
		e.raw(f)
	}
	return e.close()
}

// dateTime writes a quoted date-time (RFC 3501 section 9).
func (e *enc) dateTime(t time.Time) *enc {
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, "_2-Jan-2006 15:04:05 -0700")
	e.b = append(e.b, '"')
	return e
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
