package imap

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// writeCounter counts the writes a session makes to its connection.
type writeCounter struct {
	net.Conn
	n atomic.Int64
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.n.Add(1)
	return w.Conn.Write(p)
}

// TestPipelinedResponses: the responses to commands a client sent at
// once go back in one write, in order, while the next is one that
// answers from memory; a response does not wait behind a command that
// writes (a flag change, a save); a command whose successor has not
// fully arrived gets its response at once (the session does not hold
// output back waiting for input); a synchronising literal's
// continuation goes out with whatever was held back before it.
func TestPipelinedResponses(t *testing.T) {
	client, server := loopback(t)
	wc := &writeCounter{Conn: server}
	c := serveOn(t, client, wc, nil, Options{Tag: "L"})
	if line := c.readResponse(); !strings.HasPrefix(line, "L OK") {
		t.Fatalf("greeting %q", line)
	}

	c.cmd("s SELECT INBOX").ok()
	c.cmd("p APPEND INBOX {14+}\r\nSubject: x\r\n\r\n").ok()
	before := wc.n.Load()
	c.send("a NOOP\r\nb STATUS INBOX (MESSAGES)\r\nc FETCH 1 (FLAGS)\r\nd LIST \"\" *\r\n")
	c.until("d", "d").ok()
	if n := wc.n.Load() - before; n != 1 {
		t.Errorf("4 pipelined commands were answered in %d writes, want 1", n)
	}

	// A flag change next: the response before it goes out first.
	before = wc.n.Load()
	c.send("a2 NOOP\r\nb2 STORE 1 +FLAGS (\\Seen)\r\nc2 UID STORE 1 -FLAGS (\\Seen)\r\n")
	c.until("c2", "c2").ok()
	if n := wc.n.Load() - before; n != 3 {
		t.Errorf("NOOP, STORE and UID STORE pipelined were answered in %d writes, want 3", n)
	}

	// The next command's line is not complete: the response to the
	// one before goes out now.
	c.send("e NOOP\r\nf NO")
	c.until("e", "e").ok()
	c.send("OP\r\n")
	c.until("f", "f").ok()

	// A synchronising literal (a mailbox name) in the next command: its
	// continuation takes the held response with it.
	before = wc.n.Load()
	c.send("g NOOP\r\nh STATUS {5}\r\n")
	c.until("g", "g").ok()
	if line := c.readResponse(); !strings.HasPrefix(line, "+") {
		t.Fatalf("want a continuation, got %q", line)
	}
	if n := wc.n.Load() - before; n != 1 {
		t.Errorf("a response and the continuation after it took %d writes, want 1", n)
	}
	c.send("INBOX (MESSAGES)\r\n")
	c.until("h", "h").ok()
}
