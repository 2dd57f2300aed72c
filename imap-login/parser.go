package imaplogin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of the pre-auth parser (reference section 1.5).
const (
	// MaxTag is the longest tag accepted.
	MaxTag = 126
	// MaxLine bounds one pre-auth command, literals included, and one
	// AUTHENTICATE continuation line.
	MaxLine = 8192
	// MaxIDLine bounds an ID command instead: clients send long ID
	// parameter lists, and Dovecot's login process takes them (imaptest's
	// "id" script sends about 31 KB: RFC 2971's 30 pairs of 1,024-byte
	// values). What is kept of it is cut to maxIDClientID.
	MaxIDLine = 64 * 1024
	// maxDepth bounds nested parenthesised lists.
	maxDepth = 4
)

// argKind says what an argument was on the wire.
type argKind uint8

const (
	argAtom   argKind = iota // atom, including NIL
	argString                // quoted string or literal
	argList                  // parenthesised list
)

type arg struct {
	kind argKind
	s    string
	list []arg
}

func (a arg) isNIL() bool { return a.kind == argAtom && len(a.s) == 3 && equalFoldASCII(a.s, "NIL") }

// astring reports the value of an astring argument (RFC 9051 section 9:
// atom-like or string).
func (a arg) astring() (string, bool) {
	return a.s, a.kind == argAtom || a.kind == argString
}

// command is one parsed command line.
type command struct {
	tag  string
	name string // upper case
	args []arg
}

var (
	// errLineTooLong ends the connection: the rest of the line cannot be
	// told apart from the next command.
	errLineTooLong = errors.New("command line too long")
	// errLiteralTooLarge ends the connection when a non-synchronising
	// literal is too large: its data would be read as commands.
	errLiteralTooLarge = errors.New("non-synchronising literal too large")
)

