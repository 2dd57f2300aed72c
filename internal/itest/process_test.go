package itest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

func login(t *testing.T, s *server, user string) *imapclient.Client {
	t.Helper()
	c := dial(t, s, "plain")
	if err := c.Login(user, user).Wait(); err != nil {
		t.Fatalf("LOGIN %s: %v", user, err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT as %s: %v", user, err)
	}
	return c
}

// TestPrivilegeSeparation checks each process's ids and root directory in
// /proc, as root: auth and login processes unprivileged, login processes
// chrooted into an empty directory, each user's worker under that user's
// uid, two users in two workers and a second login in the same one.
func TestPrivilegeSeparation(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test checks privilege separation and must run as root (CI does)")
	}
	s := startServer(t, serverOpts{users: map[string]int{"alice": 1}})
	demo := login(t, s, "demo")
	alice := login(t, s, "alice")
	demo2 := login(t, s, "demo")
	ps := s.waitChildren(t, func(ps []procInfo) bool {
		return len(byRole(ps, "worker")) == 2 && hasRoles("auth", "imap-login", "pop3-login")(ps)
	})

	empty := filepath.Join(s.dir, "run", "empty")
	for _, p := range ps {
		if p.uid[0] == 0 || p.uid[1] == 0 || p.uid[2] == 0 {
			t.Errorf("%s pid %d runs with uid %v", p.role, p.pid, p.uid)
		}
		if !p.noNewPriv {
			t.Errorf("%s pid %d lacks no_new_privs", p.role, p.pid)
		}
		// Not dumpable, so processes of its uid cannot ptrace it, also
		// when it was executed with its ids rather than dropping to them.
		if p.procOwner != 0 {
			t.Errorf("%s pid %d is dumpable (/proc/%d/environ owned by uid %d)", p.role, p.pid, p.pid, p.procOwner)
		}
		switch p.role {
		case "auth":
			if !allIDs(p.uid, 50003) || !allIDs(p.gid, 50003) {
				t.Errorf("auth ids uid %v gid %v, want 50003", p.uid, p.gid)
			}
		case "lmtp":
			if !allIDs(p.uid, 50001) || !allIDs(p.gid, 50001) {
				t.Errorf("lmtp ids uid %v gid %v, want 50001 (default_internal_user)", p.uid, p.gid)
			}
		case "imap-hibernate":
			if !allIDs(p.uid, 50001) || !allIDs(p.gid, 50001) {
				t.Errorf("imap-hibernate ids uid %v gid %v, want 50001 (default_internal_user)", p.uid, p.gid)
			}
			if p.root != empty {
				t.Errorf("imap-hibernate root is %q, want chroot %q", p.root, empty)
			}
		case "imap-login", "pop3-login", "managesieve-login":
			if !allIDs(p.uid, 50002) || !allIDs(p.gid, 50002) {
				t.Errorf("%s ids uid %v gid %v, want 50002", p.role, p.uid, p.gid)
			}
			if p.root != empty {
				t.Errorf("%s root is %q, want chroot %q", p.role, p.root, empty)
			}
			if len(p.groups) != 0 {
				t.Errorf("%s has supplementary groups %v", p.role, p.groups)
			}
		case "worker":
			if !allIDs(p.uid, 50100) && !allIDs(p.uid, 50101) {
				t.Errorf("worker uid %v, want 50100 (demo) or 50101 (alice)", p.uid)
			}
			// Executed with the user's ids: it never ran as root.
			if p.execUID != p.uid[0] {
				t.Errorf("worker pid %d was executed as uid %d, then ran as %d", p.pid, p.execUID, p.uid[0])
			}
			if p.uid != p.gid {
				t.Errorf("worker gid %v differs from uid %v", p.gid, p.uid)
			}
			if p.root != "/" {
				t.Errorf("worker root %q", p.root)
			}
		default:
			t.Errorf("unexpected child %s pid %d", p.role, p.pid)
		}
	}
	ws := byRole(ps, "worker")
	if ws[0].uid[0] == ws[1].uid[0] {
		t.Errorf("two users share worker uid %d; the second demo login must reuse demo's worker", ws[0].uid[0])
	}
	// The empty chroot is empty and not writable by the login user.
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("chroot %s is not empty: %v", empty, ents)
	}
	for _, c := range []*imapclient.Client{demo, alice, demo2} {
		if err := c.Noop().Wait(); err != nil {
			t.Errorf("NOOP: %v", err)
		}
	}
}

// TestUnprivilegedMaster: as a normal user every role runs under that uid.
func TestUnprivilegedMaster(t *testing.T) {
	o := serverOpts{}
	if os.Getuid() == 0 {
		o.asUser = true
	}
	s := startServer(t, o)
	login(t, s, "demo")
	ps := s.waitChildren(t, hasRoles("auth", "imap-login", "worker"))
	for _, p := range ps {
		if !allIDs(p.uid, s.uid) {
			t.Errorf("%s uid %v, want %d", p.role, p.uid, s.uid)
		}
	}
	if !strings.Contains(s.log.String(), "non-root") {
		t.Errorf("the master did not say it runs without privilege separation")
	}
}

