package itest

import (
	"crypto/md5"
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func poplib(t *testing.T, s *server, mode string, del bool) []string {
	t.Helper()
	port := s.ports["pop3"]
	if mode == "ssl" {
		port = s.ports["pop3s"]
	}
	arg := "keep"
	if del {
		arg = "delete"
	}
	out, err := exec.Command("python3", "testdata/poplib_client.py", "127.0.0.1", strconv.Itoa(port), mode, "demo", "demo", arg).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || lines[len(lines)-1] != "OK" {
		t.Fatalf("poplib %s: %v\n%s", mode, err, out)
	}
	return lines[:len(lines)-1]
}

// TestPOP3 reads over POP3, with poplib in all three modes, what was
// written over IMAP; QUIT deletes what DELE marked.
func TestPOP3(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		c := login(t, s, "demo")
		appendMsg(t, c, "INBOX", "first")
		appendMsg(t, c, "INBOX", ".dot-stuffed subject")
		for _, mode := range []string{"plain", "stls", "ssl"} {
			got := poplib(t, s, mode, false)
			if len(got) != 2 || got[0] != "first" || got[1] != ".dot-stuffed subject" {
				t.Fatalf("poplib %s saw %q", mode, got)
			}
		}
		poplib(t, s, "plain", true)
		if got := poplib(t, s, "plain", false); len(got) != 0 {
			t.Fatalf("after DELE and QUIT, %q remain", got)
		}
	})
}

// TestPOP3InUse: a second POP3 session of the same user gets [IN-USE].
func TestPOP3InUse(t *testing.T) {
	s := startServer(t, serverOpts{})
	first := rawDialPOP3(t, s)
	first.send("USER demo\r\nPASS demo\r\n")
	first.expect("+OK")
	first.expect("+OK Logged in")
	second := rawDialPOP3(t, s)
	second.send("USER demo\r\nPASS demo\r\n")
	second.expect("+OK")
	if line := second.expect("-ERR"); !strings.Contains(line, "[IN-USE]") {
		t.Errorf("second session: %q, want -ERR [IN-USE]", line)
	}
	first.send("QUIT\r\n")
	first.expect("+OK")
}

func rawDialPOP3(t *testing.T, s *server) *rawConn {
	t.Helper()
	rc := rawDialNoGreeting(t, s.addr("pop3"))
	rc.expect("+OK")
	return rc
}

// TestAPOP logs in with APOP (RFC 1939 section 7) through the real
// server: the greeting's challenge names the auth process and the login
// process's connection to it, and auth checks the digest against the
// plaintext password.
func TestAPOP(t *testing.T) {
	s := startServer(t, serverOpts{extra: "auth_mechanisms = plain apop"})
	try := func(pass string) string {
		rc := rawDialNoGreeting(t, s.addr("pop3"))
		greeting := rc.expect("+OK")
		i, j := strings.Index(greeting, "<"), strings.LastIndex(greeting, ">")
		if i < 0 || j < i {
			t.Fatalf("greeting %q has no APOP challenge", greeting)
		}
		sum := md5.Sum([]byte(greeting[i:j+1] + pass))
		rc.send("APOP demo " + hex.EncodeToString(sum[:]) + "\r\n")
		return rc.expect("")
	}
	if line := try("demo"); !strings.HasPrefix(line, "+OK Logged in") {
		t.Errorf("APOP with the right password: %q", line)
	}
	if line := try("wrong"); !strings.HasPrefix(line, "-ERR [AUTH]") {
		t.Errorf("APOP with a wrong password: %q", line)
	}
}

// TestPOP3LoginDelay: with pop3_login_delay set, CAPA announces
// LOGIN-DELAY and a second login within the delay gets -ERR
// [LOGIN-DELAY] (RFC 2449 section 6.5, RFC 3206).
func TestPOP3LoginDelay(t *testing.T) {
	s := startServer(t, serverOpts{extra: "pop3_login_delay = 1 min"})
	first := rawDialPOP3(t, s)
	first.send("USER demo\r\nPASS demo\r\nCAPA\r\n")
	first.expect("+OK")
	first.expect("+OK Logged in")
	first.expect("LOGIN-DELAY 60")
	first.send("QUIT\r\n")
	first.expect("+OK")
	second := rawDialPOP3(t, s)
	second.send("USER demo\r\nPASS demo\r\n")
	second.expect("+OK")
	if line := second.expect("-ERR"); !strings.Contains(line, "[LOGIN-DELAY]") {
		t.Errorf("second login within the delay: %q", line)
	}
}

// TestPOP3KilledSession: DELE then the session dies (the worker is
// killed); nothing was deleted.
func TestPOP3KilledSession(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := login(t, s, "demo")
	appendMsg(t, c, "INBOX", "one")
	appendMsg(t, c, "INBOX", "two")
	c.Logout()
	rc := rawDialPOP3(t, s)
	rc.send("USER demo\r\nPASS demo\r\nDELE 1\r\nDELE 2\r\n")
	rc.expect("+OK")
	rc.expect("+OK Logged in")
	rc.expect("+OK")
	rc.expect("+OK")
	for _, w := range byRole(children(s.cmd.Process.Pid), "worker") {
		syscall.Kill(w.pid, syscall.SIGKILL)
	}
	if got := poplib(t, s, "plain", false); len(got) != 2 {
		t.Fatalf("after the killed session: %q, want both messages", got)
	}
}
