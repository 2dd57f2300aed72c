//go:build pss

// Built only with -tags pss: memory is measured, not asserted, in tests
// (STYLE: speed and memory are benchmarks). Run:
//
//	go test -tags pss ./internal/itest -run TestHibernatePSS -v

package itest

import (
	"bufio"
	"bytes"
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
// exited). COTE_PSS_ONLY=true or false runs one of the two.
func TestHibernatePSS(t *testing.T) {
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
