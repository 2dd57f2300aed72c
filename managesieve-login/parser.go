package managesievelogin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Limits of the pre-auth reader.
const (
	// MaxCommand bounds one pre-auth command, literals included, and one
	// SASL response (Dovecot's SASL buffer is 8 KiB). Before login there
	// is nothing bigger to send.
	MaxCommand = 8192
	// maxKeyword bounds a command name.
	maxKeyword = 16
	// maxQuoted is RFC 5804 section 4's limit on a quoted string.
	maxQuoted = 1024
)

var (
	// errLineTooLong and errLiteralTooLarge end the connection: before
	// login nothing that big is legitimate, and skipping it would mean
	// reading it.
	errLineTooLong     = errors.New("command too long")
	errLiteralTooLarge = errors.New("literal too large")
)

// syntaxError is a command that does not parse; the line it was on has
// been consumed, so the session can go on.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func syntaxf(format string, a ...any) error { return &syntaxError{msg: fmt.Sprintf(format, a...)} }

// arg is one argument of a command (RFC 5804 section 4): a string
// (quoted or literal) or an atom (a bare word or a number).
type arg struct {
	atom bool
	s    []byte // fresh memory, so that SASL data can be wiped
}

// command is one parsed command.
type command struct {
	name string // upper case
	args []arg
}

// wipe clears the arguments (they may hold credentials).
func (c *command) wipe() {
	for _, a := range c.args {
		clear(a.s)
	}
}

// reader reads commands and SASL responses from the client.
type reader struct {
	r     *bufio.Reader
	limit int // bytes left for the current command
}

// readLine reads one line of at most r.limit bytes, CRLF (or a bare LF)
// stripped. The result aliases the reader's buffer until the next read.
func (r *reader) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := r.r.ReadSlice('\n')
		if len(line)+len(frag) > r.limit+2 {
			return nil, errLineTooLong
		}
		if line == nil && err == nil {
			line = frag
		} else {
			line = append(line, frag...)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > r.limit {
		return nil, errLineTooLong
	}
	r.limit -= len(line)
	return line, nil
}

// readCommand reads one command (RFC 5804 section 4): a keyword, then
// strings and atoms separated by single spaces, up to CRLF. A literal,
// "{n}" or "{n+}", ends its line and is followed by its n octets; the
// command goes on after them. ManageSieve has no continuation request,
// so a synchronizing literal is read like a non-synchronizing one.
// Empty lines are skipped.
func (r *reader) readCommand() (command, error) {
	var line []byte
	for len(line) == 0 {
		r.limit = MaxCommand
		var err error
		if line, err = r.readLine(); err != nil {
			return command{}, err
		}
	}
	p := lineParser{b: line}
	name := p.word()
	if len(name) == 0 || len(name) > maxKeyword {
		return command{}, syntaxf("invalid command name")
	}
	cmd := command{name: upper(name)}
	for !p.eol() {
		if !p.space() {
			cmd.wipe()
			return command{}, syntaxf("expected a space")
		}
		a, lit, err := p.arg()
		if err != nil {
			cmd.wipe()
			return command{}, err
		}
		if lit < 0 {
			cmd.args = append(cmd.args, a)
			continue
		}
		data, err := r.readLiteral(lit)
		if err != nil {
			cmd.wipe()
			return command{}, err
		}
		cmd.args = append(cmd.args, arg{s: data})
		if line, err = r.readLine(); err != nil {
			cmd.wipe()
			return command{}, err
		}
		p = lineParser{b: line}
	}
	return cmd, nil
}

// readResponse reads a client's SASL response (RFC 5804 section 2.1):
// one string, quoted or literal, on its own line.
func (r *reader) readResponse() ([]byte, error) {
	r.limit = MaxCommand
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	p := lineParser{b: line}
	a, lit, err := p.arg()
	if err != nil {
		return nil, err
	}
	if lit >= 0 {
		if a.s, err = r.readLiteral(lit); err != nil {
			return nil, err
		}
		if line, err = r.readLine(); err != nil {
			clear(a.s)
			return nil, err
		}
		p = lineParser{b: line}
	}
	if a.atom || !p.eol() {
		clear(a.s)
		return nil, syntaxf("expected one string")
	}
	return a.s, nil
}