// TestRecovery kills a login process, auth and a worker with SIGKILL; each
// is replaced and new logins work.
func TestRecovery(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		login(t, s, "demo")
		for _, role := range []string{"imap-login", "auth", "worker"} {
			ps := s.waitChildren(t, hasRoles(role))
			victim := byRole(ps, role)[0]
			if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			s.waitChildren(t, func(ps []procInfo) bool {
				for _, p := range ps {
					if p.pid == victim.pid {
						return false
					}
				}
				return role == "worker" || len(byRole(ps, role)) > 0
			})
			// New logins work (retrying while the service restarts).
			deadline := time.Now().Add(15 * time.Second)
			for {
				c, err := imapclient.DialInsecure(s.addr("imap"), nil)
				if err == nil {
					err = c.Login("demo", "demo").Wait()
					if err == nil {
						_, err = c.Select("INBOX", nil).Wait()
					}
					c.Close()
				}
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no login after killing %s: %v", role, err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	})
}

// TestReload: SIGHUP applies a changed configuration to new connections
// while an established session keeps working.
func TestReload(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		old := login(t, s, "demo")
		conf, err := os.ReadFile(s.conf)
		must(t, err)
		must(t, os.WriteFile(s.conf, append(conf, "\nlogin_greeting = Reloaded greeting\n"...), 0o644))
		s.signal(syscall.SIGHUP)
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(s.log.String(), "configuration reloaded") {
			if time.Now().After(deadline) {
				t.Fatal("reload not applied")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The greeting of a new connection is the new one.
		deadline = time.Now().Add(15 * time.Second)
		for {
			c, err := netDialGreeting(s.addr("imap"))
			if err == nil && strings.Contains(c, "Reloaded greeting") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("greeting after reload: %q, %v", c, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := old.Noop().Wait(); err != nil {
			t.Errorf("established session after reload: NOOP: %v", err)
		}
		appendMsg(t, old, "INBOX", "after reload")
	})
}

// TestStop: SIGTERM stops the master and leaves no process behind.
func TestStop(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		login(t, s, "demo")
		ps := s.waitChildren(t, hasRoles("auth", "imap-login", "worker"))
		s.stop()
		time.Sleep(200 * time.Millisecond)
		for _, p := range ps {
			if _, ok := readProc(p.pid); ok {
				t.Errorf("%s pid %d still running after SIGTERM", p.role, p.pid)
			}
		}
		if !s.cmd.ProcessState.Success() {
			t.Errorf("master exited with %v", s.cmd.ProcessState)
		}
	})
}

// TestMasterDeath: when the master dies without a word (SIGKILL), every
// child notices the closed master-dead pipe and exits.
func TestMasterDeath(t *testing.T) {
	s := startServer(t, serverOpts{})
	login(t, s, "demo")
	ps := s.waitChildren(t, hasRoles("auth", "imap-login", "worker"))
	must(t, s.cmd.Process.Kill())
	s.cmd.Wait()
	s.stopped = true
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ps {
		for {
			if _, ok := readProc(p.pid); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s pid %d outlived its master", p.role, p.pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestRoleRefusesWithoutMaster: the hidden role subcommands, and
// cote-worker, do not run when started by hand.
func TestRoleRefusesWithoutMaster(t *testing.T) {
	for _, role := range []string{"auth", "imap-login", "worker"} {
		out, err := exec.Command(binPath, role).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "started by the cote master") {
			t.Errorf("cote %s by hand: err %v, output %q; want a refusal", role, err, out)
		}
	}
	out, err := exec.Command(filepath.Join(binDir, "cote-worker"), "worker").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "started by the cote master") {
		t.Errorf("cote-worker by hand: err %v, output %q; want a refusal", err, out)
	}
}

// TestProcessPool: process_min_avail login processes are kept, and each
// child's log lines carry its role, pid and (for workers) user.
func TestProcessPool(t *testing.T) {
	s := startServer(t, serverOpts{extra: "service imap-login {\n  process_min_avail = 3\n}\n"})
	c := login(t, s, "demo")
	s.waitChildren(t, func(ps []procInfo) bool { return len(byRole(ps, "imap-login")) == 3 })
	// The worker logs a session at its end.
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !regexp.MustCompile(`role=worker pid=\d+ user="demo" `).MatchString(s.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no worker log line with role, pid and user:\n%s", s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSystemdNotify: the master tells NOTIFY_SOCKET READY=1 once it
// serves, as Type=notify units need.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	must(t, err)
	defer l.Close()
	os.Chmod(filepath.Dir(sock), 0o777)
	os.Chmod(sock, 0o777)
	t.Setenv("NOTIFY_SOCKET", sock)
	s := startServer(t, serverOpts{})
	_ = s
	l.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := l.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("notify socket got %q, %v; want READY=1", buf[:n], err)
	}
}

// TestUIDRange: a userdb uid outside first_valid_uid..last_valid_uid, or
// 0, is refused by the master and logged, whatever auth said.
func TestUIDRange(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test needs root (CI runs as root)")
	}
	s := startServer(t, serverOpts{users: map[string]int{"low": -50000, "rooty": -50100}})
	for _, user := range []string{"low", "rooty"} {
		rc := rawDial(t, s.addr("imap"))
		rc.send("a LOGIN " + user + " " + user + "\r\n")
		if line := rc.expect("a "); !strings.HasPrefix(line, "a NO") {
			t.Errorf("LOGIN %s (uid out of range) answered %q", user, line)
		}
	}
	log := s.log.String()
	// uid 0 is already refused by the passwd-file userdb (Dovecot's rule);
	// the master's own uid-0 check is tested in package master.
	if !strings.Contains(log, "outside first_valid_uid") {
		t.Errorf("refusals not logged:\n%s", log)
	}
	for _, p := range byRole(children(s.cmd.Process.Pid), "worker") {
		t.Errorf("a worker runs (uid %v) for a refused user", p.uid)
	}
}
