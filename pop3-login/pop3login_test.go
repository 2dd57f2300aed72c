package pop3login

import (
	"encoding/base64"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cote/proto"
)

var capaBase = []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func caps(extra ...string) []string {
	return append(append(append([]string(nil), capaBase...), extra...), "IMPLEMENTATION cote")
}

func TestGreetingAndCapa(t *testing.T) {
	tests := []struct {
		name string
		o    envOptions
		addr func(*env) string
		want []string
	}{
		{"loopback with TLS", envOptions{}, func(e *env) string { return e.plain },
			caps("STLS", "USER", "SASL PLAIN LOGIN")},
		{"loopback without TLS", envOptions{noTLS: true}, func(e *env) string { return e.plain },
			caps("USER", "SASL PLAIN LOGIN")},
		{"remote, plaintext disabled", envOptions{disablePlaintextAuth: true}, func(e *env) string { return e.remote },
			caps("STLS")},
		{"remote, plaintext allowed", envOptions{}, func(e *env) string { return e.remote },
			caps("STLS", "USER", "SASL PLAIN LOGIN")},
		{"trusted remote, plaintext disabled", envOptions{disablePlaintextAuth: true, trusted: true}, func(e *env) string { return e.remote },
			caps("STLS", "USER", "SASL PLAIN LOGIN")},
		{"implicit TLS", envOptions{disablePlaintextAuth: true}, func(e *env) string { return e.implTLS },
			caps("USER", "SASL PLAIN LOGIN")},
		{"PLAIN not offered", envOptions{mechanisms: []string{"LOGIN"}}, func(e *env) string { return e.plain },
			caps("STLS", "SASL LOGIN")},
		{"LOGIN-DELAY and EXPIRE", envOptions{protocol: Options{LoginDelay: time.Hour, Expire: "30"}}, func(e *env) string { return e.plain },
			caps("STLS", "USER", "SASL PLAIN LOGIN", "LOGIN-DELAY 3600", "EXPIRE 30")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.o)
			c := e.dial(tt.addr(e))
			c.expect("+OK cote ready.")
			c.cmd("CAPA").expect("+OK").expectMulti(tt.want...)
			c.cmd("QUIT").expect("+OK Logging out")
			c.expectEOF()
		})
	}
}

// checkAuth checks an AUTH line: mechanism, service, the extra
// parameters in want, and resp= when wantResp is set.
func checkAuth(t *testing.T, f []string, mech string, want map[string]string, wantResp *string) {
	t.Helper()
	if len(f) < 4 || f[0] != "AUTH" || f[2] != mech {
		t.Fatalf("AUTH line %q, want AUTH <id> %s ...", f, mech)
	}
	p := proto.AuthParams(f[3:])
	if p["service"] != "pop3" {
		t.Errorf("service=%q, want pop3", p["service"])
	}
	for k, v := range want {
		if got, ok := p[k]; !ok || got != v {
			t.Errorf("AUTH line %s=%q (present %v), want %q", k, got, ok, v)
		}
	}
	resp, ok := p["resp"]
	switch {
	case wantResp == nil && ok:
		t.Errorf("AUTH line has resp=, want none")
	case wantResp != nil && resp != *wantResp:
		t.Errorf("AUTH resp=%q, want %q", resp, *wantResp)
	}
}

func ptr(s string) *string { return &s }

