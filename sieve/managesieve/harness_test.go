package managesieve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/sieve/script"
)

// server runs the engine on a loopback listener, one session per
// connection, each with the options opts returns.
type server struct {
	t     *testing.T
	addr  string
	store *script.Store
	errs  chan error // what each Serve returned
	stop  context.CancelFunc
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newServer starts the engine for a fresh home; tweak adjusts the
// options of every session.
func newServer(t *testing.T, tweak func(*Options)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{t: t, addr: ln.Addr().String(), store: script.New(t.TempDir()), errs: make(chan error, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	srv.stop = cancel
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o := Options{Store: srv.store, User: "alice", Log: testLog(t)}
			if tweak != nil {
				tweak(&o)
			}
			wg.Go(func() {
				err := Serve(ctx, c, o)
				select {
				case srv.errs <- err:
				default:
				}
			})
		}
	})
	return srv
}

// client is the ManageSieve client side of a test.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (srv *server) dial() *client {
	srv.t.Helper()
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		srv.t.Fatal(err)
	}
	srv.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: srv.t, conn: c, r: bufio.NewReader(c)}
	cl.expect(`OK "Logged in."`)
	return cl
}

func (c *client) send(s string) *client {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
	return c
}

// cmd sends a command line, CRLF added.
func (c *client) cmd(line string) *client {
	c.t.Helper()
	return c.send(line + "\r\n")
}

// line reads one response line, and the literal it announces (with the
// line that goes on after it) so that a response reads as one string.
func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", l)
	}
	l = strings.TrimSuffix(l, "\r\n")
	if n, ok := literalSize(l); ok {
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		return l + "\r\n" + string(buf) + c.line()
	}
	return l
}

func literalSize(l string) (int, bool) {
	i := strings.LastIndexByte(l, '{')
	if i < 0 || !strings.HasSuffix(l, "}") {
		return 0, false
	}
	n, err := strconv.Atoi(l[i+1 : len(l)-1])
	return n, err == nil
}

// expect reads lines and compares them with want.
func (c *client) expect(want ...string) *client {
	c.t.Helper()
	for _, w := range want {
		if got := c.line(); got != w {
			c.t.Fatalf("got %q, want %q", got, w)
		}
	}
	return c
}

// expectPrefix reads a line and checks its start.
func (c *client) expectPrefix(prefix string) string {
	c.t.Helper()
	got := c.line()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got %q, want it to start with %q", got, prefix)
	}
	return got
}

func (c *client) expectEOF() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("got %q, %v; want EOF", l, err)
	}
}

// put uploads a script with a non-synchronizing literal.
func (c *client) put(name, src string) *client {
	c.t.Helper()
	return c.cmd("PUTSCRIPT " + quote(name) + " {" + strconv.Itoa(len(src)) + "+}\r\n" + src)
}

func dialRaw(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
