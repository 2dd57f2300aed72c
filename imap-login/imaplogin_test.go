package imaplogin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"cote/login"
	"cote/proto"
)

const base = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"

func TestGreeting(t *testing.T) {
	tests := []struct {
		name string
		o    envOptions
		addr func(*env) string
		want string
	}{
		{"loopback with TLS", envOptions{}, func(e *env) string { return e.plain },
			base + " STARTTLS AUTH=PLAIN AUTH=LOGIN"},
		{"loopback without TLS", envOptions{noTLS: true}, func(e *env) string { return e.plain },
			base + " AUTH=PLAIN AUTH=LOGIN"},
		{"loopback, plaintext disabled", envOptions{disablePlaintextAuth: true}, func(e *env) string { return e.plain },
			base + " STARTTLS AUTH=PLAIN AUTH=LOGIN"},
		{"remote, plaintext disabled", envOptions{disablePlaintextAuth: true}, func(e *env) string { return e.remote },
			base + " STARTTLS LOGINDISABLED"},
		{"remote, plaintext allowed", envOptions{}, func(e *env) string { return e.remote },
			base + " STARTTLS AUTH=PLAIN AUTH=LOGIN"},
		{"trusted remote, plaintext disabled", envOptions{disablePlaintextAuth: true, trusted: true}, func(e *env) string { return e.remote },
			base + " STARTTLS AUTH=PLAIN AUTH=LOGIN"},
		{"implicit TLS", envOptions{disablePlaintextAuth: true}, func(e *env) string { return e.implTLS },
			base + " AUTH=PLAIN AUTH=LOGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.o)
			c := e.dial(tt.addr(e))
			c.expect("* OK [CAPABILITY " + tt.want + "] cote ready.")
			c.send("a CAPABILITY\r\n")
			c.expect("* CAPABILITY " + tt.want)
			c.expect("a OK Pre-login capabilities listed, post-login capabilities have more.")
			c.send("b NOOP\r\nc LOGOUT\r\n")
			c.expect("b OK NOOP completed.")
			c.expect("* BYE Logging out")
			c.expect("c OK Logout completed.")
			c.expectEOF()
		})
	}
}

