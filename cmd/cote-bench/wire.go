package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// The clients below speak just enough IMAP, POP3 and LMTP to drive a
// server and time it. They parse nothing they do not need, so that the
// generator costs little next to the server it measures.

const maxLine = 1 << 20

// conn is a line-oriented client connection.
type conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dial(addr string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) deadline(d time.Duration) {
	if d > 0 {
		c.c.SetDeadline(time.Now().Add(d))
	} else {
		c.c.SetDeadline(time.Time{})
	}
}

// line reads one CRLF-terminated line, without the CRLF.
func (c *conn) line() (string, error) {
	b, err := c.lineBytes()
	return string(b), err
}

// lineBytes is line as bytes that are valid until the next read: a large
// FETCH's hundred thousand lines cost the client no copy each, so that
// its CPU, on the same machine, is not taken from the server measured.
func (c *conn) lineBytes() ([]byte, error) {
	b, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		buf := bytes.Clone(b) // a line longer than the buffer
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(buf) > maxLine {
				return nil, fmt.Errorf("line longer than %d bytes", maxLine)
			}
			b, err = c.r.ReadSlice('\n')
			buf = append(buf, b...)
		}
		b = buf
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

func (c *conn) send(format string, args ...any) error {
	fmt.Fprintf(c.w, format, args...)
	c.w.WriteString("\r\n")
	return c.w.Flush()
}

// imapConn is an IMAP client connection.
type imapConn struct {
	*conn
	tag  int
	caps string // capability text seen in the greeting or after login
}

func dialIMAP(addr string, timeout time.Duration) (*imapConn, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	ic := &imapConn{conn: c}
	c.deadline(timeout)
	g, err := c.line()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(g, "* OK") {
		c.Close()
		return nil, fmt.Errorf("greeting %q", g)
	}
	ic.caps = g
	return ic, nil
}

// response is what a command got back.
type response struct {
	status string // the tagged line without the tag
	lines  int    // untagged responses
	bytes  int64  // bytes read, literals included
}

