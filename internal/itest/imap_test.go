package itest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// eachMode runs f with the master as root (full privilege separation, when
// the test runs as root) and as an unprivileged user.
func eachMode(t *testing.T, f func(t *testing.T, o serverOpts)) {
	if os.Getuid() == 0 {
		t.Run("root", func(t *testing.T) { f(t, serverOpts{}) })
		t.Run("unprivileged", func(t *testing.T) { f(t, serverOpts{asUser: true}) })
		return
	}
	t.Run("unprivileged", func(t *testing.T) { f(t, serverOpts{}) })
}

func dial(t *testing.T, s *server, how string) *imapclient.Client {
	t.Helper()
	opts := &imapclient.Options{TLSConfig: tlsClientConfig()}
	var c *imapclient.Client
	var err error
	switch how {
	case "plain":
		c, err = imapclient.DialInsecure(s.addr("imap"), opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(s.addr("imap"), opts)
	case "tls":
		c, err = imapclient.DialTLS(s.addr("imaps"), opts)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", how, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func appendMsg(t *testing.T, c *imapclient.Client, mbox, subject string) {
	t.Helper()
	msg := fmt.Sprintf("From: a@example.org\r\nTo: demo@example.org\r\nSubject: %s\r\n\r\nbody of %s\r\n", subject, subject)
	cmd := c.Append(mbox, int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
}

// TestLoginReadWrite logs in with imapclient over plaintext, STARTTLS and
// implicit TLS, writes a message and reads it back.
func TestLoginReadWrite(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		for _, how := range []string{"plain", "starttls", "tls"} {
			t.Run(how, func(t *testing.T) {
				c := dial(t, s, how)
				if err := c.Login("demo", "demo").Wait(); err != nil {
					t.Fatalf("LOGIN: %v", err)
				}
				subject := "over " + how
				appendMsg(t, c, "INBOX", subject)
				sel, err := c.Select("INBOX", nil).Wait()
				if err != nil {
					t.Fatalf("SELECT: %v", err)
				}
				if sel.NumMessages == 0 {
					t.Fatalf("SELECT INBOX: 0 messages after APPEND")
				}
				msgs, err := c.Fetch(imap.SeqSetNum(sel.NumMessages), &imap.FetchOptions{
					Envelope: true, Flags: true, UID: true,
					BodySection: []*imap.FetchItemBodySection{{Peek: true}},
				}).Collect()
				if err != nil {
					t.Fatalf("FETCH: %v", err)
				}
				if len(msgs) != 1 || msgs[0].Envelope == nil || msgs[0].Envelope.Subject != subject {
					t.Fatalf("FETCH envelope = %+v, want subject %q", msgs, subject)
				}
				var body []byte
				for _, b := range msgs[0].BodySection {
					body = b.Bytes
				}
				if !strings.Contains(string(body), "body of "+subject) {
					t.Errorf("FETCH BODY[] = %q", body)
				}
				if err := c.Logout().Wait(); err != nil {
					t.Errorf("LOGOUT: %v", err)
				}
			})
		}
	})
}

// TestImaplib drives the server with Python's imaplib in all three modes.
func TestImaplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (make test installs it)")
	}
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		for _, mode := range []string{"plain", "starttls", "ssl"} {
			t.Run(mode, func(t *testing.T) {
				port := s.ports["imap"]
				if mode == "ssl" {
					port = s.ports["imaps"]
				}
				out, err := exec.Command(py, "testdata/imaplib_client.py", "127.0.0.1", strconv.Itoa(port), mode, "demo", "demo").CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != "OK" {
					t.Fatalf("imaplib %s: %v\n%s", mode, err, out)
				}
			})
		}
	})
}

// rawConn is a line-level IMAP connection for what clients libraries hide.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func rawDial(t *testing.T, addr string) *rawConn {
	t.Helper()
	rc := rawDialNoGreeting(t, addr)
	rc.expect("* OK")
	return rc
}

func rawDialNoGreeting(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatal(err)
	}
}

// expect reads lines until one starts with prefix and returns it.
func (rc *rawConn) expect(prefix string) string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	var seen []string
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("waiting for %q: %v (after %q)", prefix, err, seen)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
		seen = append(seen, line)
	}
}

// TestPipelinedLogin sends LOGIN and SELECT in one packet: the SELECT the
// login process read past LOGIN must reach the worker.
func TestPipelinedLogin(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		rc := rawDial(t, s.addr("imap"))
		rc.send("a LOGIN demo demo\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
		if line := rc.expect("a "); !strings.HasPrefix(line, "a OK") {
			t.Fatalf("LOGIN answered %q", line)
		}
		if line := rc.expect("b "); !strings.HasPrefix(line, "b OK") {
			t.Fatalf("pipelined SELECT answered %q", line)
		}
		rc.expect("c OK")
	})
}

// TestFailureDelay: a wrong password is refused after auth_failure_delay,
// and another client (from another address) logs in meanwhile.
func TestFailureDelay(t *testing.T) {
	s := startServer(t, serverOpts{extra: "auth_failure_delay = 2 secs"})
	bad := rawDial(t, s.addr("imap"))
	start := time.Now()
	bad.send("a LOGIN demo Wr0ngSecret\r\n")
	good := make(chan time.Duration, 1)
	go func() {
		// From another address: the failure raises a penalty for its own
		// source address only (the brute-force defence), not for others.
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		c, err := imapclient.DialInsecure(s.addr("imap"), &imapclient.Options{Dialer: d})
		if err != nil {
			good <- -1
			return
		}
		defer c.Close()
		if err := c.Login("demo", "demo").Wait(); err != nil {
			good <- -1
			return
		}
		good <- time.Since(start)
	}()
	line := bad.expect("a ")
	failedAfter := time.Since(start)
	if !strings.HasPrefix(line, "a NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("wrong password answered %q", line)
	}
	if failedAfter < 1900*time.Millisecond {
		t.Errorf("wrong password refused after %v, want at least the 2s delay", failedAfter)
	}
	okAfter := <-good
	if okAfter < 0 {
		t.Fatal("the concurrent correct login failed")
	}
	if okAfter >= failedAfter {
		t.Errorf("correct login took %v, not before the failed one (%v): the delay blocks other logins", okAfter, failedAfter)
	}
	if strings.Contains(s.log.String(), "Wr0ngSecret") {
		t.Errorf("a password reached the log:\n%s", s.log.String())
	}
}
