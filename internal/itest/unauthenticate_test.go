package itest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// TestUnauthenticate (RFC 8437): after UNAUTHENTICATE the connection
// leaves the user's worker. /proc shows the client socket held by an
// imap-login process (the login uid as root), by no worker, and a LOGIN as
// another user on the same connection reaches that user's worker.
// Commands pipelined after UNAUTHENTICATE reach the login process.
func TestUnauthenticate(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.users = map[string]int{"other": 1}
		s := startServer(t, o)
		root := os.Getuid() == 0 && !o.asUser
		rc := rawDial(t, s.addr("imap"))
		rc.send("a LOGIN demo demo\r\n")
		if line := rc.expect("a "); !strings.Contains(line, "UNAUTHENTICATE") {
			t.Fatalf("LOGIN answered %q, want UNAUTHENTICATE among the capabilities", line)
		}
		ino := serverSocketInode(t, rc.c)
		holders := s.waitHolders(t, ino, func(ps []procInfo) bool { return len(ps) == 1 && ps[0].role == "worker" })
		if root && !allIDs(holders[0].uid, 50100) {
			t.Errorf("worker of demo runs as %v, want uid 50100", holders[0].uid)
		}
		rc.send("b SELECT INBOX\r\nc UNAUTHENTICATE\r\nd CAPABILITY\r\n")
		rc.expect("b OK")
		if line := rc.expect("c "); line != "c OK Unauthenticate completed.\r\n" {
			t.Fatalf("UNAUTHENTICATE answered %q", line)
		}
		// The pipelined CAPABILITY is answered by imap-login: pre-login
		// capabilities.
		caps := rc.expect("* CAPABILITY")
		if !strings.Contains(caps, "AUTH=PLAIN") || strings.Contains(caps, "UNAUTHENTICATE") {
			t.Errorf("CAPABILITY after UNAUTHENTICATE = %q, want the pre-login list", caps)
		}
		rc.expect("d OK Pre-login capabilities listed")
		holders = s.waitHolders(t, ino, func(ps []procInfo) bool { return len(ps) == 1 && ps[0].role == "imap-login" })
		if root && (!allIDs(holders[0].uid, 50002) || holders[0].root == "/") {
			t.Errorf("after UNAUTHENTICATE the connection is served by uid %v root %q, want imap-login's uid 50002, chrooted",
				holders[0].uid, holders[0].root)
		}
		// Not authenticated: mailbox commands are refused.
		rc.send("e SELECT INBOX\r\n")
		if line := rc.expect("e "); !strings.HasPrefix(line, "e BAD") {
			t.Errorf("SELECT after UNAUTHENTICATE answered %q", line)
		}
		rc.send("f LOGIN other other\r\ng SELECT INBOX\r\n")
		if line := rc.expect("f "); !strings.HasPrefix(line, "f OK") {
			t.Fatalf("second LOGIN answered %q", line)
		}
		rc.expect("g OK")
		holders = s.waitHolders(t, ino, func(ps []procInfo) bool { return len(ps) == 1 && ps[0].role == "worker" })
		if root && !allIDs(holders[0].uid, 50101) {
			t.Errorf("the second LOGIN's worker runs as %v, want other's uid 50101", holders[0].uid)
		}
		rc.send("h LOGOUT\r\n")
		rc.expect("h OK")
	})
}

// TestUnauthenticateTLS: a TLS client goes back to the login process
// that holds its TLS session (imaps and STARTTLS), and logs in again over
// the same TLS session.
func TestUnauthenticateTLS(t *testing.T) {
	s := startServer(t, serverOpts{users: map[string]int{"other": 1}})
	for _, how := range []string{"imaps", "starttls"} {
		t.Run(how, func(t *testing.T) {
			var rc *rawConn
			if how == "imaps" {
				c, err := tls.Dial("tcp", s.addr("imaps"), tlsClientConfig())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				rc = &rawConn{t: t, c: c, r: bufio.NewReader(c)}
				rc.expect("* OK")
			} else {
				rc = rawDial(t, s.addr("imap"))
				rc.send("s STARTTLS\r\n")
				rc.expect("s OK")
				c := tls.Client(rc.c, tlsClientConfig())
				rc = &rawConn{t: t, c: c, r: bufio.NewReader(c)}
			}
			rc.send("a LOGIN demo demo\r\nb UNAUTHENTICATE\r\n")
			rc.expect("a OK")
			rc.expect("b OK")
			rc.send("c CAPABILITY\r\n")
			caps := rc.expect("* CAPABILITY")
			if strings.Contains(caps, "STARTTLS") || !strings.Contains(caps, "AUTH=PLAIN") {
				t.Errorf("CAPABILITY over TLS after UNAUTHENTICATE = %q", caps)
			}
			rc.expect("c OK")
			rc.send("d LOGIN other other\r\ne SELECT INBOX\r\nf UNAUTHENTICATE\r\ng LOGIN demo demo\r\nh LOGOUT\r\n")
			rc.expect("d OK")
			rc.expect("e OK")
			rc.expect("f OK")
			rc.expect("g OK")
			rc.expect("h OK")
		})
	}
}

