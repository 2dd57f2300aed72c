package managesievelogin

import (
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"cote/proto"
)

const testSieve = "body copy enotify fileinto"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func plainIR(user, pass string) string { return b64("\x00" + user + "\x00" + pass) }

// greeting is the capability response before login, then the final
// line.
func greeting(sasl string, starttls bool, final string) []string {
	g := []string{`"IMPLEMENTATION" "cote"`, `"SIEVE" "` + testSieve + `"`, `"NOTIFY" "mailto"`, `"SASL" "` + sasl + `"`}
	if starttls {
		g = append(g, `"STARTTLS"`)
	}
	return append(g, `"MAXREDIRECTS" "4"`, `"VERSION" "1.0"`, final)
}

var opts = Options{Sieve: testSieve, MaxRedirects: 4}

func TestGreeting(t *testing.T) {
	tests := []struct {
		name string
		s    setup
		addr func(*harness) string
		want []string
	}{
		{"loopback", setup{options: opts}, func(h *harness) string { return h.local },
			greeting("PLAIN LOGIN", true, `OK "cote ready."`)},
		{"without TLS", setup{options: opts, noTLS: true}, func(h *harness) string { return h.local },
			greeting("PLAIN LOGIN", false, `OK "cote ready."`)},
		{"remote, plaintext disabled", setup{options: opts, noPlaintext: true}, func(h *harness) string { return h.remote },
			greeting("", true, `OK "cote ready."`)},
		{"remote, plaintext allowed", setup{options: opts}, func(h *harness) string { return h.remote },
			greeting("PLAIN LOGIN", true, `OK "cote ready."`)},
		{"implicit TLS", setup{options: opts, noPlaintext: true}, func(h *harness) string { return h.implicit },
			greeting("PLAIN LOGIN", false, `OK "cote ready."`)},
		{"own greeting and implementation", setup{options: Options{Greeting: `Hi "there"`, Implementation: "cote 0.1", Sieve: "fileinto"}}, func(h *harness) string { return h.local },
			[]string{`"IMPLEMENTATION" "cote 0.1"`, `"SIEVE" "fileinto"`, `"SASL" "PLAIN LOGIN"`, `"STARTTLS"`, `"VERSION" "1.0"`, `OK "Hi \"there\""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.s)
			c := h.dial(tt.addr(h))
			c.expect(tt.want...)
			// RFC 5804 section 2.4: CAPABILITY gives the same list.
			want := append(append([]string(nil), tt.want[:len(tt.want)-1]...), `OK "Capability completed."`)
			c.cmd("CAPABILITY").expect(want...)
			c.cmd("LOGOUT").expect(`OK "Logout completed."`)
			c.expectEOF()
		})
	}
}

// RFC 5804 section 2.2: after STARTTLS the server sends its capabilities
// again, and the plaintext mechanisms become available.
func TestStartTLS(t *testing.T) {
	h := start(t, setup{options: opts, noPlaintext: true})
	c := h.dial(h.remote)
	c.expect(greeting("", true, `OK "cote ready."`)...)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, testPass) + `"`).
		expect(`NO (ENCRYPT-NEEDED) "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."`)
	c.cmd("STARTTLS").expect(`OK "Begin TLS negotiation now."`)
	c.starttls(h.clientTLS)
	c.expect(greeting("PLAIN LOGIN", false, `OK "TLS negotiation successful."`)...)
	c.cmd("STARTTLS").expect(`NO "TLS is already active."`)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, testPass) + `"`)
	ho := h.nextHandoff()
	if !ho.msg.Conn.TLS || ho.msg.Conn.Protocol != "sieve" {
		t.Errorf("handoff conn %+v, want TLS and protocol sieve", ho.msg.Conn)
	}
	// The worker talks to the client through the login's TLS proxy.
	ho.conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(ho.conn, "OK \"Logged in.\"\r\n")
	c.expect(`OK "Logged in."`)
}

func TestStartTLSUnavailable(t *testing.T) {
	h := start(t, setup{options: opts, noTLS: true})
	c := h.dial(h.local)
	c.expect(greeting("PLAIN LOGIN", false, `OK "cote ready."`)...)
	c.cmd("STARTTLS").expect(`NO "TLS support isn't enabled."`)
}

// checkHandoff checks the handoff of a successful login and that its
// descriptor reaches the client both ways.
func checkHandoff(t *testing.T, h *harness, c *conn, leftover string) {
	t.Helper()
	ho := h.nextHandoff()
	m := ho.msg
	if m.AuthPID != authSPID || m.Cookie != authCookie || m.AuthID == 0 {
		t.Errorf("handoff auth %d/%d/%q, want %d/<id>/%q", m.AuthPID, m.AuthID, m.Cookie, authSPID, authCookie)
	}
	if m.Tag != "" || m.SendCapability || string(m.Leftover) != leftover {
		t.Errorf("handoff tag %q, capability %v, leftover %q; want no tag and leftover %q", m.Tag, m.SendCapability, m.Leftover, leftover)
	}
	if m.Conn.Protocol != "sieve" || len(m.Conn.SessionID) != 16 {
		t.Errorf("handoff conn %+v", m.Conn)
	}
	ho.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(ho.conn, "OK \"Logged in.\"\r\n"); err != nil {
		t.Fatal(err)
	}
	c.expect(`OK "Logged in."`)
	c.cmd("LISTSCRIPTS")
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(ho.conn, buf, len("LISTSCRIPTS\r\n"))
	if err != nil || string(buf[:n]) != "LISTSCRIPTS\r\n" {
		t.Fatalf("worker read %q, %v", buf[:n], err)
	}
}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name     string
		exchange func(c *conn)
		leftover string
	}{
		{"PLAIN with a quoted initial response", func(c *conn) {
			c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, testPass) + `"`)
		}, ""},
		{"PLAIN with a literal initial response, pipelined", func(c *conn) {
			ir := plainIR(testUser, testPass)
			c.send("Authenticate {5+}\r\nPLAIN {" + strconv.Itoa(len(ir)) + "+}\r\n" + ir + "\r\nNOOP\r\n")
		}, "NOOP\r\n"},
		{"PLAIN with a quoted response", func(c *conn) {
			c.cmd(`AUTHENTICATE "PLAIN"`).expect(`""`)
			c.cmd(`"` + plainIR(testUser, testPass) + `"`)
		}, ""},
		{"LOGIN with literal responses", func(c *conn) {
			c.cmd(`AUTHENTICATE "LOGIN"`).expect(`"` + b64("Username:") + `"`)
			u := b64(testUser)
			c.cmd("{" + strconv.Itoa(len(u)) + "+}\r\n" + u).expect(`"` + b64("Password:") + `"`)
			p := b64(testPass)
			c.cmd("{" + strconv.Itoa(len(p)) + "}\r\n" + p)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{options: opts})
			c := h.dial(h.local)
			c.expect(greeting("PLAIN LOGIN", true, `OK "cote ready."`)...)
			tt.exchange(c)
			f := h.nextAuth()
			p := proto.AuthParams(f[3:])
			if p["service"] != "sieve" || p["secured"] != "" && p["secured"] != "secured" {
				t.Errorf("AUTH %q: want service=sieve", f)
			}
			checkHandoff(t, h, c, tt.leftover)
		})
	}
}