// checkAuth checks an AUTH line: mechanism, the parameters cote always
// sends, the extra ones in want, and resp= last when wantResp is set.
func checkAuth(t *testing.T, f []string, mech string, want map[string]string, wantResp *string) {
	t.Helper()
	if len(f) < 4 || f[0] != "AUTH" || f[2] != mech {
		t.Fatalf("AUTH line %q, want AUTH <id> %s ...", f, mech)
	}
	p := proto.AuthParams(f[3:])
	for _, k := range []string{"service", "session", "lip", "rip", "lport", "rport"} {
		if _, ok := p[k]; !ok {
			t.Errorf("AUTH line %q lacks %s=", f, k)
		}
	}
	if p["service"] != "imap" {
		t.Errorf("service=%q, want imap", p["service"])
	}
	for k, v := range want {
		got, ok := p[k]
		if v == "-" {
			if ok {
				t.Errorf("AUTH line has %s=%q, want none", k, got)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("AUTH line %s=%q (present %v), want %q", k, got, ok, v)
		}
	}
	last := f[len(f)-1]
	if wantResp == nil {
		if _, ok := p["resp"]; ok {
			t.Errorf("AUTH line has resp=, want none")
		}
	} else if last != "resp="+*wantResp {
		t.Errorf("last AUTH field %q, want resp=%s", last, *wantResp)
	}
}

func ptr(s string) *string { return &s }

// checkHandoff checks the handoff message and that its descriptor
// reaches the client both ways.
func checkHandoff(t *testing.T, e *env, c *client, authID string, tag, leftover string, tlsClient bool) {
	t.Helper()
	h := e.nextHandoff()
	m := h.msg
	if m.AuthPID != fakeSPID || m.Cookie != fakeCookie || strconv.FormatUint(uint64(m.AuthID), 10) != authID {
		t.Errorf("handoff auth %d/%d/%q, want %d/%s/%q", m.AuthPID, m.AuthID, m.Cookie, fakeSPID, authID, fakeCookie)
	}
	if m.Tag != tag || string(m.Leftover) != leftover {
		t.Errorf("handoff tag %q leftover %q, want %q %q", m.Tag, m.Leftover, tag, leftover)
	}
	if m.Conn.Protocol != "imap" || m.Conn.TLS != tlsClient || len(m.Conn.SessionID) != 16 {
		t.Errorf("handoff conn %+v", m.Conn)
	}
	w, err := net.FileConn(h.file)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetDeadline(time.Now().Add(5 * time.Second))
	// The worker answers the tag; the login process wrote nothing more.
	if _, err := io.WriteString(w, tag+" OK Logged in\r\n"); err != nil {
		t.Fatal(err)
	}
	c.expect(tag + " OK Logged in")
	c.send("z NOOP\r\n")
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(w, buf, len("z NOOP\r\n"))
	if err != nil || string(buf[:n]) != "z NOOP\r\n" {
		t.Fatalf("worker read %q, %v", buf[:n], err)
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name  string
		steps []string // client sends; "+" lines expect the continuation
	}{
		{"atoms", []string{"a LOGIN u p\r\n"}},
		{"quoted", []string{"a LOGIN \"u\" \"p\"\r\n"}},
		{"synchronising literals", []string{"a LOGIN {1}\r\n", "+", "u {1}\r\n", "+", "p\r\n"}},
		{"LITERAL+", []string{"a LOGIN {1+}\r\nu {1+}\r\np\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expectPrefix("* OK ")
			for _, s := range tt.steps {
				if s == "+" {
					c.expect("+ OK")
					continue
				}
				c.send(s)
			}
			f := e.nextAuthLine()
			checkAuth(t, f, "PLAIN", map[string]string{"lip": "127.0.0.1", "rip": "127.0.0.1", "secured": ""},
				ptr(base64.StdEncoding.EncodeToString([]byte("\x00u\x00p"))))
			checkHandoff(t, e, c, f[1], "a", "", false)
		})
	}
}

// A command pipelined after LOGIN goes to the worker byte for byte.
func TestLoginPipelinedLeftover(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	leftover := "b SELECT INBOX\r\nc FETCH 1:* (FLAGS {3}\r\nabc"
	c.send("a LOGIN u p\r\n" + leftover)
	f := e.nextAuthLine()
	checkHandoff(t, e, c, f[1], "a", leftover, false)
}

func TestAuthenticate(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name     string
		mech     string
		steps    []string // "S:" lines are expected from the server
		wantResp *string
	}{
		{"PLAIN with SASL-IR", "PLAIN", []string{"a AUTHENTICATE PLAIN " + b64("\x00u\x00p") + "\r\n"}, ptr(b64("\x00u\x00p"))},
		{"PLAIN with authzid", "PLAIN", []string{"a AUTHENTICATE plain " + b64("u\x00u\x00p") + "\r\n"}, ptr(b64("u\x00u\x00p"))},
		{"PLAIN with continuation", "PLAIN", []string{"a AUTHENTICATE PLAIN\r\n", "S:+ ", b64("\x00u\x00p") + "\r\n"}, nil},
		{"LOGIN", "LOGIN", []string{"a AUTHENTICATE LOGIN\r\n", "S:+ " + b64("Username:"), b64("u") + "\r\n",
			"S:+ " + b64("Password:"), b64("p") + "\r\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expectPrefix("* OK ")
			for _, s := range tt.steps {
				if want, ok := strings.CutPrefix(s, "S:"); ok {
					c.expect(want)
					continue
				}
				c.send(s)
			}
			f := e.nextAuthLine()
			checkAuth(t, f, tt.mech, map[string]string{"secured": ""}, tt.wantResp)
			checkHandoff(t, e, c, f[1], "a", "", false)
		})
	}
}

