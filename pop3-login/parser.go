package pop3login

import (
	"bufio"
	"errors"
	"io"
)

// Limits of the pre-auth reader.
const (
	// MaxLine bounds one pre-auth line: a command, or a SASL response
	// (RFC 5034 section 4 lets responses exceed the 255 octets of RFC
	// 2449; Dovecot's SASL buffer is 8 KiB).
	MaxLine = 8192
	// maxKeyword bounds a command name.
	maxKeyword = 16
)

var (
	// errLineTooLong ends the connection.
	errLineTooLong = errors.New("input line too long")
	// errSyntax is a line that is not a command.
	errSyntax = errors.New("invalid command line")
)

// readLine reads one line of at most max bytes, CRLF (or a bare LF)
// stripped. The result aliases the reader's buffer only when the line
// fits in it; callers that must wipe it (a password) clear the slice.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > max+2 {
			clear(line)
			return nil, errLineTooLong
		}
		if line == nil && err == nil {
			line = frag // the common case: no copy
		} else {
			line = append(line, frag...)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			clear(line)
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
	if len(line) > max {
		clear(line)
		return nil, errLineTooLong
	}
	return line, nil
}

// command is one parsed command line (RFC 1939 section 3).
type command struct {
	name string // upper case
	// args is the rest of the line after the keyword and its spaces. It
	// aliases the line, so that a password can be wiped.
	args []byte
}

// parseCommand splits a line into its keyword and arguments. Keywords are
// printable ASCII; arguments may not hold NUL (it would let USER or PASS
// add fields to the SASL PLAIN message) or CR.
func parseCommand(line []byte) (command, error) {
	i := 0
	for i < len(line) && line[i] != ' ' {
		if c := line[i]; c <= ' ' || c >= 0x7f {
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
	return command{name: string(name), args: rest}, nil
}
