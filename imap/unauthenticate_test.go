package imap

import (
	"bufio"
	"compress/flate"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"cote/storage/memstore"
)

// unauthSession serves a session whose Options.Unauthenticate records the
// leftover it is given and answers with fail. It returns the client and
// a channel with Serve's result.
func unauthSession(t *testing.T, o Options, fail error) (*tconn, <-chan []byte, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	if o.Store == nil {
		o.Store = store
	}
	o.User, o.NoAutoMailboxes, o.Tag = "test", true, "L"
	got := make(chan []byte, 1)
	o.Unauthenticate = func(leftover []byte) error {
		got <- leftover
		return fail
	}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), server, o) }()
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(30 * time.Second))
	c := &tconn{t: t, conn: client, r: bufio.NewReader(client), store: store}
	if line := c.readResponse(); !strings.HasPrefix(line, "L OK [CAPABILITY ") || !strings.Contains(line, " UNAUTHENTICATE") {
		t.Fatalf("login reply = %q, want UNAUTHENTICATE among the capabilities", line)
	}
	return c, got, done
}

// RFC 8437 section 3: UNAUTHENTICATE closes the mailbox, answers OK and
// hands the connection (with what the client pipelined) to the login
// side; the session writes nothing more.
func TestUnauthenticate(t *testing.T) {
	c, got, done := unauthSession(t, Options{}, nil)
	c.cmd("a SELECT INBOX").ok()
	c.cmd("b UNAUTHENTICATE x").want("b BAD *")
	c.send("c UNAUTHENTICATE\r\nd CAPABILITY\r\n")
	c.until("c UNAUTHENTICATE", "c").want("c OK Unauthenticate completed.")
	if lo := <-got; string(lo) != "d CAPABILITY\r\n" {
		t.Errorf("leftover = %q, want the pipelined CAPABILITY", lo)
	}
	if err := <-done; !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Serve = %v, want ErrUnauthenticated", err)
	}
	if rest, _ := io.ReadAll(c.r); len(rest) != 0 {
		t.Errorf("the session wrote %q after handing the connection back", rest)
	}
}

// Bytes the login process forwarded (Options.Leftover) and the worker
// had not reached go back with the connection.
func TestUnauthenticateLeftover(t *testing.T) {
	c, got, done := unauthSession(t, Options{Leftover: []byte("a UNAUTHENTICATE\r\nb NOOP\r\n")}, nil)
	c.until("a UNAUTHENTICATE", "a").want("a OK Unauthenticate completed.")
	if lo := <-got; string(lo) != "b NOOP\r\n" {
		t.Errorf("leftover = %q", lo)
	}
	if err := <-done; !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Serve = %v", err)
	}
}

// A failed hand-back cannot leave the client served by the user's
// process: it gets BYE and the connection closes.
func TestUnauthenticateFailed(t *testing.T) {
	c, _, done := unauthSession(t, Options{}, errors.New("no master"))
	c.cmd("a UNAUTHENTICATE").want("a OK Unauthenticate completed.")
	if line := c.readResponse(); !strings.HasPrefix(line, "* BYE ") {
		t.Errorf("after a failed hand-back: %q", line)
	}
	if err := <-done; err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Serve = %v, want the hand-back's error", err)
	}
}

// With COMPRESS active the command is refused (the compressor's state
// cannot move), and without Options.Unauthenticate it is not offered.
func TestUnauthenticateRefused(t *testing.T) {
	c, _, _ := unauthSession(t, Options{}, nil)
	c.cmd("a COMPRESS DEFLATE").ok()
	fw, _ := flate.NewWriter(c.conn, flate.BestSpeed)
	zc := &tconn{t: t, conn: writerConn{c.conn, fw}, r: bufio.NewReader(flate.NewReader(c.r))}
	zc.cmd("b UNAUTHENTICATE").want("b NO [CANNOT] UNAUTHENTICATE is not possible while COMPRESS is active.")

	d := login(t, nil)
	if caps := d.cmd("a CAPABILITY").lines[0]; strings.Contains(caps, "UNAUTHENTICATE") {
		t.Errorf("CAPABILITY without the hook = %q", caps)
	}
	d.cmd("b UNAUTHENTICATE").want("b BAD Unknown command UNAUTHENTICATE.")
}