func TestAuthenticateFailures(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name  string
		steps []string
	}{
		{"wrong password", []string{"a LOGIN u wrong\r\n", "S:a NO [AUTHENTICATIONFAILED] Authentication failed."}},
		{"temporary failure", []string{"a LOGIN temp p\r\n", "S:a NO [UNAVAILABLE] Temporary authentication failure."}},
		{"empty initial response", []string{"a AUTHENTICATE PLAIN =\r\n", "S:a NO [AUTHENTICATIONFAILED] Authentication failed."}},
		{"cancel", []string{"a AUTHENTICATE PLAIN\r\n", "S:+ ", "*\r\n", "S:a BAD Authentication aborted by client."}},
		{"bad base64 response", []string{"a AUTHENTICATE PLAIN\r\n", "S:+ ", "!!\r\n", "S:a BAD Invalid base64 data in continued response."}},
		{"bad base64 initial response", []string{"a AUTHENTICATE PLAIN !!\r\n", "S:a BAD Invalid base64 in initial response."}},
		{"unknown mechanism", []string{"a AUTHENTICATE CRAM-MD5\r\n", "S:a NO [CANNOT] Unsupported authentication mechanism."}},
		{"private mechanism", []string{"a AUTHENTICATE APOP\r\n", "S:a NO [CANNOT] Unsupported authentication mechanism."}},
		{"LOGIN mech wrong password", []string{"a AUTHENTICATE LOGIN " + b64("u") + "\r\n", "S:+ " + b64("Username:"),
			b64("u") + "\r\n", "S:+ " + b64("Password:"), b64("x") + "\r\n", "S:a NO [AUTHENTICATIONFAILED] Authentication failed."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expectPrefix("* OK ")
			for _, s := range tt.steps {
				if want, ok := strings.CutPrefix(s, "S:"); ok {
					c.expect(want)
					continue
				}
				c.send(s)
			}
			// Still in the not-authenticated state, and LOGIN still works.
			c.send("b NOOP\r\n")
			c.expect("b OK NOOP completed.")
			e.drainAuthLines()
			c.send("c LOGIN u p\r\n")
			f := e.nextAuthLine()
			checkHandoff(t, e, c, f[1], "c", "", false)
		})
	}
}

func TestHandoffRefused(t *testing.T) {
	for _, tt := range []struct {
		status uint32
		want   string
	}{
		{proto.HandoffRefused, "a NO [AUTHENTICATIONFAILED] Authentication failed."},
		{proto.HandoffInternal, "a NO [UNAVAILABLE] Internal error occurred. Refer to server log for more information."},
	} {
		t.Run(strconv.Itoa(int(tt.status)), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.handoffStatus.Store(tt.status)
			c := e.dial(e.plain)
			c.expectPrefix("* OK ")
			c.send("a LOGIN u p\r\n")
			e.nextHandoff()
			c.expect(tt.want)
			c.send("b NOOP\r\n")
			c.expect("b OK NOOP completed.")
		})
	}
}

