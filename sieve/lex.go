package sieve

import (
	"fmt"
	"strings"
)

// Pos is a position in a script: 1-based line and column (in bytes).
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a compile error with the position it was found at. Script names
// the script (the include name, or "" for the main script).
type Error struct {
	Script string
	Pos    Pos
	Msg    string
}

func (e *Error) Error() string {
	if e.Script != "" {
		return fmt.Sprintf("%s:%s: %s", e.Script, e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tTag
	tNumber
	tString // quoted or multi-line; value already unescaped
	tSemi
	tComma
	tLParen
	tRParen
	tLBracket
	tRBracket
	tLBrace
	tRBrace
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of script"
	case tIdent:
		return "identifier"
	case tTag:
		return "tag"
	case tNumber:
		return "number"
	case tString:
		return "string"
	case tSemi:
		return "';'"
	case tComma:
		return "','"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tLBracket:
		return "'['"
	case tRBracket:
		return "']'"
	case tLBrace:
		return "'{'"
	case tRBrace:
		return "'}'"
	}
	return "token"
}

type token struct {
	kind tokKind
	pos  Pos
	text string // identifier/tag name (lowercased), string value
	num  uint64
}

// lexer turns script bytes into tokens (RFC 5228 section 8.1). It keeps
// the first error, like bufio.Scanner.
type lexer struct {
	src  []byte
	off  int
	line int
	col  int
	err  *Error
}

func newLexer(src []byte) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) fail(p Pos, format string, args ...any) token {
	if l.err == nil {
		l.err = &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
	}
	l.off = len(l.src)
	return token{kind: tEOF, pos: p}
}

func (l *lexer) pos() Pos { return Pos{l.line, l.col} }

func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.off++
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// skipSpace skips white space and comments (RFC 5228 section 2.3).
func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance(1)
		case c == '#':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '*':
			start := l.pos()
			end := strings.Index(string(l.src[l.off+2:]), "*/")
			if end < 0 {
				l.fail(start, "unterminated bracket comment")
				return
			}
			l.advance(end + 4)
		default:
			return
		}
	}
}

func (l *lexer) next() token {
	l.skipSpace()
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}
	}
	c := l.src[l.off]
	switch c {
	case ';':
		l.advance(1)
		return token{kind: tSemi, pos: p}
	case ',':
		l.advance(1)
		return token{kind: tComma, pos: p}
	case '(':
		l.advance(1)
		return token{kind: tLParen, pos: p}
	case ')':
		l.advance(1)
		return token{kind: tRParen, pos: p}
	case '[':
		l.advance(1)
		return token{kind: tLBracket, pos: p}
	case ']':
		l.advance(1)
		return token{kind: tRBracket, pos: p}
	case '{':
		l.advance(1)
		return token{kind: tLBrace, pos: p}
	case '}':
		l.advance(1)
		return token{kind: tRBrace, pos: p}
	case '"':
		return l.quoted(p)
	case ':':
		l.advance(1)
		if l.off >= len(l.src) || !isIdentStart(l.src[l.off]) {
			return l.fail(p, "expected a tag name after ':'")
		}
		name := l.ident()
		return token{kind: tTag, pos: p, text: strings.ToLower(name)}
	}
	if c >= '0' && c <= '9' {
		return l.number(p)
	}
	if isIdentStart(c) {
		name := l.ident()
		if strings.EqualFold(name, "text") && l.off < len(l.src) && l.src[l.off] == ':' {
			l.advance(1)
			return l.multiline(p)
		}
		return token{kind: tIdent, pos: p, text: strings.ToLower(name)}
	}
	return l.fail(p, "unexpected character %q", c)
}

func (l *lexer) ident() string {
	start := l.off
	for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		l.advance(1)
	}
	return string(l.src[start:l.off])
}

// number reads a number with an optional quantifier (RFC 5228 section 2.4.1).
func (l *lexer) number(p Pos) token {
	var n uint64
	const max = 1<<63 - 1
	for l.off < len(l.src) && l.src[l.off] >= '0' && l.src[l.off] <= '9' {
		d := uint64(l.src[l.off] - '0')
		if n > (max-d)/10 {
			return l.fail(p, "number too large")
		}
		n = n*10 + d
		l.advance(1)
	}
	if l.off < len(l.src) {
		var mul uint64
		switch l.src[l.off] {
		case 'k', 'K':
			mul = 1 << 10
		case 'm', 'M':
			mul = 1 << 20
		case 'g', 'G':
			mul = 1 << 30
		}
		if mul != 0 {
			if n > max/mul {
				return l.fail(p, "number too large")
			}
			n *= mul
			l.advance(1)
		}
	}
	if l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		return l.fail(l.pos(), "unexpected character %q after number", l.src[l.off])
	}
	return token{kind: tNumber, pos: p, num: n}
}

// quoted reads a quoted string (RFC 5228 section 2.4.2). An undefined
// escape is read as if there were no backslash.
func (l *lexer) quoted(p Pos) token {
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return l.fail(p, "unterminated string")
		}
		c := l.src[l.off]
		switch c {
		case '"':
			l.advance(1)
			return token{kind: tString, pos: p, text: b.String()}
		case '\\':
			if l.off+1 >= len(l.src) {
				return l.fail(p, "unterminated string")
			}
			b.WriteByte(l.src[l.off+1])
			l.advance(2)
		case '\r':
			// A bare CR is kept; CRLF and LF become CRLF.
			if l.off+1 < len(l.src) && l.src[l.off+1] == '\n' {
				l.advance(1)
				continue
			}
			b.WriteByte(c)
			l.advance(1)
		case '\n':
			b.WriteString("\r\n")
			l.advance(1)
		default:
			b.WriteByte(c)
			l.advance(1)
		}
	}
}

// multiline reads a "text:" string (RFC 5228 section 2.4.2): the rest of
// the "text:" line may hold only white space and a hash comment; each
// following line up to a line holding a single "." is part of the string,
// with a leading ".." unstuffed to ".". Lines end in CRLF in the value.
func (l *lexer) multiline(p Pos) token {
	for l.off < len(l.src) && (l.src[l.off] == ' ' || l.src[l.off] == '\t') {
		l.advance(1)
	}
	if l.off < len(l.src) && l.src[l.off] == '#' {
		for l.off < len(l.src) && l.src[l.off] != '\n' {
			l.advance(1)
		}
	}
	if l.off < len(l.src) && l.src[l.off] == '\r' {
		l.advance(1)
	}
	if l.off >= len(l.src) || l.src[l.off] != '\n' {
		return l.fail(l.pos(), "expected end of line after \"text:\"")
	}
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return l.fail(p, "unterminated multi-line string (missing \".\" line)")
		}
		end := l.off
		for end < len(l.src) && l.src[end] != '\n' {
			end++
		}
		line := l.src[l.off:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if end >= len(l.src) && string(line) != "." {
			return l.fail(p, "unterminated multi-line string (missing \".\" line)")
		}
		l.advance(end - l.off + 1)
		if string(line) == "." {
			return token{kind: tString, pos: p, text: b.String()}
		}
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
}