// literalLen returns n when line ends with a literal announcement {n} or
// {n+}, and -1 otherwise.
func literalLen(line []byte) int64 {
	if !bytes.HasSuffix(line, []byte("}")) {
		return -1
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(string(bytes.TrimSuffix(line[i+1:len(line)-1], []byte("+"))), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// readResponse reads until the tagged completion of tag. Each untagged
// response's first line goes to each, when given.
func (c *imapConn) readResponse(tag string, each func(first string)) (response, error) {
	var resp response
	prefix := []byte(tag + " ")
	for {
		first, n, err := c.readLogical()
		resp.bytes += n
		if err != nil {
			return resp, err
		}
		if rest, ok := bytes.CutPrefix(first, prefix); ok {
			resp.status = string(rest)
			return resp, nil
		}
		if bytes.HasPrefix(first, []byte("+")) {
			continue // a continuation request nobody waits for
		}
		resp.lines++
		if each != nil {
			each(string(first))
		}
	}
}

// readLogical reads one response, following literals, and returns its
// first line (valid until the next read) and its size.
func (c *imapConn) readLogical() (first []byte, n int64, err error) {
	for i := 0; ; i++ {
		l, err := c.lineBytes()
		if err != nil {
			return first, n, err
		}
		n += int64(len(l)) + 2
		lit := literalLen(l)
		if i == 0 {
			first = l
			if lit >= 0 {
				first = bytes.Clone(l) // what follows is read into the same buffer
			}
		}
		if lit < 0 {
			return first, n, nil
		}
		if _, err := io.CopyN(io.Discard, c.r, lit); err != nil {
			return first, n, err
		}
		n += lit
	}
}

func (c *imapConn) nextTag() string {
	c.tag++
	return "a" + strconv.Itoa(c.tag)
}

// cmd sends a command and reads its response; a tagged NO or BAD is an
// error.
func (c *imapConn) cmd(each func(string), format string, args ...any) (response, error) {
	tag := c.nextTag()
	verb, _, _ := strings.Cut(format, " ")
	if verb == "UID" {
		verb = strings.Join(strings.Fields(format)[:2], " ")
	}
	if err := c.send(tag+" "+format, args...); err != nil {
		return response{}, fmt.Errorf("%s: %w", verb, err)
	}
	resp, err := c.readResponse(tag, each)
	if err != nil {
		return resp, fmt.Errorf("%s: %w", verb, err)
	}
	if !strings.HasPrefix(resp.status, "OK") {
		return resp, fmt.Errorf("%s: %s", verb, resp.status)
	}
	return resp, nil
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (c *imapConn) login(user, pass string) error {
	resp, err := c.cmd(nil, "LOGIN %s %s", quote(user), quote(pass))
	if err == nil {
		c.caps += " " + resp.status
	}
	return err
}

func (c *imapConn) logout() error {
	_, err := c.cmd(nil, "LOGOUT")
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// selectBox selects a mailbox and returns its EXISTS count.
func (c *imapConn) selectBox(name string) (int, error) {
	exists := -1
	_, err := c.cmd(func(l string) {
		if f := strings.Fields(l); len(f) == 3 && f[2] == "EXISTS" {
			exists, _ = strconv.Atoi(f[1])
		}
	}, "SELECT %s", quote(name))
	return exists, err
}

// append stores msg with APPEND, with a non-synchronizing literal when
// the server offers LITERAL+.
func (c *imapConn) append(box string, msg []byte) error {
	tag := c.nextTag()
	plus := strings.Contains(c.caps, "LITERAL+")
	if plus {
		fmt.Fprintf(c.w, "%s APPEND %s {%d+}\r\n", tag, quote(box), len(msg))
	} else {
		if err := c.send("%s APPEND %s {%d}", tag, quote(box), len(msg)); err != nil {
			return err
		}
		l, err := c.line()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(l, "+") {
			return fmt.Errorf("APPEND: %s", l)
		}
	}
	c.w.Write(msg)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	resp, err := c.readResponse(tag, nil)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(resp.status, "OK") {
		return fmt.Errorf("APPEND: %s", resp.status)
	}
	return nil
}

// pop3Conn is a POP3 client connection.
type pop3Conn struct{ *conn }

func dialPOP3(addr string, timeout time.Duration) (*pop3Conn, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	c.deadline(timeout)
	g, err := c.line()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(g, "+OK") {
		c.Close()
		return nil, fmt.Errorf("greeting %q", g)
	}
	return &pop3Conn{c}, nil
}

func (c *pop3Conn) cmd(format string, args ...any) (string, error) {
	if err := c.send(format, args...); err != nil {
		return "", err
	}
	l, err := c.line()
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(l, "+OK") {
		return l, fmt.Errorf("%s: %s", strings.SplitN(format, " ", 2)[0], l)
	}
	return l, nil
}

// multiline reads a dot-terminated body and returns its size in bytes as
// sent (CRLFs and dot-stuffing included).
func (c *pop3Conn) multiline() (int64, error) {
	var n int64
	for {
		b, err := c.r.ReadSlice('\n')
		n += int64(len(b))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
		if err == nil && (bytes.Equal(b, []byte(".\r\n")) || bytes.Equal(b, []byte(".\n"))) {
			return n, nil
		}
		for errors.Is(err, bufio.ErrBufferFull) { // rest of a long line
			b, err = c.r.ReadSlice('\n')
			n += int64(len(b))
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return n, err
			}
		}
	}
}

// lmtpConn is an LMTP client connection after LHLO.
type lmtpConn struct{ *conn }

func dialLMTP(addr string, timeout time.Duration) (*lmtpConn, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	lc := &lmtpConn{c}
	c.deadline(timeout)
	if _, err := lc.reply(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := c.send("LHLO cote-bench.localhost"); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := lc.reply(); err != nil {
		c.Close()
		return nil, fmt.Errorf("LHLO: %w", err)
	}
	return lc, nil
}

// reply reads one (possibly multi-line) reply; a code of 400 and above is
// an error.
func (c *lmtpConn) reply() (string, error) {
	for {
		l, err := c.line()
		if err != nil {
			return "", err
		}
		if len(l) < 3 {
			return l, fmt.Errorf("bad reply %q", l)
		}
		if len(l) > 3 && l[3] == '-' {
			continue
		}
		if l[0] >= '4' {
			return l, fmt.Errorf("%s", l)
		}
		return l, nil
	}
}

// deliver sends one message to rcpts and returns how many recipients got
// it.
func (c *lmtpConn) deliver(from string, rcpts []string, msg []byte) (int, error) {
	if err := c.send("MAIL FROM:<%s>", from); err != nil {
		return 0, err
	}
	if _, err := c.reply(); err != nil {
		return 0, fmt.Errorf("MAIL: %w", err)
	}
	accepted := 0
	for _, r := range rcpts {
		if err := c.send("RCPT TO:<%s>", r); err != nil {
			return 0, err
		}
		if _, err := c.reply(); err == nil {
			accepted++
		} else if !strings.HasPrefix(err.Error(), "4") && !strings.HasPrefix(err.Error(), "5") {
			return 0, err
		}
	}
	if accepted == 0 {
		c.send("RSET")
		c.reply()
		return 0, fmt.Errorf("no recipient accepted")
	}
	if err := c.send("DATA"); err != nil {
		return 0, err
	}
	if _, err := c.reply(); err != nil {
		return 0, fmt.Errorf("DATA: %w", err)
	}
	writeDotStuffed(c.w, msg)
	c.w.WriteString(".\r\n")
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	ok := 0
	var firstErr error
	for range accepted { // RFC 2033 section 4.2: one reply per recipient
		if _, err := c.reply(); err == nil {
			ok++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	return ok, firstErr
}

// writeDotStuffed writes msg (CRLF lines) with leading dots doubled.
func writeDotStuffed(w *bufio.Writer, msg []byte) {
	bol := true
	for len(msg) > 0 {
		if bol && msg[0] == '.' {
			w.WriteByte('.')
		}
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			w.Write(msg)
			w.WriteString("\r\n")
			return
		}
		w.Write(msg[:i+1])
		msg = msg[i+1:]
		bol = true
	}
}
