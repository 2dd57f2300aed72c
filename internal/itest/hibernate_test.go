package itest

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hibernateConf hibernates after a second of IDLE and lets a worker with
// no session exit a second later.
const hibernateConf = "imap_hibernate_timeout = 1 secs\nservice worker {\n  idle_kill = 1 secs\n}\n"

// idleHibernated waits until the user's worker is gone and imap-hibernate
// runs, which holds the sessions then.
func idleHibernated(t *testing.T, s *server) {
	t.Helper()
	s.waitChildren(t, func(ps []procInfo) bool {
		return len(byRole(ps, "worker")) == 0 && len(byRole(ps, "imap-hibernate")) == 1
	})
}

// rawDialTLS is rawDial over implicit TLS (imaps).
func rawDialTLS(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tlsClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	rc.expect("* OK")
	return rc
}

// TestHibernate: a client in IDLE moves to imap-hibernate and its user's
// worker exits; a delivery wakes it and the client sees EXISTS from a new
// worker, then DONE completes the IDLE. A TLS client hibernates through
// its login process's proxy and resumes on its own DONE.
func TestHibernate(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.extra = hibernateConf
		s := startServer(t, o)

		plain := rawDial(t, s.addr("imap"))
		plain.send("a LOGIN demo demo\r\n")
		plain.expect("a OK")
		plain.send("s SELECT INBOX\r\n")
		plain.expect("s OK")
		plain.send("i IDLE\r\n")
		plain.expect("+ idling")

		secure := rawDialTLS(t, s.addr("imaps"))
		secure.send("a LOGIN demo demo\r\n")
		secure.expect("a OK")
		secure.send("s EXAMINE INBOX\r\n")
		secure.expect("s OK")
		secure.send("t IDLE\r\n")
		secure.expect("+ idling")

		idleHibernated(t, s)
		if os.Getuid() == 0 && !o.asUser {
			hp := byRole(children(s.cmd.Process.Pid), "imap-hibernate")[0]
			if !allIDs(hp.uid, 50001) || !allIDs(hp.gid, 50001) {
				t.Errorf("imap-hibernate runs as uid %v gid %v, want 50001 (default_internal_user)", hp.uid, hp.gid)
			}
			if want := filepath.Join(s.dir, "run", "empty"); hp.root != want {
				t.Errorf("imap-hibernate root %q, want chroot %q", hp.root, want)
			}
		}

		// A delivery wakes both sessions: their mailbox changed.
		if got := lmtpDeliver(t, s.addr("lmtp"), "while hibernated", "demo@example.org"); got["demo@example.org"] != "250" {
			t.Fatalf("LMTP: %v", got)
		}
		plain.expect("* 1 EXISTS")
		secure.expect("* 1 EXISTS")
		plain.send("DONE\r\n")
		if line := plain.expect("i "); !strings.HasPrefix(line, "i OK") {
			t.Fatalf("DONE after resume: %q", line)
		}
		plain.send("f FETCH 1 (FLAGS)\r\n")
		plain.expect(`* 1 FETCH (FLAGS (\Recent))`)
		plain.expect("f OK")

		// Both hibernate again; the TLS client's DONE wakes it alone.
		plain.send("j IDLE\r\n")
		plain.expect("+ idling")
		idleHibernated(t, s)
		secure.send("DONE\r\n")
		if line := secure.expect("t "); !strings.HasPrefix(line, "t OK") {
			t.Fatalf("TLS DONE after resume: %q", line)
		}
		secure.send("n NOOP\r\n")
		secure.expect("n OK")
		secure.send("l LOGOUT\r\n")
		secure.expect("* BYE")
		plain.send("DONE\r\n")
		plain.expect("j OK")
		plain.send("l LOGOUT\r\n")
		plain.expect("l OK")
		if n := strings.Count(s.log.String(), "hibernated"); n < 3 {
			t.Errorf("the log mentions hibernation %d times, want at least 3", n)
		}
	})
}

// TestHibernateClientGone: a client that disconnects while hibernated
// starts no worker.
func TestHibernateClientGone(t *testing.T) {
	s := startServer(t, serverOpts{extra: hibernateConf})
	c := rawDial(t, s.addr("imap"))
	c.send("a LOGIN demo demo\r\ni IDLE\r\n")
	c.expect("+ idling")
	idleHibernated(t, s)
	c.c.Close()
	time.Sleep(1500 * time.Millisecond)
	if ws := byRole(children(s.cmd.Process.Pid), "worker"); len(ws) != 0 {
		t.Errorf("a worker started for a client that left: %+v", ws)
	}
}
