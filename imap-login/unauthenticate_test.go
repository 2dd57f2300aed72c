package imaplogin

import (
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"cote/proto"
)

// worker plays the worker's side of a handed-off connection.
func worker(t *testing.T, f *os.File) net.Conn {
	t.Helper()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func inode(t *testing.T, f *os.File) uint64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// RFC 8437: a session given back by its worker continues here in the
// not-authenticated state, without a greeting, reading first what the
// worker had read past UNAUTHENTICATE; another LOGIN hands it off again
// with the same connection facts.
func TestUnauthenticatePlain(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	c.send("a LOGIN u p\r\n")
	h := e.nextHandoff()
	io.WriteString(worker(t, h.file), "a OK [CAPABILITY IMAP4rev1 UNAUTHENTICATE] Logged in\r\nb OK Unauthenticate completed.\r\n")
	c.expectPrefix("a OK ")
	c.expect("b OK Unauthenticate completed.")
	if err := e.master.Send(&proto.Unauthenticate{Protocol: "imap", SessionID: h.msg.Conn.SessionID,
		Leftover: []byte("c CAPABILITY\r\n")}, h.file); err != nil {
		t.Fatal(err)
	}
	caps := c.expectPrefix("* CAPABILITY ")
	if !strings.Contains(caps, "AUTH=PLAIN") || !strings.Contains(caps, "STARTTLS") {
		t.Errorf("CAPABILITY after UNAUTHENTICATE = %q", caps)
	}
	c.expectPrefix("c OK Pre-login capabilities listed")
	c.send("d LOGIN u p\r\n")
	h2 := e.nextHandoff()
	if h2.msg.Conn.SessionID != h.msg.Conn.SessionID || h2.msg.Conn.RemoteAddr != h.msg.Conn.RemoteAddr || h2.msg.Conn.TLS {
		t.Errorf("second handoff Conn = %+v, first %+v", h2.msg.Conn, h.msg.Conn)
	}
	io.WriteString(worker(t, h2.file), "d OK Logged in\r\n")
	c.expect("d OK Logged in")
}

// A TLS client's session comes back as the worker's end of the proxy's
// socketpair: the same login process serves it over the TLS session it
// still holds, and the next handoff passes the same end again.
func TestUnauthenticateTLS(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.implTLS)
	c.expectPrefix("* OK ")
	c.send("a LOGIN u p\r\nb UNAUTHENTICATE\r\n")
	h := e.nextHandoff()
	if !h.msg.Conn.TLS {
		t.Fatalf("handoff of a TLS client: %+v", h.msg.Conn)
	}
	w := worker(t, h.file)
	io.WriteString(w, "a OK Logged in\r\nb OK Unauthenticate completed.\r\n")
	c.expect("a OK Logged in")
	c.expect("b OK Unauthenticate completed.")
	// What the worker had read past LOGIN (h.msg.Leftover) would be
	// processed by the worker; here the worker gives nothing back.
	if err := e.master.Send(&proto.Unauthenticate{Protocol: "imap"}, h.file); err != nil {
		t.Fatal(err)
	}
	c.send("c CAPABILITY\r\n")
	caps := c.expectPrefix("* CAPABILITY ")
	if strings.Contains(caps, "STARTTLS") || !strings.Contains(caps, "AUTH=PLAIN") {
		t.Errorf("CAPABILITY over TLS after UNAUTHENTICATE = %q", caps)
	}
	c.expectPrefix("c OK ")
	c.send("d STARTTLS\r\n")
	c.expect("d BAD TLS is already active.")
	c.send("e LOGIN u p\r\n")
	h2 := e.nextHandoff()
	if !h2.msg.Conn.TLS || h2.msg.Conn.SessionID != h.msg.Conn.SessionID {
		t.Errorf("second handoff Conn = %+v", h2.msg.Conn)
	}
	if inode(t, h2.file) != inode(t, h.file) {
		t.Errorf("second handoff passed another socket, want the proxy's end again")
	}
	io.WriteString(worker(t, h2.file), "e OK Logged in\r\n")
	c.expect("e OK Logged in")
}

// A session for another protocol is dropped.
func TestUnauthenticateWrongProtocol(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	c.send("a LOGIN u p\r\n")
	h := e.nextHandoff()
	w := worker(t, h.file)
	if err := e.master.Send(&proto.Unauthenticate{Protocol: "pop3"}, h.file); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h.file.Close()
	c.expectEOF()
}