func (r *reader) readLiteral(n int) ([]byte, error) {
	if n > r.limit {
		return nil, errLiteralTooLarge
	}
	r.limit -= n
	data := make([]byte, n)
	if _, err := io.ReadFull(r.r, data); err != nil {
		clear(data)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return data, nil
}

// lineParser takes one line apart.
type lineParser struct {
	b []byte
	i int
}

func (p *lineParser) eol() bool { return p.i == len(p.b) }

func (p *lineParser) space() bool {
	if p.i < len(p.b) && p.b[p.i] == ' ' {
		p.i++
		return true
	}
	return false
}

// word reads an atom: printable ASCII other than the specials.
func (p *lineParser) word() []byte {
	start := p.i
	for p.i < len(p.b) && isAtomChar(p.b[p.i]) {
		p.i++
	}
	return p.b[start:p.i]
}

func isAtomChar(c byte) bool {
	return c > ' ' && c < 0x7f && c != '"' && c != '{' && c != '}' && c != '(' && c != ')' && c != '\\'
}

// arg reads one argument. For a literal it returns the literal's length
// (the header must end the line); otherwise lit is -1.
func (p *lineParser) arg() (a arg, lit int, err error) {
	if p.eol() {
		return arg{}, -1, syntaxf("missing argument")
	}
	switch p.b[p.i] {
	case '"':
		s, err := p.quoted()
		return arg{s: s}, -1, err
	case '{':
		n, err := p.literalHeader()
		return arg{}, n, err
	}
	w := p.word()
	if len(w) == 0 {
		return arg{}, -1, syntaxf("unexpected character %q", p.b[p.i])
	}
	return arg{atom: true, s: append([]byte(nil), w...)}, -1, nil
}

// quoted reads a quoted string: SAFE-UTF8-CHARs, with \" and \\ the only
// escapes (RFC 5804 section 4).
func (p *lineParser) quoted() ([]byte, error) {
	p.i++ // the opening quote
	var s []byte
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch c {
		case '"':
			if !utf8.Valid(s) {
				clear(s)
				return nil, syntaxf("quoted string is not UTF-8")
			}
			if s == nil {
				s = []byte{}
			}
			return s, nil
		case '\\':
			if p.i == len(p.b) || (p.b[p.i] != '"' && p.b[p.i] != '\\') {
				clear(s)
				return nil, syntaxf("invalid escape in quoted string")
			}
			c = p.b[p.i]
			p.i++
		case 0, '\r', '\n':
			clear(s)
			return nil, syntaxf("invalid character in quoted string")
		}
		if len(s) >= maxQuoted {
			clear(s)
			return nil, syntaxf("quoted string too long")
		}
		s = append(s, c)
	}
	clear(s)
	return nil, syntaxf("unterminated quoted string")
}

// literalHeader reads "{n}" or "{n+}" at the end of the line.
func (p *lineParser) literalHeader() (int, error) {
	p.i++ // '{'
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	digits := p.b[start:p.i]
	if p.i < len(p.b) && p.b[p.i] == '+' {
		p.i++
	}
	if len(digits) == 0 || len(digits) > 10 || p.i >= len(p.b) || p.b[p.i] != '}' || p.i+1 != len(p.b) {
		return 0, syntaxf("invalid literal")
	}
	p.i++
	n, err := strconv.ParseUint(string(digits), 10, 32)
	if err != nil {
		return 0, syntaxf("invalid literal length")
	}
	if n > MaxCommand {
		return 0, errLiteralTooLarge
	}
	return int(n), nil
}

func upper(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// quote returns s as a ManageSieve string: quoted when it can be, else a
// literal (RFC 5804 section 4, literal-s2c).
func quote(s string) string {
	safe := len(s) <= maxQuoted && utf8.ValidString(s)
	for i := 0; safe && i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\r' || c == '\n' {
			safe = false
		}
	}
	if !safe {
		return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(append(b, '"'))
}
