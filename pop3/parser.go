package pop3

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// Limits of the command reader.
const (
	// MaxLine bounds one command line. RFC 2449 section 4 allows 255
	// octets; Dovecot takes up to 2 KiB, and so do we.
	MaxLine = 2048
	// maxKeyword bounds a command name. RFC 1939 keywords have three or
	// four characters; RFC 2449 extensions may be longer.
	maxKeyword = 16
)

var (
	// errLineTooLong is answered with -ERR; the rest of the line is
	// skipped.
	errLineTooLong = errors.New("command line too long")
	// errSyntax is a line that is not a command: answered with -ERR.
	errSyntax = errors.New("invalid command line")
)

// readLine reads one line of at most max bytes and strips CRLF (a bare
// LF is accepted too). A longer line is read to its end and dropped, and
// errLineTooLong returned, so that the next command is still found.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > max+2 {
				tooLong = true
				line = nil
			} else {
				line = append(line, frag...)
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF && (len(line) > 0 || tooLong) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if tooLong {
		return nil, errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > max {
		return nil, errLineTooLong
	}
	return line, nil
}

// command is one parsed command line (RFC 1939 section 3): a keyword,
// then arguments separated from it by a space.
type command struct {
	name string // upper case
	args string // the rest of the line, leading spaces removed
}

// parseCommand splits a command line. Keywords are case-insensitive
// printable ASCII; arguments may hold any byte but NUL, CR and LF (a NUL
// would let USER or PASS smuggle fields into SASL PLAIN).
func parseCommand(line []byte) (command, error) {
	i := 0
	for i < len(line) && line[i] != ' ' {
		c := line[i]
		if c <= ' ' || c >= 0x7f {
			return command{}, errSyntax
		}
		i++
	}
	if i == 0 || i > maxKeyword {
		return command{}, errSyntax
	}
	name := make([]byte, i)
	for j := range i {
		c := line[j]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		name[j] = c
	}
	rest := line[i:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	for _, c := range rest {
		if c == 0 || c == '\r' || c == '\n' {
			return command{}, errSyntax
		}
	}
	return command{name: string(name), args: string(rest)}, nil
}

// splitArg returns the first space-separated argument of s and the rest
// with its leading spaces removed.
func splitArg(s string) (arg, rest string) {
	i := 0
	for i < len(s) && s[i] != ' ' {
		i++
	}
	arg, rest = s[:i], s[i:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return arg, rest
}

// parseNumber parses a decimal argument (RFC 1939 message numbers and
// line counts). ok is false unless s is all digits; tooLarge is set for
// a number beyond 64 bits.
func parseNumber(s string) (n uint64, ok, tooLarge bool) {
	if s == "" {
		return 0, false, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, true, true
	}
	return v, true, false
}