// checkHandoff checks the handoff message: no tag, the leftover, the
// connection info, and that its descriptor reaches the client both ways
// with the worker's "+OK Logged in.".
func checkHandoff(t *testing.T, e *env, c *client, authID, leftover string, tlsClient bool) {
	t.Helper()
	h := e.nextHandoff()
	m := h.msg
	if m.AuthPID != fakeSPID || m.Cookie != fakeCookie || strconv.FormatUint(uint64(m.AuthID), 10) != authID {
		t.Errorf("handoff auth %d/%d/%q, want %d/%s/%q", m.AuthPID, m.AuthID, m.Cookie, fakeSPID, authID, fakeCookie)
	}
	if m.Tag != "" || m.SendCapability || string(m.Leftover) != leftover {
		t.Errorf("handoff tag %q leftover %q, want no tag and %q", m.Tag, m.Leftover, leftover)
	}
	if m.Conn.Protocol != "pop3" || m.Conn.TLS != tlsClient || len(m.Conn.SessionID) != 16 {
		t.Errorf("handoff conn %+v", m.Conn)
	}
	w, err := net.FileConn(h.file)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(w, "+OK Logged in.\r\n"); err != nil {
		t.Fatal(err)
	}
	c.expect("+OK Logged in.")
	c.cmd("STAT")
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(w, buf, len("STAT\r\n"))
	if err != nil || string(buf[:n]) != "STAT\r\n" {
		t.Fatalf("worker read %q, %v", buf[:n], err)
	}
}

func TestUserPass(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expect("+OK cote ready.")
	c.cmd("USER u").expect("+OK")
	c.cmd("PASS p")
	f := e.nextAuthLine()
	checkAuth(t, f, "PLAIN", map[string]string{"lip": "127.0.0.1", "rip": "127.0.0.1", "secured": ""}, ptr(b64("\x00u\x00p")))
	checkHandoff(t, e, c, f[1], "", false)
}

// The password is the rest of the line, spaces included.
func TestPassWithSpaces(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expect("+OK cote ready.")
	c.cmd("user u").expect("+OK")
	c.cmd("pass p  q ").expect("-ERR [AUTH] Authentication failed.")
	checkAuth(t, e.nextAuthLine(), "PLAIN", nil, ptr(b64("\x00u\x00p  q ")))
	// USER must come again.
	c.cmd("PASS p").expect("-ERR No username given.")
	e.noAuthLine()
}

// Commands pipelined after PASS go to the worker byte for byte, and the
// reply to USER is not held back.
func TestPipelinedLeftover(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	c.expect("+OK cote ready.")
	leftover := "STAT\r\nLIST\r\nRETR 1\r\nQU"
	c.send("CAPA\r\nUSER u\r\nPASS p\r\n" + leftover)
	c.expect("+OK").expectMulti(caps("STLS", "USER", "SASL PLAIN LOGIN")...)
	c.expect("+OK")
	f := e.nextAuthLine()
	checkHandoff(t, e, c, f[1], leftover, false)
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name     string
		mech     string
		steps    []string // "S:" lines are expected from the server
		wantResp *string
	}{
		{"PLAIN with initial response", "PLAIN", []string{"AUTH PLAIN " + b64("\x00u\x00p")}, ptr(b64("\x00u\x00p"))},
		{"lower-case mechanism", "PLAIN", []string{"auth plain " + b64("u\x00u\x00p")}, ptr(b64("u\x00u\x00p"))},
		{"PLAIN with continuation", "PLAIN", []string{"AUTH PLAIN", "S:+ ", b64("\x00u\x00p")}, nil},
		{"LOGIN", "LOGIN", []string{"AUTH LOGIN", "S:+ " + b64("Username:"), b64("u"), "S:+ " + b64("Password:"), b64("p")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expect("+OK cote ready.")
			for _, s := range tt.steps {
				if want, ok := strings.CutPrefix(s, "S:"); ok {
					c.expect(want)
					continue
				}
				c.cmd(s)
			}
			f := e.nextAuthLine()
			checkAuth(t, f, tt.mech, map[string]string{"secured": ""}, tt.wantResp)
			checkHandoff(t, e, c, f[1], "", false)
		})
	}
}

