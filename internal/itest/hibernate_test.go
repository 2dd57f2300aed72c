package itest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// pssKB sums Pss over the master and its children, in total and by role.
func pssKB(t *testing.T, s *server) (int, map[string]int) {
	t.Helper()
	procs := append([]procInfo{{pid: s.cmd.Process.Pid, role: "master"}}, children(s.cmd.Process.Pid)...)
	total, byRole := 0, map[string]int{}
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "smaps_rollup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				n, _ := strconv.Atoi(f[1])
				total += n
				byRole[p.role] += n
			}
		}
	}
	return total, byRole
}

// TestHibernatePSS measures the memory (PSS summed over every process of
// the server) per idle IMAP connection, with and without hibernation:
// COTE_PSS_CONNS connections (default 200) in IDLE over COTE_PSS_USERS
// users (default 50), measured COTE_PSS_SETTLE seconds (default 3) after
// the last connection is idle (and, with hibernation, every worker has
// exited). COTE_PSS_ONLY=true or false runs one of the two. It runs only
// when COTE_PSS is set: it takes a while.
func TestHibernatePSS(t *testing.T) {
	if os.Getenv("COTE_PSS") == "" {
		t.Skip("set COTE_PSS=1 to measure memory per idle connection")
	}
	conns, users := envInt("COTE_PSS_CONNS", 200), envInt("COTE_PSS_USERS", 50)
	for _, hib := range []bool{false, true} {
		if only := os.Getenv("COTE_PSS_ONLY"); only != "" && only != strconv.FormatBool(hib) {
			continue
		}
		t.Run(fmt.Sprintf("hibernate=%v", hib), func(t *testing.T) {
			o := serverOpts{users: map[string]int{}, extra: "service worker {\n  idle_kill = 1 secs\n}\n" +
				"service imap-login {\n  client_limit = 20000\n}\n"}
			if hib {
				o.extra += "imap_hibernate_timeout = 1 secs\n"
			} else {
				o.extra += "imap_hibernate_timeout = 0\n"
			}
			for i := range users {
				o.users[fmt.Sprintf("u%03d", i)] = i + 1
			}
			s := startServer(t, o)
			time.Sleep(2 * time.Second)
			before, roles0 := pssKB(t, s)
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			sem := make(chan struct{}, 16)
			cs := make([]net.Conn, conns)
			for i := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					user := fmt.Sprintf("u%03d", i%users)
					c, err := idleClient(s.addr("imap"), user)
					cs[i] = c
					if err != nil {
						errs <- fmt.Errorf("%s: %w", user, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			defer func() {
				for _, c := range cs {
					if c != nil {
						c.Close()
					}
				}
			}()
			if hib {
				idleHibernated(t, s)
			}
			time.Sleep(time.Duration(envInt("COTE_PSS_SETTLE", 3)) * time.Second)
			after, roles1 := pssKB(t, s)
			ps := children(s.cmd.Process.Pid)
			t.Logf("hibernate=%v: %d IDLE connections over %d users: PSS %d KB before, %d KB after (%d processes: %d workers, %d imap-hibernate): %.1f KB per connection",
				hib, conns, users, before, after, len(ps)+1, len(byRole(ps, "worker")), len(byRole(ps, "imap-hibernate")),
				float64(after-before)/float64(conns))
			t.Logf("PSS by role, KB before -> after: %s", roleDiff(roles0, roles1))
		})
	}
}

func roleDiff(before, after map[string]int) string {
	var out []string
	for r, n := range after {
		out = append(out, fmt.Sprintf("%s %d -> %d", r, before[r], n))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// idleClient logs in, selects INBOX and starts IDLE.
func idleClient(addr, user string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "a LOGIN %s %s\r\ns SELECT INBOX\r\ni IDLE\r\n", user, user)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return c, err
		}
		if bytes.HasPrefix(line, []byte("+ idling")) {
			c.SetDeadline(time.Time{})
			return c, nil
		}
		if bytes.HasPrefix(line, []byte("a NO")) || bytes.HasPrefix(line, []byte("s NO")) {
			return c, fmt.Errorf("%s", line)
		}
	}
}
