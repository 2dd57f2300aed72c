package managesieve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Limits of the command reader.
const (
	// DefaultMaxLine is the default of managesieve_max_line_length: the
	// bytes of one command outside its literals.
	DefaultMaxLine = 64 << 10
	// maxDiscard is the largest literal the reader skips when it is over
	// its command's limit; a larger one ends the session, since reading
	// it only to drop it would let a client keep the worker busy.
	maxDiscard = 64 << 20
	// maxKeyword bounds a command name.
	maxKeyword = 16
	// maxQuoted is RFC 5804 section 4's limit on a quoted string.
	maxQuoted = 1024
)

var (
	// errLineTooLong ends the session: the rest of the line cannot be
	// told apart from the next command.
	errLineTooLong = errors.New("command line too long")
)

// syntaxError is a command that does not parse. The command has been
// consumed (with any literal it announced), so the session goes on.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func syntaxf(format string, a ...any) error { return &syntaxError{msg: fmt.Sprintf(format, a...)} }

// literalError is a literal larger than its command allows. It was read
// and dropped when it was at most maxDiscard bytes (Skipped); otherwise
// the session must end.
type literalError struct {
	Cmd     string
	Size    uint64
	Limit   int64
	Skipped bool
}

func (e *literalError) Error() string {
	return fmt.Sprintf("literal of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// arg is one argument (RFC 5804 section 4): a string (quoted or
// literal), or an atom (a bare word; numbers are atoms of digits).
type arg struct {
	atom bool
	s    []byte
}

// command is one parsed command.
type command struct {
	name string // upper case
	args []arg
}

// reader reads commands from the client.
type reader struct {
	r       *bufio.Reader
	maxLine int
	// maxLiteral returns the largest literal the named command takes.
	maxLiteral func(cmd string) int64

	limit int // line bytes left for the current command
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
// strings and atoms separated by spaces, up to CRLF. A literal, "{n+}"
// or "{n}", ends its line and is followed by its n octets, after which
// the command goes on. ManageSieve has no continuation request, so a
// synchronizing literal is read like a non-synchronizing one. Empty
// lines are skipped.
func (r *reader) readCommand() (command, error) {
	var line []byte
	for len(line) == 0 {
		r.limit = r.maxLine
		var err error
		if line, err = r.readLine(); err != nil {
			return command{}, err
		}
	}
	p := lineParser{b: line}
	name := p.word()
	if len(name) == 0 || len(name) > maxKeyword {
		return command{}, r.skipAfterSyntax(line, "invalid command name")
	}
	cmd := command{name: upper(name)}
	for !p.eol() {
		if !p.space() {
			return command{}, r.skipAfterSyntax(line, "expected a space")
		}
		a, lit, err := p.arg()
		if err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				return command{}, r.skipAfterSyntax(line, se.msg)
			}
			return command{}, err
		}
		if lit < 0 {
			cmd.args = append(cmd.args, a)
			continue
		}
		if limit := r.maxLiteral(cmd.name); int64(lit) > limit {
			le := &literalError{Cmd: cmd.name, Size: uint64(lit), Limit: limit}
			if lit > maxDiscard {
				return command{}, le
			}
			if err := r.discard(uint64(lit)); err != nil {
				return command{}, err
			}
			le.Skipped = true
			return command{}, r.skipRest(le)
		}
		data := make([]byte, lit)
		if _, err := io.ReadFull(r.r, data); err != nil {
			return command{}, unexpectedEOF(err)
		}
		cmd.args = append(cmd.args, arg{s: data})
		if line, err = r.readLine(); err != nil {
			return command{}, err
		}
		p = lineParser{b: line}
	}
	return cmd, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *reader) discard(n uint64) error {
	_, err := io.CopyN(io.Discard, r.r, int64(n))
	return unexpectedEOF(err)
}

// skipAfterSyntax consumes the literal a bad line announced, if any, and
// the rest of its command, so that the literal's content is not read as
// commands. It returns the syntax error, or the error that ends the
// session.
func (r *reader) skipAfterSyntax(line []byte, msg string) error {
	return r.skipFrom(line, syntaxf("%s", msg))
}

// skipRest consumes the rest of a command after a skipped literal.
func (r *reader) skipRest(result error) error {
	line, err := r.readLine()
	if err != nil {
		return err
	}
	return r.skipFrom(line, result)
}

func (r *reader) skipFrom(line []byte, result error) error {
	for {
		n, ok := trailingLiteral(line)
		if !ok {
			return result
		}
		if n > maxDiscard {
			return &literalError{Size: n, Limit: maxDiscard}
		}
		if err := r.discard(n); err != nil {
			return err
		}
		var err error
		if line, err = r.readLine(); err != nil {
			return err
		}
	}
}

// trailingLiteral reports whether line ends with a literal header, and
// its length.
func trailingLiteral(line []byte) (uint64, bool) {
	n := len(line)
	if n < 3 || line[n-1] != '}' {
		return 0, false
	}
	i := n - 2
	if line[i] == '+' {
		i--
	}
	end := i + 1
	for i >= 0 && line[i] >= '0' && line[i] <= '9' {
		i--
	}
	if i < 0 || line[i] != '{' || end-(i+1) == 0 || end-(i+1) > 10 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(line[i+1:end]), 10, 32)
	return v, err == nil
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
func (p *lineParser) arg() (a arg, lit int64, err error) {
	if p.eol() {
		return arg{}, -1, syntaxf("missing argument")
	}
	switch p.b[p.i] {
	case '"':
		s, err := p.quoted()
		return arg{s: s}, -1, err
	case '{':
		n, err := p.literalHeader()
		return arg{}, int64(n), err
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
	s := []byte{}
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch c {
		case '"':
			if !utf8.Valid(s) {
				return nil, syntaxf("quoted string is not UTF-8")
			}
			return s, nil
		case '\\':
			if p.i == len(p.b) || (p.b[p.i] != '"' && p.b[p.i] != '\\') {
				return nil, syntaxf("invalid escape in quoted string")
			}
			c = p.b[p.i]
			p.i++
		case 0, '\r', '\n':
			return nil, syntaxf("invalid character in quoted string")
		}
		if len(s) >= maxQuoted {
			return nil, syntaxf("quoted string longer than %d bytes, use a literal", maxQuoted)
		}
		s = append(s, c)
	}
	return nil, syntaxf("unterminated quoted string")
}

// literalHeader reads "{n}" or "{n+}" at the end of the line.
func (p *lineParser) literalHeader() (uint64, error) {
	n, ok := trailingLiteral(p.b[p.i:])
	if !ok || p.b[p.i] != '{' {
		return 0, syntaxf("invalid literal")
	}
	p.i = len(p.b)
	return n, nil
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
		return literal(s)
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

// literal returns s as a literal.
func literal(s string) string { return "{" + strconv.Itoa(len(s)) + "}\r\n" + s }