func TestAuthFailures(t *testing.T) {
	tests := []struct {
		name  string
		steps []string
	}{
		{"wrong password", []string{"USER u", "S:+OK", "PASS wrong", "S:-ERR [AUTH] Authentication failed."}},
		{"temporary failure", []string{"USER temp", "S:+OK", "PASS p", "S:-ERR [SYS/TEMP] Temporary authentication failure."}},
		{"PASS without USER", []string{"PASS p", "S:-ERR No username given."}},
		{"empty initial response", []string{"AUTH PLAIN =", "S:-ERR [AUTH] Authentication failed."}},
		{"cancel", []string{"AUTH PLAIN", "S:+ ", "*", "S:-ERR Authentication aborted by client."}},
		{"bad base64 response", []string{"AUTH PLAIN", "S:+ ", "!!", "S:-ERR Invalid base64 data in continued response."}},
		{"bad base64 initial response", []string{"AUTH PLAIN !!", "S:-ERR Invalid base64 data in initial response."}},
		{"unknown mechanism", []string{"AUTH CRAM-MD5", "S:-ERR Unsupported authentication mechanism."}},
		{"private mechanism", []string{"AUTH APOP", "S:-ERR Unsupported authentication mechanism."}},
		{"APOP", []string{"APOP u 0123456789abcdef0123456789abcdef", "S:-ERR APOP not enabled."}},
		{"LOGIN mech wrong password", []string{"AUTH LOGIN " + b64("u"), "S:+ " + b64("Username:"),
			b64("u"), "S:+ " + b64("Password:"), b64("x"), "S:-ERR [AUTH] Authentication failed."}},
		{"old-style mechanism list", []string{"AUTH", "S:+OK", "S:PLAIN", "S:LOGIN", "S:."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expect("+OK cote ready.")
			for _, s := range tt.steps {
				if want, ok := strings.CutPrefix(s, "S:"); ok {
					c.expect(want)
					continue
				}
				c.cmd(s)
			}
			// Still in the AUTHORIZATION state, and login still works.
			e.drainAuthLines()
			c.cmd("USER u").expect("+OK")
			c.cmd("PASS p")
			f := e.nextAuthLine()
			checkHandoff(t, e, c, f[1], "", false)
		})
	}
}

func TestHandoffRefused(t *testing.T) {
	for _, tt := range []struct {
		status uint32
		want   string
	}{
		{proto.HandoffRefused, "-ERR [AUTH] Authentication failed."},
		{proto.HandoffInternal, "-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information."},
	} {
		t.Run(strconv.Itoa(int(tt.status)), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.handoffStatus.Store(tt.status)
			c := e.dial(e.plain)
			c.expect("+OK cote ready.")
			c.cmd("AUTH PLAIN " + b64("\x00u\x00p"))
			e.nextHandoff()
			c.expect(tt.want)
			c.cmd("QUIT").expect("+OK Logging out")
		})
	}
}

func TestPlaintextDisallowed(t *testing.T) {
	e := newEnv(t, envOptions{disablePlaintextAuth: true})
	c := e.dial(e.remote)
	c.expect("+OK cote ready.")
	const refused = "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	c.cmd("USER u").expect(refused)
	c.cmd("PASS p").expect(refused)
	c.cmd("AUTH PLAIN " + b64("\x00u\x00p")).expect(refused)
	c.cmd("AUTH LOGIN").expect(refused)
	c.cmd("AUTH").expect("+OK").expectMulti()
	e.noAuthLine()
}

func TestPlainNotOffered(t *testing.T) {
	e := newEnv(t, envOptions{mechanisms: []string{"LOGIN"}})
	c := e.dial(e.plain)
	c.expect("+OK cote ready.")
	c.cmd("USER u").expect("-ERR USER is disabled, use AUTH.")
	c.cmd("PASS p").expect("-ERR No username given.")
	e.noAuthLine()
}

// STLS: what the client pipelined in the clear is discarded, the
// capabilities change, and after PASS the TLS session is proxied.
func TestSTLS(t *testing.T) {
	e := newEnv(t, envOptions{disablePlaintextAuth: true})
	c := e.dial(e.remote)
	c.expect("+OK cote ready.")
	c.send("STLS\r\nUSER u\r\nPASS p\r\n") // injection attempt
	c.expect("+OK Begin TLS negotiation now.")
	c.starttls(e.client)
	c.cmd("CAPA").expect("+OK").expectMulti(caps("USER", "SASL PLAIN LOGIN")...)
	c.cmd("PASS p").expect("-ERR No username given.")
	e.noAuthLine()
	c.cmd("STLS").expect("-ERR TLS is already active.")
	c.send("USER u\r\nPASS p\r\nSTAT\r\n")
	c.expect("+OK")
	f := e.nextAuthLine()
	checkAuth(t, f, "PLAIN", map[string]string{"rip": "192.0.2.7", "secured": "tls"}, ptr(b64("\x00u\x00p")))
	h := e.nextHandoff()
	if h.msg.Tag != "" || string(h.msg.Leftover) != "STAT\r\n" || !h.msg.Conn.TLS || !h.msg.Conn.Secured {
		t.Fatalf("handoff %+v", h.msg)
	}
	checkProxy(t, c, h.file)
}

