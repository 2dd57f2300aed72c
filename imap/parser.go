package imap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// parser is a cursor over one complete command: its lines joined with CRLF
// and every literal's bytes following its "{n}" or "{n+}" marker and CRLF,
// exactly as commandReader framed them (RFC 3501 section 9). The first
// error is sticky, like bufio.Scanner: later calls return zero values and
// p.err keeps the first cause.
type parser struct {
	b   []byte
	pos int
	err error
	// utf8 takes mailbox names as UTF-8 rather than modified UTF-7
	// (RFC 6855 section 3, RFC 9051 section 5.1).
	utf8 bool
	// badName is set when a mailbox name was not valid modified UTF-7;
	// it is kept as written, names no existing mailbox and cannot be
	// created.
	badName bool
}

// syntaxError is a client error answered with BAD.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = &syntaxError{fmt.Sprintf(format, args...)}
	}
}

func (p *parser) atEnd() bool { return p.pos >= len(p.b) }

func (p *parser) peek() byte {
	if p.err != nil || p.pos >= len(p.b) {
		return 0
	}
	return p.b[p.pos]
}

// end requires that nothing follows.
func (p *parser) end() {
	if p.err == nil && p.pos < len(p.b) {
		p.fail("unexpected characters at end of command: %q", truncate(string(p.b[p.pos:]), 20))
	}
}

// sp consumes one space.
func (p *parser) sp() {
	if p.err != nil {
		return
	}
	if p.pos >= len(p.b) || p.b[p.pos] != ' ' {
		p.fail("expected space")
		return
	}
	p.pos++
}

// trySP consumes a space if there is one.
func (p *parser) trySP() bool {
	if p.err == nil && p.pos < len(p.b) && p.b[p.pos] == ' ' {
		p.pos++
		return true
	}
	return false
}