// syntaxError is answered with BAD and counts as an invalid command.
type syntaxError struct {
	tag string // empty when the tag itself was bad
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// parser reads pre-auth commands (RFC 9051 section 2.2, formal syntax in
// section 9) from r. cont sends the continuation request for a
// synchronising literal.
type parser struct {
	r    *bufio.Reader
	cont func() error

	line   []byte // unparsed rest of the current line, without CRLF
	budget int    // bytes this command may still use
	tag    string
	grown  bool // the budget was raised to MaxIDLine for an ID command
}

// readLine reads one line of at most p.budget bytes and strips CRLF (a
// bare LF is accepted too).
func (p *parser) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := p.r.ReadSlice('\n')
		if len(line)+len(frag) > p.budget && !p.grown && isIDCommand(line, frag) {
			p.budget += MaxIDLine - MaxLine
			p.grown = true
		}
		if len(line)+len(frag) > p.budget {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
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
	p.budget -= len(line)
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readCommand reads the next command. It returns (nil, nil) for an empty
// line, a *syntaxError for a command to answer with BAD, and any other
// error to end the connection with.
func (p *parser) readCommand() (*command, error) {
	p.budget = MaxLine
	p.grown = false
	p.tag = ""
	line, err := p.readLine()
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, nil
	}
	p.line = line
	cmd, err := p.parseCommand()
	var se *syntaxError
	if errors.As(err, &se) && endsInNonSyncLiteral(p.line) {
		// Its data follows without our consent and would be taken
		// for commands.
		return nil, errLiteralTooLarge
	}
	return cmd, err
}

func (p *parser) parseCommand() (*command, error) {
	sp := bytes.IndexByte(p.line, ' ')
	tag := p.line
	if sp >= 0 {
		tag = p.line[:sp]
	}
	if !validTag(tag) {
		return nil, &syntaxError{msg: "Error in IMAP tag."}
	}
	p.tag = string(tag)
	if sp < 0 {
		return nil, p.errorf("Missing command.")
	}
	p.line = p.line[sp+1:]
	n := 0
	for n < len(p.line) && isAtomChar(p.line[n]) {
		n++
	}
	if n == 0 {
		return nil, p.errorf("Missing command.")
	}
	cmd := &command{tag: p.tag, name: upperASCII(string(p.line[:n]))}
	p.line = p.line[n:]
	if len(p.line) > 0 {
		if p.line[0] != ' ' {
			return nil, p.errorf("Invalid command name.")
		}
		p.line = p.line[1:]
		if len(p.line) == 0 {
			return nil, p.errorf("Unexpected space at end of line.")
		}
	}
	args, err := p.parseArgs(0)
	if err != nil {
		return nil, err
	}
	cmd.args = args
	return cmd, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{tag: p.tag, msg: fmt.Sprintf(format, args...)}
}

// parseArgs parses space-separated arguments up to the end of the line
// (depth 0) or the closing parenthesis of a list.
func (p *parser) parseArgs(depth int) ([]arg, error) {
	var out []arg
	for {
		if len(p.line) == 0 {
			if depth > 0 {
				return nil, p.errorf("Missing ')'.")
			}
			return out, nil
		}
		if p.line[0] == ')' {
			if depth == 0 {
				return nil, p.errorf("Unexpected ')'.")
			}
			p.line = p.line[1:]
			return out, nil
		}
		if len(out) > 0 {
			if p.line[0] != ' ' {
				return nil, p.errorf("Missing space between arguments.")
			}
			p.line = p.line[1:]
		}
		a, err := p.parseArg(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
}

func (p *parser) parseArg(depth int) (arg, error) {
	if len(p.line) == 0 {
		return arg{}, p.errorf("Missing argument.")
	}
	switch p.line[0] {
	case '"':
		return p.parseQuoted()
	case '{':
		return p.parseLiteral()
	case '(':
		if depth >= maxDepth {
			return arg{}, p.errorf("Lists nested too deeply.")
		}
		p.line = p.line[1:]
		list, err := p.parseArgs(depth + 1)
		if err != nil {
			return arg{}, err
		}
		return arg{kind: argList, list: list}, nil
	}
	n := 0
	for n < len(p.line) && isAstringChar(p.line[n]) {
		n++
	}
	if n == 0 {
		return arg{}, p.errorf("Invalid characters in argument.")
	}
	a := arg{kind: argAtom, s: string(p.line[:n])}
	p.line = p.line[n:]
	return a, nil
}

// parseQuoted parses a quoted string (RFC 9051 section 4.3): only '"'
// and '\' may be escaped; NUL is not allowed.
func (p *parser) parseQuoted() (arg, error) {
	var b []byte
	for i := 1; i < len(p.line); i++ {
		switch c := p.line[i]; c {
		case '"':
			p.line = p.line[i+1:]
			return arg{kind: argString, s: string(b)}, nil
		case '\\':
			i++
			if i == len(p.line) || (p.line[i] != '"' && p.line[i] != '\\') {
				return arg{}, p.errorf("Invalid escape in quoted string.")
			}
			b = append(b, p.line[i])
		case 0:
			return arg{}, p.errorf("NUL in quoted string.")
		default:
			b = append(b, c)
		}
	}
	return arg{}, p.errorf("Missing '\"'.")
}

// parseLiteral parses "{n}" or "{n+}" (RFC 9051 section 4.3, RFC 7888
// LITERAL+) at the end of the line, sends the continuation request for a
// synchronising literal, reads its n bytes and the rest of the command
// line that follows them.
func (p *parser) parseLiteral() (arg, error) {
	end := bytes.IndexByte(p.line, '}')
	if end < 0 || end != len(p.line)-1 {
		return arg{}, p.errorf("Literal must end the line.")
	}
	spec := p.line[1:end]
	sync := true
	if len(spec) > 0 && spec[len(spec)-1] == '+' {
		sync = false
		spec = spec[:len(spec)-1]
	}
	if len(spec) == 0 || len(spec) > 10 || !allDigits(spec) {
		return arg{}, p.errorf("Invalid literal size.")
	}
	n, _ := strconv.ParseUint(string(spec), 10, 64)
	p.line = nil
	if n > uint64(p.budget) {
		if !sync {
			return arg{}, errLiteralTooLarge
		}
		return arg{}, p.errorf("Literal too large.")
	}
	if sync {
		if err := p.cont(); err != nil {
			return arg{}, err
		}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.r, b); err != nil {
		return arg{}, err
	}
	p.budget -= int(n)
	line, err := p.readLine()
	if err != nil {
		return arg{}, err
	}
	p.line = line
	if bytes.IndexByte(b, 0) >= 0 {
		return arg{}, p.errorf("NUL in literal.")
	}
	return arg{kind: argString, s: string(b)}, nil
}

// endsInNonSyncLiteral reports whether what is left of a line announces
// a non-synchronising literal.
func endsInNonSyncLiteral(line []byte) bool {
	if len(line) < 4 || !bytes.HasSuffix(line, []byte("+}")) {
		return false
	}
	open := bytes.LastIndexByte(line, '{')
	return open >= 0 && open < len(line)-3 && allDigits(line[open+1:len(line)-2])
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// validTag checks RFC 9051 section 9: tag = 1*<any ASTRING-CHAR except
// "+">, at most MaxTag bytes (Dovecot's limit).
func validTag(tag []byte) bool {
	if len(tag) == 0 || len(tag) > MaxTag {
		return false
	}
	for _, c := range tag {
		if c == '+' || !isAstringChar(c) {
			return false
		}
	}
	return true
}

// isAtomChar: any CHAR except atom-specials (RFC 9051 section 9):
// "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
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

// isAstringChar: ATOM-CHAR or resp-specials ("]").
func isAstringChar(c byte) bool { return c == ']' || isAtomChar(c) }

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func equalFoldASCII(a, b string) bool {
	return len(a) == len(b) && upperASCII(a) == upperASCII(b)
}

// isIDCommand reports whether the command line that starts with line
// and continues with frag is "tag ID ...".
func isIDCommand(line, frag []byte) bool {
	head := line
	if len(head) < 256 {
		head = append(head[:len(head):len(head)], frag[:min(len(frag), 256)]...)
	}
	sp := bytes.IndexByte(head, ' ')
	if sp < 0 {
		return false
	}
	rest := head[sp+1:]
	return len(rest) >= 3 && equalFoldASCII(string(rest[:2]), "ID") && rest[2] == ' '
}