func TestSTLSUnavailable(t *testing.T) {
	e := newEnv(t, envOptions{noTLS: true})
	c := e.dial(e.plain)
	c.expect("+OK cote ready.")
	c.cmd("STLS").expect("-ERR TLS support isn't enabled.")
	c.cmd("CAPA").expect("+OK").expectMulti(caps("USER", "SASL PLAIN LOGIN")...)
}

// checkProxy checks the TLS proxy both ways and its end.
func checkProxy(t *testing.T, c *client, f *os.File) {
	t.Helper()
	w, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(w, "+OK Logged in.\r\n")
	c.expect("+OK Logged in.")
	c.cmd("LIST")
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(w, buf, 6)
	if err != nil || string(buf[:n]) != "LIST\r\n" {
		t.Fatalf("worker read %q, %v", buf[:n], err)
	}
	io.WriteString(w, "+OK Logging out.\r\n")
	c.expect("+OK Logging out.")
	w.Close()
	c.expectEOF()
}

func TestImplicitTLS(t *testing.T) {
	e := newEnv(t, envOptions{disablePlaintextAuth: true})
	c := e.dial(e.implTLS)
	c.expect("+OK cote ready.")
	c.cmd("AUTH PLAIN " + b64("\x00u\x00p"))
	f := e.nextAuthLine()
	checkAuth(t, f, "PLAIN", map[string]string{"secured": "tls", "local_name": "localhost"}, ptr(b64("\x00u\x00p")))
	h := e.nextHandoff()
	if !h.msg.Conn.TLS || len(h.msg.Leftover) != 0 {
		t.Fatalf("handoff %+v", h.msg)
	}
	checkProxy(t, c, h.file)
}

func TestBadCommands(t *testing.T) {
	tests := []struct {
		name  string
		steps []string
	}{
		{"three strikes", []string{"STAT", "S:-ERR Unknown command.", "CAPA", "S:+OK", "S:*", "RETR 1",
			"S:-ERR Unknown command.", "X\x00", "S:-ERR Unknown command.", "S:-ERR Too many invalid commands."}},
		{"line too long", []string{"USER " + strings.Repeat("x", MaxLine), "S:-ERR Input line too long."}},
		{"NUL in USER", []string{"USER a\x00b", "S:-ERR Unknown command.", "", "S:-ERR Unknown command.",
			"USER", "S:-ERR USER needs a user name.", "S:-ERR Too many invalid commands."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dial(e.plain)
			c.expect("+OK cote ready.")
			for _, s := range tt.steps {
				if want, ok := strings.CutPrefix(s, "S:"); ok {
					if want == "*" {
						c.expectMulti(caps("STLS", "USER", "SASL PLAIN LOGIN")...)
						continue
					}
					c.expect(want)
					continue
				}
				c.cmd(s)
			}
			c.expectEOF()
			e.noAuthLine()
		})
	}
}

func TestPreAuthTimeout(t *testing.T) {
	e := newEnv(t, envOptions{preAuthTimeout: 300 * time.Millisecond})
	c := e.dial(e.plain)
	c.expect("+OK cote ready.")
	c.expect("-ERR Disconnected for inactivity.")
	c.expectEOF()
}

// pop3-login links no storage, protocol engine, auth server or config.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "cote/pop3-login").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"cote/storage", "cote/imap", "cote/pop3", "cote/auth", "cote/sieve", "cote/config", "cote/worker", "cote/master"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("pop3-login links %s", dep)
			}
		}
	}
}