func TestPlaintextDisallowed(t *testing.T) {
	e := newEnv(t, envOptions{disablePlaintextAuth: true})
	c := e.dial(e.remote)
	c.expect("* OK [CAPABILITY " + base + " STARTTLS LOGINDISABLED] cote ready.")
	c.send("a LOGIN u p\r\n")
	c.expect("a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	c.send("b AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00u\x00p")) + "\r\n")
	c.expect("b NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	e.noAuthLine()
}

// STARTTLS: what the client pipelined in the clear is discarded, the
// capabilities change, and after LOGIN the TLS session is proxied.
func TestStartTLS(t *testing.T) {
	e := newEnv(t, envOptions{disablePlaintextAuth: true})
	c := e.dial(e.remote)
	c.expect("* OK [CAPABILITY " + base + " STARTTLS LOGINDISABLED] cote ready.")
	c.send("a STARTTLS\r\nx LOGIN u p\r\n") // injection attempt
	c.expect("a OK Begin TLS negotiation now.")
	c.starttls(e.client)
	c.send("b CAPABILITY\r\n")
	c.expect("* CAPABILITY " + base + " AUTH=PLAIN AUTH=LOGIN")
	c.expect("b OK Pre-login capabilities listed, post-login capabilities have more.")
	e.noAuthLine()
	c.send("c STARTTLS\r\n")
	c.expect("c BAD TLS is already active.")
	c.send("d LOGIN u p\r\ne NOOP\r\n")
	f := e.nextAuthLine()
	checkAuth(t, f, "PLAIN", map[string]string{"rip": "192.0.2.7", "secured": "tls"}, ptr(base64.StdEncoding.EncodeToString([]byte("\x00u\x00p"))))
	h := e.nextHandoff()
	if h.msg.Tag != "d" || string(h.msg.Leftover) != "e NOOP\r\n" || !h.msg.Conn.TLS || !h.msg.Conn.Secured || h.msg.SendCapability {
		t.Fatalf("handoff %+v", h.msg)
	}
	checkProxy(t, c, h.file)
}

// checkProxy checks the TLS proxy both ways and its half-close.
func checkProxy(t *testing.T, c *client, f *os.File) {
	t.Helper()
	w, err := net.FileConn(f)
	f.Close() // w holds its own descriptor; closing w must end the session
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(w, "d OK Logged in\r\n")
	c.expect("d OK Logged in")
	c.send("f NOOP\r\n")
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(w, buf, 8)
	if err != nil || string(buf[:n]) != "f NOOP\r\n" {
		t.Fatalf("worker read %q, %v", buf[:n], err)
	}
	// The client half-closes: the worker sees EOF and can still answer.
	type closeWriter interface{ CloseWrite() error }
	if err := c.conn.(closeWriter).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Read(buf); err != io.EOF {
		t.Fatalf("worker read %q, %v after client half-close; want EOF", buf[:n], err)
	}
	io.WriteString(w, "* BYE bye\r\n")
	c.expect("* BYE bye")
	w.Close()
	c.expectEOF()
}

func TestImplicitTLSProxy(t *testing.T) {
	e := newEnv(t, envOptions{disablePlaintextAuth: true})
	c := e.dial(e.implTLS)
	c.expect("* OK [CAPABILITY " + base + " AUTH=PLAIN AUTH=LOGIN] cote ready.")
	c.send("a CAPABILITY\r\n")
	c.expectPrefix("* CAPABILITY ")
	c.expectPrefix("a OK ")
	c.send("d AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00u\x00p")) + "\r\n")
	f := e.nextAuthLine()
	checkAuth(t, f, "PLAIN", map[string]string{"secured": "tls", "local_name": "localhost"}, ptr(base64.StdEncoding.EncodeToString([]byte("\x00u\x00p"))))
	h := e.nextHandoff()
	if h.msg.Tag != "d" || len(h.msg.Leftover) != 0 || !h.msg.Conn.TLS || !h.msg.SendCapability {
		t.Fatalf("handoff %+v", h.msg)
	}
	checkProxy(t, c, h.file)
}

func TestID(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	// A long ID first (imaptest's "id" script sends about 31 KB) is taken.
	var long strings.Builder
	long.WriteString("l ID (")
	for i := range 29 {
		fmt.Fprintf(&long, "\"k%02d\" \"%s\" ", i, strings.Repeat("1234567890", 100))
	}
	long.WriteString("\"last\" NIL)\r\n")
	c.send(long.String())
	c.expect("* ID (\"name\" \"cote\")")
	c.expect("l OK ID completed.")
	c.send("a ID (\"name\" \"mutt\" \"version\" \"2.2\" \"os\" NIL)\r\n")
	c.expect("* ID (\"name\" \"cote\")")
	c.expect("a OK ID completed.")
	c.send("b ID NIL\r\n")
	c.expect("* ID (\"name\" \"cote\")")
	c.expect("b OK ID completed.")
	c.send("c ID (\"name\")\r\n")
	c.expect("c BAD ID list must hold field-value pairs.")
	c.send("d LOGIN u p\r\n")
	f := e.nextAuthLine()
	checkAuth(t, f, "PLAIN", map[string]string{"client_id": "name=mutt, version=2.2"}, ptr(base64.StdEncoding.EncodeToString([]byte("\x00u\x00p"))))
	h := e.nextHandoff()
	if h.msg.Conn.ClientID != "name=mutt, version=2.2" {
		t.Errorf("handoff ClientID %q", h.msg.Conn.ClientID)
	}
}

