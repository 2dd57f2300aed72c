package imap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

// tconn is a client connection to a session served over loopback TCP,
// with helpers that read like the protocol.
type tconn struct {
	t     *testing.T
	conn  net.Conn
	r     *bufio.Reader
	store storage.Store
}

// loopback returns both ends of a TCP connection on 127.0.0.1.
func loopback(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		tb.Fatal(err)
	}
	return client, server
}

// serveTest starts Serve on one end of a loopback connection and returns
// the client end. The session must end without error by the test's end.
func serveTest(t *testing.T, store storage.Store, o Options) *tconn {
	t.Helper()
	client, server := loopback(t)
	return serveOn(t, client, server, store, o)
}

// serveOn is serveTest on a given connection's two ends (the server's
// may be wrapped, to watch what the session does with it).
func serveOn(t *testing.T, client, server net.Conn, store storage.Store, o Options) *tconn {
	t.Helper()
	if store == nil {
		store = memstore.New()
	}
	o.Store = store
	if o.User == "" {
		o.User = "test"
	}
	if o.AutoMailboxes == nil {
		o.NoAutoMailboxes = true // tests list exactly the mailboxes they make
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, server, o) }()
	t.Cleanup(func() {
		client.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
	})
	c := &tconn{t: t, conn: client, r: bufio.NewReader(client), store: store}
	client.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// login starts a session that answers tag "L" and checks the greeting.
func login(t *testing.T, store storage.Store) *tconn {
	t.Helper()
	c := serveTest(t, store, Options{Tag: "L"})
	line := c.readResponse()
	if !strings.HasPrefix(line, "L OK [CAPABILITY IMAP4rev1 ") {
		t.Fatalf("login reply = %q", line)
	}
	return c
}

// readResponse reads one response line, literals included inline.
func (c *tconn) readResponse() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (have %q)", err, sb.String())
		}
		if !strings.HasSuffix(line, "\r\n") {
			c.t.Fatalf("line without CRLF: %q", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		sb.WriteString(line)
		n, ok := trailingLiteral(line)
		if !ok {
			return sb.String()
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		sb.WriteString("\r\n")
		sb.Write(buf)
	}
}

func trailingLiteral(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(line[i+1 : len(line)-1])
	return n, err == nil
}

// send writes raw bytes.
func (c *tconn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// result is the responses to one command, the tagged one last.
type result struct {
	c     *tconn
	cmd   string
	lines []string
}

// cmd sends a command line and reads responses through its tagged one.
func (c *tconn) cmd(line string) *result {
	c.t.Helper()
	c.send(line + "\r\n")
	tag, _, _ := strings.Cut(line, " ")
	return c.until(line, tag)
}

// until reads responses through the one tagged tag.
func (c *tconn) until(cmd, tag string) *result {
	c.t.Helper()
	r := &result{c: c, cmd: cmd}
	for {
		l := c.readResponse()
		r.lines = append(r.lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return r
		}
	}
}

// want checks the exact responses (see matchLine).
func (r *result) want(lines ...string) *result {
	r.c.t.Helper()
	ok := len(lines) == len(r.lines)
	for i := 0; ok && i < len(lines); i++ {
		ok = matchLine(r.lines[i], lines[i])
	}
	if !ok {
		r.c.t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", r.cmd, strings.Join(r.lines, "\n"), strings.Join(lines, "\n"))
	}
	return r
}

// has checks that each line occurs among the responses.
func (r *result) has(lines ...string) *result {
	r.c.t.Helper()
	for _, want := range lines {
		found := false
		for _, l := range r.lines {
			if matchLine(l, want) {
				found = true
			}
		}
		if !found {
			r.c.t.Fatalf("%s: no %q in:\n%s", r.cmd, want, strings.Join(r.lines, "\n"))
		}
	}
	return r
}

// ok checks that the tagged response is OK.
func (r *result) ok() *result {
	r.c.t.Helper()
	if last := r.lines[len(r.lines)-1]; !strings.Contains(last, " OK") {
		r.c.t.Fatalf("%s: tagged response %q, want OK", r.cmd, last)
	}
	return r
}

// matchLine matches got against want, where "*" in want stands for any
// run of characters.
func matchLine(got, want string) bool {
	parts := strings.Split(want, "*")
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	got = got[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(got, p)
		}
		j := strings.Index(got, p)
		if j < 0 {
			return false
		}
		got = got[j+len(p):]
	}
	return got == ""
}

// appendMsg stores a message through the store directly.
func appendMsg(t *testing.T, st storage.Store, mbox, msg string, flags ...string) uint32 {
	t.Helper()
	_, uid, err := st.Append(mbox, strings.NewReader(msg), storage.AppendOptions{
		Flags: flags, Date: time.Date(2024, 3, 5, 10, 20, 30, 0, time.FixedZone("", 3600)),
	})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return uid
}

func lit(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }

// maildirOpener returns a function that opens the Maildir at root,
// without polling or the text indexer, and first closes the store it
// opened before: one store at a time has the index open (it locks the
// file), as one worker has the user's.
func maildirOpener(t *testing.T) func(root string) storage.Store {
	var prev storage.Store
	return func(root string) storage.Store {
		if prev != nil {
			prev.Close()
		}
		st, err := maildir.Open(maildir.Options{Location: "maildir:" + root, PollInterval: -1, NoTextIndexer: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		prev = st
		return st
	}
}