func TestAuthenticateFailures(t *testing.T) {
	h := start(t, setup{options: opts})
	c := h.dial(h.local)
	c.expect(greeting("PLAIN LOGIN", true, `OK "cote ready."`)...)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, "wrong") + `"`).expect(`NO "Authentication failed."`)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR("later", "x") + `"`).expect(`NO (TRYLATER) "Temporary authentication failure."`)
	c.cmd(`AUTHENTICATE "GSSAPI"`).expect(`NO "Unsupported authentication mechanism."`)
	c.cmd(`AUTHENTICATE "LOGIN"`).expect(`"` + b64("Username:") + `"`)
	c.cmd(`"*"`).expect(`NO "Authentication aborted by client."`)
	c.cmd(`AUTHENTICATE "PLAIN"`).expect(`""`)
	c.cmd(`"!!!"`).expect(`NO "Invalid base64 data in continued response."`)
	// Refused by the master: the client stays here and may retry.
	h.refuse.Store(proto.HandoffRefused)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, testPass) + `"`).expect(`NO "Authentication failed."`)
	h.refuse.Store(proto.HandoffInternal)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, testPass) + `"`).
		expect(`NO (TRYLATER) "Internal error occurred. Refer to server log for more information."`)
	h.refuse.Store(proto.HandoffOK)
	c.cmd(`AUTHENTICATE "PLAIN" "` + plainIR(testUser, testPass) + `"`)
	checkHandoff(t, h, c, "")
}

func TestNoopAndBadCommands(t *testing.T) {
	h := start(t, setup{options: opts})
	c := h.dial(h.local)
	c.expect(greeting("PLAIN LOGIN", true, `OK "cote ready."`)...)
	c.cmd("NOOP").expect(`OK "NOOP completed."`)
	c.cmd(`NOOP "STARTTLS-SYNC-42"`).expect(`OK (TAG "STARTTLS-SYNC-42") "Done"`)
	c.cmd(`LISTSCRIPTS`).expect(`NO "Authenticate first."`)
	c.cmd(`AUTHENTICATE PLAIN`).expect(`NO "AUTHENTICATE takes a mechanism name and an optional initial response, as strings."`)
	c.cmd(`FROB "x`).expect(`NO "Error in MANAGESIEVE command: unterminated quoted string."`, `BYE "Too many invalid commands."`)
	c.expectEOF()
}

func TestOversizedInput(t *testing.T) {
	h := start(t, setup{options: opts})
	c := h.dial(h.local)
	c.expect(greeting("PLAIN LOGIN", true, `OK "cote ready."`)...)
	c.cmd(`AUTHENTICATE "PLAIN" {100000+}`).expect(`BYE "Literal too large (at most 8192 bytes before login)."`)
	c.expectEOF()

	c = h.dial(h.local)
	c.expect(greeting("PLAIN LOGIN", true, `OK "cote ready."`)...)
	c.cmd("NOOP " + strings.Repeat("x", MaxCommand+1)).expect(`BYE "Command too long."`)
	c.expectEOF()
}