// serverSocketInode finds the inode of the server's end of a TCP
// connection to 127.0.0.1 in /proc/net/tcp.
func serverSocketInode(t *testing.T, c net.Conn) string {
	t.Helper()
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	want := func(a *net.TCPAddr) string {
		ip := a.IP.To4()
		return strings.ToUpper(hex.EncodeToString([]byte{ip[3], ip[2], ip[1], ip[0]})) + ":" + fmt.Sprintf("%04X", a.Port)
	}
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == want(remote) && f[2] == want(local) {
			return f[9]
		}
	}
	t.Fatalf("no server socket for %v in /proc/net/tcp", local)
	return ""
}

// waitHolders waits until the processes of the server holding socket
// inode ino match want, and returns them.
func (s *server) waitHolders(t *testing.T, ino string, want func([]procInfo) bool) []procInfo {
	t.Helper()
	target := "socket:[" + ino + "]"
	var ps []procInfo
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ps = ps[:0]
		for _, p := range children(s.cmd.Process.Pid) {
			fds, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(p.pid), "fd"))
			for _, fd := range fds {
				if l, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.pid), "fd", fd.Name())); l == target {
					ps = append(ps, p)
					break
				}
			}
		}
		if want(ps) {
			return ps
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("holders of %s never matched; have %+v", target, ps)
	return nil
}

// TestManageSieveUnauthenticate (RFC 5804 section 2.14.1): the same
// hand-back for ManageSieve: after UNAUTHENTICATE the connection is
// managesieve-login's again, and another user logs in on it.
func TestManageSieveUnauthenticate(t *testing.T) {
	s := startServer(t, serverOpts{users: map[string]int{"other": 1}})
	rc := rawDialNoGreeting(t, s.addr("sieve"))
	rc.expect("OK")
	plain := func(u string) string { return base64.StdEncoding.EncodeToString([]byte("\x00" + u + "\x00" + u)) }
	rc.send(`AUTHENTICATE "PLAIN" "` + plain("demo") + "\"\r\n")
	rc.expect("OK")
	rc.send("CAPABILITY\r\n")
	rc.expect(`"UNAUTHENTICATE"`)
	rc.expect("OK")
	ino := serverSocketInode(t, rc.c)
	rc.send("UNAUTHENTICATE\r\n")
	if line := rc.expect("OK"); line != "OK \"Unauthenticate completed.\"\r\n" {
		t.Fatalf("UNAUTHENTICATE: %q", line)
	}
	s.waitHolders(t, ino, func(ps []procInfo) bool { return len(ps) == 1 && ps[0].role == "managesieve-login" })
	rc.send("LISTSCRIPTS\r\n")
	rc.expect("NO")
	rc.send(`AUTHENTICATE "PLAIN" "` + plain("other") + "\"\r\n")
	rc.expect("OK")
	s.waitHolders(t, ino, func(ps []procInfo) bool { return len(ps) == 1 && ps[0].role == "worker" })
	rc.send("CAPABILITY\r\n")
	if line := rc.expect(`"OWNER"`); line != "\"OWNER\" \"other\"\r\n" {
		t.Errorf("after the second login: %q", line)
	}
	rc.expect("OK")
}

// TestUnauthenticateClients: go-imap's imapclient (Client.Unauthenticate)
// and Python's imaplib (which has no method for it: the command as a
// user would add it) log out of one user and into another on the same
// connection, over plaintext, STARTTLS and implicit TLS.
func TestUnauthenticateClients(t *testing.T) {
	s := startServer(t, serverOpts{users: map[string]int{"other": 1}})
	for _, how := range []string{"plain", "starttls", "tls"} {
		t.Run("imapclient/"+how, func(t *testing.T) {
			c := dial(t, s, how)
			if err := c.Login("demo", "demo").Wait(); err != nil {
				t.Fatalf("LOGIN: %v", err)
			}
			if !c.Caps().Has(imap.CapUnauthenticate) {
				t.Fatalf("capabilities after login %v lack UNAUTHENTICATE", c.Caps())
			}
			appendMsg(t, c, "INBOX", "for demo")
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			if err := c.Unauthenticate().Wait(); err != nil {
				t.Fatalf("UNAUTHENTICATE: %v", err)
			}
			if err := c.Login("other", "other").Wait(); err != nil {
				t.Fatalf("second LOGIN: %v", err)
			}
			sel, err := c.Select("INBOX", nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if sel.NumMessages != 0 {
				t.Errorf("other's INBOX has %d messages: demo's mail?", sel.NumMessages)
			}
			if err := c.Logout().Wait(); err != nil {
				t.Errorf("LOGOUT: %v", err)
			}
		})
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (make test installs it)")
	}
	script := `
import imaplib, sys
imaplib.Commands["UNAUTHENTICATE"] = ("AUTH", "SELECTED")
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login("demo", "demo")
typ, dat = c.capability()
assert b"UNAUTHENTICATE" in dat[0].split(), dat
c.select("INBOX")
typ, _ = c._simple_command("UNAUTHENTICATE")
assert typ == "OK", typ
c.state = "NONAUTH"
c.login("other", "other")
typ, dat = c.select("INBOX")
assert typ == "OK", dat
c.logout()
print("OK")
`
	t.Run("imaplib", func(t *testing.T) {
		out, err := exec.Command(py, "-c", script, strconv.Itoa(s.ports["imap"])).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("imaplib: %v\n%s", err, out)
		}
	})
}