// tryByte consumes c if it is next.
func (p *parser) tryByte(c byte) bool {
	if p.err == nil && p.pos < len(p.b) && p.b[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte) {
	if !p.tryByte(c) && p.err == nil {
		p.fail("expected %q", c)
	}
}

// isAtomChar reports ATOM-CHAR (RFC 3501 section 9): any CHAR except
// atom-specials.
func isAtomChar(c byte) bool {
	if c <= 0x1f || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

func (p *parser) takeWhile(f func(byte) bool) string {
	start := p.pos
	for p.pos < len(p.b) && f(p.b[p.pos]) {
		p.pos++
	}
	return string(p.b[start:p.pos])
}

// atom reads an atom.
func (p *parser) atom() string {
	if p.err != nil {
		return ""
	}
	s := p.takeWhile(isAtomChar)
	if s == "" {
		p.fail("expected atom")
	}
	return s
}

// tag reads a command tag: ASTRING-CHAR except "+" (RFC 3501 section 9).
func (p *parser) tag() string {
	if p.err != nil {
		return ""
	}
	s := p.takeWhile(func(c byte) bool { return (isAtomChar(c) || c == ']') && c != '+' })
	if s == "" {
		p.fail("invalid tag")
	}
	return s
}

// astring reads an atom (ASTRING-CHAR, "]" allowed), a quoted string or a
// literal.
func (p *parser) astring() string {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	if p.err != nil {
		return ""
	}
	s := p.takeWhile(func(c byte) bool { return isAtomChar(c) || c == ']' })
	if s == "" {
		p.fail("expected string")
	}
	return s
}

// listMailbox reads a LIST pattern: atom chars plus the wildcards, or a
// string (RFC 3501 section 9 list-mailbox).
func (p *parser) listMailbox() string {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	if p.err != nil {
		return ""
	}
	s := p.takeWhile(func(c byte) bool { return isAtomChar(c) || c == ']' || c == '%' || c == '*' })
	if s == "" {
		p.fail("expected mailbox pattern")
	}
	return s
}

// nstring reads a string or NIL; isNil reports NIL.
func (p *parser) nstring() (s string, isNil bool) {
	if c := p.peek(); c != '"' && c != '{' {
		a := p.atom()
		if strings.EqualFold(a, "NIL") {
			return "", true
		}
		p.fail("expected string or NIL")
		return "", false
	}
	return p.str(), false
}

// str reads a quoted string or a literal.
func (p *parser) str() string {
	if p.err != nil {
		return ""
	}
	switch p.peek() {
	case '"':
		return p.quoted()
	case '{':
		return string(p.literal())
	}
	p.fail("expected quoted string or literal")
	return ""
}

func (p *parser) quoted() string {
	p.expect('"')
	var sb strings.Builder
	for p.err == nil {
		if p.pos >= len(p.b) {
			p.fail("unterminated quoted string")
			break
		}
		c := p.b[p.pos]
		p.pos++
		switch c {
		case '"':
			return sb.String()
		case '\\':
			if p.pos >= len(p.b) || (p.b[p.pos] != '"' && p.b[p.pos] != '\\') {
				p.fail("invalid escape in quoted string")
				return ""
			}
			sb.WriteByte(p.b[p.pos])
			p.pos++
		case '\r', '\n', 0:
			p.fail("invalid character in quoted string")
		default:
			sb.WriteByte(c)
		}
	}
	return ""
}

// literal8 reads a literal or a literal8 ("~{n}", RFC 3516 section 4.1);
// binary reports the latter.
func (p *parser) literal8() (b []byte, binary bool) {
	binary = p.tryByte('~')
	return p.literal(), binary
}

// literal reads "{n}" or "{n+}", CRLF and n bytes. The returned slice
// aliases the command buffer.
func (p *parser) literal() []byte {
	p.expect('{')
	digits := p.takeWhile(isDigit)
	p.tryByte('+')
	p.expect('}')
	if p.err != nil {
		return nil
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		p.fail("invalid literal size")
		return nil
	}
	if !p.tryByte('\r') || !p.tryByte('\n') {
		p.fail("literal must end the line")
		return nil
	}
	if int64(len(p.b)-p.pos) < n {
		p.fail("truncated literal")
		return nil
	}
	b := p.b[p.pos : p.pos+int(n)]
	p.pos += int(n)
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads a 32-bit unsigned number.
func (p *parser) number() uint32 {
	n := p.number64()
	if n > 0xffffffff {
		p.fail("number too large")
		return 0
	}
	return uint32(n)
}

// number64 reads a 63-bit unsigned number (RFC 9051 number64).
func (p *parser) number64() uint64 {
	if p.err != nil {
		return 0
	}
	s := p.takeWhile(isDigit)
	if s == "" {
		p.fail("expected number")
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		p.fail("number too large")
		return 0
	}
	return n
}

// list parses "(" item *(SP item) ")" calling item for each element; an
// empty list is allowed.
func (p *parser) list(item func()) {
	p.expect('(')
	if p.tryByte(')') {
		return
	}
	for p.err == nil {
		item()
		if p.tryByte(')') {
			return
		}
		p.sp()
	}
}

// flag reads a flag: "\" atom or a keyword atom (RFC 3501 section 9).
func (p *parser) flag() string {
	if p.tryByte('\\') {
		return `\` + p.atom()
	}
	return p.atom()
}

// flagList reads "(" [flag *(SP flag)] ")".
func (p *parser) flagList() []string {
	flags := []string{}
	p.list(func() { flags = append(flags, p.flag()) })
	return flags
}

// seqSet reads a sequence set (RFC 3501 section 9 sequence-set) or "$",
// the saved search result (RFC 5182 section 2.1).
func (p *parser) seqSet() seqSet {
	if p.err != nil {
		return nil
	}
	if p.tryByte('$') {
		return seqSet{{saved: true}}
	}
	s := p.takeWhile(func(c byte) bool { return isDigit(c) || c == ':' || c == ',' || c == '*' })
	set, err := parseSeqSet(s)
	if err != nil {
		p.fail("%v", err)
	}
	return set
}

// mailbox reads a mailbox name (astring in modified UTF-7) and returns it
// decoded, with INBOX case-insensitive (RFC 3501 section 5.1).
func (p *parser) mailbox() string {
	raw := p.astring()
	if p.err != nil {
		return ""
	}
	if p.utf8 {
		if !utf8.ValidString(raw) {
			p.fail("mailbox name is not valid UTF-8")
			return ""
		}
		return normalizeInbox(raw)
	}
	name, err := decodeMailboxName(raw)
	if err != nil {
		p.badName = true
		return raw
	}
	return normalizeInbox(name)
}

// date reads a search date: date-day "-" date-month "-" date-year,
// optionally quoted (RFC 3501 section 9 date).
func (p *parser) date() time.Time {
	var s string
	if p.peek() == '"' {
		s = p.quoted()
	} else {
		s = p.atom()
	}
	if p.err != nil {
		return time.Time{}
	}
	t, err := time.Parse("2-Jan-2006", s)
	if err != nil {
		p.fail("invalid date %q", truncate(s, 30))
	}
	return t
}

// dateTime reads a quoted date-time (RFC 3501 section 9 date-time).
func (p *parser) dateTime() time.Time {
	s := p.quoted()
	if p.err != nil {
		return time.Time{}
	}
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		p.fail("invalid date-time %q", truncate(s, 40))
	}
	return t
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

var errEmptyCommand = errors.New("empty command")

// commandHead parses "tag SP command-name" and, for UID commands, the
// second word.
func (p *parser) commandHead() (tag, name string, uid bool) {
	if p.atEnd() {
		p.err = errEmptyCommand
		return "", "", false
	}
	tag = p.tag()
	p.sp()
	name = strings.ToUpper(p.atom())
	if name == "UID" {
		p.sp()
		name = strings.ToUpper(p.atom())
		uid = true
	}
	return tag, name, uid
}
