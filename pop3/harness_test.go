package pop3

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/memstore"
)

// newStore returns a memstore whose INBOX holds msgs, with LF or CRLF
// line endings as given (the store keeps CRLF).
func newStore(t *testing.T, msgs ...string) storage.Store {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	for _, m := range msgs {
		if _, _, err := st.Append("INBOX", strings.NewReader(m), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// start runs Serve for o (Store and User must be set) and connects a
// client to it.
func start(t *testing.T, o Options) *testClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &testClient{t: t, done: make(chan error, 1), cancel: cancel}
	accepted := make(chan net.Conn, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- sc
	}()
	c.conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	go func() { c.done <- Serve(ctx, sc, o) }()
	c.conn.SetDeadline(time.Now().Add(20 * time.Second))
	c.r = bufio.NewReader(c.conn)
	t.Cleanup(func() {
		cancel()
		c.conn.Close()
		c.wait()
	})
	return c
}

type testClient struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	done   chan error
	cancel context.CancelFunc
	waited bool
	err    error
}

// wait returns Serve's result.
func (c *testClient) wait() error {
	c.t.Helper()
	if c.waited {
		return c.err
	}
	select {
	case c.err = <-c.done:
		c.waited = true
	case <-time.After(10 * time.Second):
		c.t.Fatal("Serve did not return")
	}
	return c.err
}

// send writes one command line (CRLF added).
func (c *testClient) send(line string) *testClient {
	c.t.Helper()
	c.write(line + "\r\n")
	return c
}

// write sends raw bytes.
func (c *testClient) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

func (c *testClient) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// want reads one line and checks it.
func (c *testClient) want(line string) *testClient {
	c.t.Helper()
	if got := c.line(); got != line {
		c.t.Fatalf("got %q, want %q", got, line)
	}
	return c
}

// wantPrefix reads one line and checks its start.
func (c *testClient) wantPrefix(prefix string) string {
	c.t.Helper()
	got := c.line()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	return got
}

// wantMulti reads the lines of a multi-line response body up to the
// terminating "." and compares them (dot-stuffing is checked, not
// removed).
func (c *testClient) wantMulti(lines ...string) *testClient {
	c.t.Helper()
	if got := c.multi(); !slices.Equal(got, lines) {
		c.t.Fatalf("got %q, want %q", got, lines)
	}
	return c
}

func (c *testClient) multi() []string {
	c.t.Helper()
	var got []string
	for {
		l := c.line()
		if l == "." {
			return got
		}
		got = append(got, l)
	}
}

// body reads a multi-line body as raw bytes, then removes the
// dot-stuffing as a client does: what it returns is the message.
func (c *testClient) body() (wire, msg []byte) {
	c.t.Helper()
	for {
		l, err := c.r.ReadBytes('\n')
		if err != nil {
			c.t.Fatalf("read body: %v", err)
		}
		wire = append(wire, l...)
		if string(l) == ".\r\n" {
			return wire, msg
		}
		if l[0] == '.' {
			l = l[1:]
		}
		msg = append(msg, l...)
	}
}

func (c *testClient) wantEOF() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("got %q, %v; want EOF", l, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// inbox returns the INBOX messages as another session sees them.
func inbox(t *testing.T, st storage.Store) []storage.Message {
	t.Helper()
	mb, err := st.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	return mb.Messages()
}

func uids(msgs []storage.Message) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}
