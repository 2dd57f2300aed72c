package imap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of the command reader.
const (
	// DefaultMaxLineLength is imap_max_line_length's default (Dovecot: 64k).
	DefaultMaxLineLength = 64 * 1024
	// DefaultMaxLiteral is the APPENDLIMIT default.
	DefaultMaxLiteral = 64 * 1024 * 1024
	// maxCommandLiterals bounds how many literals one command may carry.
	maxCommandLiterals = 1000
	// literalMinusMax is LITERAL-'s bound on non-synchronising
	// literals (RFC 7888 section 5).
	literalMinusMax = 4096
)

// readBufferSize is the command reader's buffer: most command lines fit,
// and a longer one, up to the line limit, is gathered apart (readLine).
// A buffer of the whole limit (64 KB) cost every session its allocation
// and clearing, at each login of imaptest's mix.
const readBufferSize = 4096

// newCommandBuffer returns the buffered reader of a session's commands.
func newCommandBuffer(r io.Reader, maxLine int) *bufio.Reader {
	return bufio.NewReaderSize(r, min(readBufferSize, maxLine+2))
}

// errLineTooLong is answered with "BAD line too long"; the reader has
// skipped the rest of the line, so the session goes on.
var errLineTooLong = errors.New("line too long")

// literalError is a literal the reader refused before reading it. For a
// synchronising literal the client waits for "+", so the session goes on;
// for a non-synchronising one the literal's bytes are on their way and the
// connection must close (RFC 7888 section 4).
type literalError struct {
	head    []byte // the command so far, for its tag and name
	tooBig  bool   // over the APPEND limit: NO [TOOBIG]
	nonSync bool
	msg     string
}

func (e *literalError) Error() string { return e.msg }

// commandReader frames commands: lines, with literals read and the
// continuation request sent for synchronising ones (RFC 3501 section 7.5).
type commandReader struct {
	src          io.Reader // what r reads: the connection, after any leftover bytes
	r            *bufio.Reader
	maxLine      int
	maxLiteral   int64        // APPEND literals
	literalMinus bool         // LITERAL-: non-synchronising literals up to 4096 bytes
	continuation func() error // writes "+ Ready" and flushes
}

// nextLine returns the first line received and not read yet, its LF
// included, without reading it; nil when no whole line is in hand.
func (cr *commandReader) nextLine() []byte {
	n := cr.r.Buffered()
	if n == 0 {
		return nil
	}
	b, _ := cr.r.Peek(n)
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil
	}
	return b[:i+1]
}

// readLine reads one line without its CRLF (a bare LF is accepted). A line
// over maxLine is skipped through its end and errLineTooLong returned with
// the line's first bytes.
func (cr *commandReader) readLine() ([]byte, error) {
	line, err := cr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull && cr.r.Size() < cr.maxLine+2 {
		// A line longer than the buffer (readBufferSize) but maybe
		// not than maxLine: gathered in a slice of its own, until it
		// is as long as a buffer of maxLine+2 bytes would hold.
		long := bytes.Clone(line)
		for err == bufio.ErrBufferFull && len(long) < cr.maxLine+2 {
			line, err = cr.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err == bufio.ErrBufferFull || (err == nil && len(line) > cr.maxLine+2) {
		head := append([]byte(nil), line[:min(len(line), 64)]...)
		tail := bytes.Clone(line[max(0, len(line)-32):])
		for err == bufio.ErrBufferFull {
			line, err = cr.r.ReadSlice('\n')
			tail = append(tail, line...)
			tail = tail[max(0, len(tail)-32):]
		}
		if err != nil {
			return nil, err
		}
		// A non-synchronising literal announced at the end of the
		// over-long line is already being sent: we cannot resync.
		tail = bytes.TrimRight(tail, "\r\n")
		if bytes.HasSuffix(tail, []byte("+}")) {
			return head, &literalError{head: head, nonSync: true, msg: "line too long"}
		}
		return head, errLineTooLong
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// literalAtEnd parses a trailing "{n}" or "{n+}".
func literalAtEnd(line []byte) (n int64, nonSync, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false
	}
	digits := line[i+1 : len(line)-1]
	if len(digits) > 0 && digits[len(digits)-1] == '+' {
		nonSync = true
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 || len(digits) > 19 {
		return 0, false, false
	}
	for _, c := range digits {
		if !isDigit(c) {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, nonSync, true
}

// isAppend reports whether a command's first line is an APPEND, whose
// literals may be up to maxLiteral each.
func isAppend(head []byte) bool {
	f := strings.Fields(string(head[:min(len(head), 100)]))
	return len(f) >= 2 && strings.EqualFold(f[1], "APPEND")
}

// readCommand returns one whole command.
func (cr *commandReader) readCommand() ([]byte, error) {
	var buf []byte
	for nlit := 0; ; nlit++ {
		line, err := cr.readLine()
		if err != nil {
			if len(buf) > 0 && err == errLineTooLong {
				return buf, err
			}
			return line, err
		}
		buf = append(buf, line...)
		n, nonSync, ok := literalAtEnd(line)
		if !ok {
			return buf, nil
		}
		limit := int64(cr.maxLine)
		app := isAppend(buf)
		if app {
			limit = cr.maxLiteral
		}
		switch {
		case nlit >= maxCommandLiterals:
			return nil, &literalError{head: buf, nonSync: nonSync, msg: "too many literals"}
		case cr.literalMinus && nonSync && n > literalMinusMax:
			// RFC 7888 section 4: the client broke LITERAL-.
			return nil, &literalError{head: buf, nonSync: true, msg: "non-synchronizing literal too large"}
		case n > limit || int64(len(buf))+n > limit+int64(cr.maxLine):
			return nil, &literalError{head: buf, tooBig: app, nonSync: nonSync,
				msg: fmt.Sprintf("literal too large (limit %d)", limit)}
		}
		if !nonSync {
			if err := cr.continuation(); err != nil {
				return nil, err
			}
		}
		buf = append(buf, '\r', '\n')
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(cr.r, buf[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