func TestBadCommands(t *testing.T) {
	tests := []struct {
		name  string
		steps []string
	}{
		{"three strikes", []string{"a FOO\r\n", "S:a BAD Unknown command.", "b SELECT INBOX\r\n",
			"S:b BAD Command is not valid in the not-authenticated state.", "c ENABLE UTF8=ACCEPT\r\n",
			"S:c BAD ENABLE is only valid in the authenticated state.", "S:* BYE Too many invalid IMAP commands."}},
		{"tag too long", []string{strings.Repeat("t", 127) + " NOOP\r\n", "S:* BAD Error in IMAP tag.",
			strings.Repeat("t", 126) + " NOOP\r\n", "S:" + strings.Repeat("t", 126) + " OK NOOP completed.",
			"+a NOOP\r\n", "S:* BAD Error in IMAP tag.", "a NOOP x\r\n", "S:a BAD NOOP takes no arguments.",
			"S:* BYE Too many invalid IMAP commands."}},
		{"line too long", []string{"a LOGIN " + strings.Repeat("x", MaxLine) + "\r\n", "S:* BYE Too long command line."}},
		{"literal too large", []string{"a LOGIN {9000}\r\n", "S:a BAD Literal too large.", "a LOGIN {9000+}\r\n",
			"S:* BYE Literal too large."}},
		{"syntax errors", []string{"a LOGIN \"u p\r\n", "S:a BAD Missing '\"'.", "b LOGIN u\r\n",
			"S:b BAD LOGIN takes a user name and a password.", "c NOOP\r\n", "S:c OK NOOP completed.",
			"\r\n", "d LOGIN (u) p\r\n", "S:d BAD LOGIN arguments must be strings.", "S:* BYE Too many invalid IMAP commands."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expectPrefix("* OK ")
			for _, s := range tt.steps {
				if want, ok := strings.CutPrefix(s, "S:"); ok {
					c.expect(want)
					continue
				}
				c.send(s)
			}
			c.expectEOF()
			e.noAuthLine()
		})
	}
}

func TestPreAuthTimeout(t *testing.T) {
	e := newEnv(t, envOptions{preAuthTimeout: 300 * time.Millisecond})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	c.expect("* BYE Disconnected for inactivity.")
	c.expectEOF()
}

// The client count goes to the master, and a graceful Shutdown waits for
// the clients.
func TestStatusAndShutdown(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	waitStatus(t, e, proto.Status{Clients: 1, Available: 9})
	if err := e.master.Send(&proto.Shutdown{}); err != nil {
		t.Fatal(err)
	}
	c.send("a NOOP\r\n")
	c.expect("a OK NOOP completed.")
	select {
	case err := <-e.serveErr:
		t.Fatalf("Serve returned %v with a client left", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.send("b LOGOUT\r\n")
	c.expect("* BYE Logging out")
	c.expect("b OK Logout completed.")
	select {
	case err := <-e.serveErr:
		if !errors.Is(err, login.ErrServerClosed) {
			t.Fatalf("Serve = %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last client")
	}
	if _, err := net.Dial("tcp", e.plain); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
}

func waitStatus(t *testing.T, e *env, want proto.Status) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-e.statuses:
			if st == want {
				return
			}
		case <-deadline:
			t.Fatalf("no Status %+v", want)
		}
	}
}

// When auth goes away, the request fails temporarily and the next one
// runs on a new connection.
func TestAuthReconnect(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expectPrefix("* OK ")
	c.send("a AUTHENTICATE PLAIN\r\n")
	c.expect("+ ")
	e.nextAuthLine()
	e.auth.dropAll()
	// The exchange notices the loss when the client answers.
	c.send(base64.StdEncoding.EncodeToString([]byte("\x00u\x00p")) + "\r\n")
	c.expect("a NO [UNAVAILABLE] Temporary authentication failure.")
	c.send("b LOGIN u p\r\n")
	f := e.nextAuthLine()
	if f[1] != "1" {
		t.Errorf("request id %s on a new connection, want 1", f[1])
	}
	checkHandoff(t, e, c, f[1], "b", "", false)
}

// A full process accepts no more clients until one leaves.
func TestClientLimit(t *testing.T) {
	e := newEnv(t, envOptions{clientLimit: 1})
	c1 := e.dial(e.plain)
	c1.expectPrefix("* OK ")
	waitStatus(t, e, proto.Status{Clients: 1, Available: 0})
	c2 := e.dial(e.plain)
	c2.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if l, err := c2.r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second client got %q, %v; want no greeting", l, err)
	}
	c2.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	c1.send("a LOGOUT\r\n")
	c1.expect("* BYE Logging out")
	c2.expectPrefix("* OK ")
	// A graceful shutdown with a client waiting for a slot ends too.
	e.master.Send(&proto.Shutdown{Now: true})
	c2.expectEOF()
	if err := <-e.serveErr; !errors.Is(err, login.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
}
