package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// pop3UIDL logs in as user (password = name) and returns UIDL's listing,
// one "msg uidl" a line.
func pop3UIDL(t *testing.T, addr, user string) []string {
	t.Helper()
	rc := rawDialNoGreeting(t, addr)
	defer rc.c.Close()
	rc.expect("+OK")
	rc.send("USER " + user + "\r\n")
	rc.expect("+OK")
	rc.send("PASS " + user + "\r\n")
	if line := rc.expect(""); !strings.HasPrefix(line, "+OK") {
		t.Fatalf("POP3 PASS as %s on %s: %q", user, addr, line)
	}
	rc.send("UIDL\r\n")
	rc.expect("+OK")
	var out []string
	for {
		line := strings.TrimRight(rc.expect(""), "\r\n")
		if line == "." {
			break
		}
		out = append(out, line)
	}
	rc.send("QUIT\r\n")
	rc.expect("+OK")
	return out
}

// dovecotInstance is Debian's Dovecot serving POP3 only, started by a
// test on its own config in a temporary directory.
type dovecotInstance struct {
	t    *testing.T
	dir  string
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

// dovecotUser is a passwd-file entry for Dovecot; uid is also the gid.
type dovecotUser struct {
	uid  int
	home string
}

// startDovecot runs `dovecot -F` with a minimal configuration: POP3 on a
// free loopback port, passwd-file users (password = name) with the
// given uids and homes, Maildir in ~/Maildir with its index in memory,
// so that Dovecot adds no index files of its own beside cote's.
func startDovecot(t *testing.T, users map[string]dovecotUser) *dovecotInstance {
	t.Helper()
	requireRoot(t, "Dovecot")
	bin := requireProgram(t, "dovecot", "dovecot-core")
	if _, err := os.Stat("/usr/lib/dovecot/pop3"); err != nil {
		t.Fatalf("Dovecot's pop3 binary: %v: install Debian's dovecot-pop3d (scripts/test-deps.sh does)", err)
	}
	dir, err := os.MkdirTemp("", "cote-dovecot-")
	must(t, err)
	must(t, os.Chmod(dir, 0o755))
	d := &dovecotInstance{t: t, dir: dir, port: freePort(t), done: make(chan struct{})}
	var pw strings.Builder
	for name, u := range users {
		fmt.Fprintf(&pw, "%s:{PLAIN}%s:%d:%d::%s::\n", name, name, u.uid, u.uid, u.home)
	}
	must(t, os.WriteFile(filepath.Join(dir, "users"), []byte(pw.String()), 0o644))
	conf := fmt.Sprintf(`protocols = pop3
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir:INDEX=MEMORY
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%n %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%n %[1]s/users
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener pop3s {
    port = 0
  }
}
`, dir, d.port)
	confPath := filepath.Join(dir, "dovecot.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	d.cmd = exec.Command(bin, "-F", "-c", confPath)
	out := &syncBuffer{}
	d.cmd.Stdout, d.cmd.Stderr = out, out
	must(t, d.cmd.Start())
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot output:\n%s\ndovecot log:\n%s", out.String(), log)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if line, err := netDialGreeting(d.addr()); err == nil && strings.HasPrefix(line, "+OK") {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("dovecot exited: %v\n%s", d.cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dovecot did not greet on %s\n%s", d.addr(), out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *dovecotInstance) addr() string { return fmt.Sprintf("127.0.0.1:%d", d.port) }

// stop sends SIGTERM to Dovecot's master and checks that it and all its
// processes are gone.
func (d *dovecotInstance) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	kids := descendants(d.cmd.Process.Pid)
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("dovecot did not stop within 15s of SIGTERM")
	}
	isKid := func(pid int, _ []string) bool {
		for _, k := range kids {
			if k == pid {
				return true
			}
		}
		return false
	}
	if left := waitGone(isKid, 5*time.Second); len(left) > 0 {
		d.t.Errorf("dovecot processes %v outlived its master (killed now)", left)
	}
}

// TestDovecotUIDL: Debian's Dovecot and cote show the same POP3 UIDLs
// (default pop3_uidl_format %08Xu%08Xv) for the same Maildir, both ways:
// for demo's Maildir made by cote (LMTP deliveries, an APPEND, an
// expunge leaving a gap in the UIDs) plus a file another MDA dropped in
// that Dovecot numbers first, and for alice's Maildir, files dropped
// into new/ to which Dovecot gave UIDs first, as in a migration from
// Dovecot.
func TestDovecotUIDL(t *testing.T) {
	requireRoot(t, "Dovecot")
	s := startServer(t, serverOpts{users: map[string]int{"alice": 1}})

	// demo's Maildir, made by cote.
	for _, subj := range []string{"uidl one", "uidl two", "uidl three"} {
		lmtpDeliver(t, s.addr("lmtp"), subj, "demo@example.org")
	}
	c := login(t, s, "demo")
	appendMsg(t, c, "INBOX", "uidl appended")
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	c.Logout()

	// alice's Maildir, written by another MDA; cote has not seen it.
	aliceHome := filepath.Join(s.dir, "home", "alice")
	for _, sub := range []string{"Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"} {
		must(t, os.MkdirAll(filepath.Join(aliceHome, sub), 0o700))
	}
	for i := range 4 {
		name := fmt.Sprintf("%d.M%dP%d.mda.example", 1700000000+i, i, 4242)
		msg := fmt.Sprintf("From: a@example.net\r\nTo: alice@example.org\r\nSubject: migrated %d\r\n\r\nbody %d\r\n", i, i)
		must(t, os.WriteFile(filepath.Join(aliceHome, "Maildir", "new", name), []byte(msg), 0o600))
	}
	chownTree(t, aliceHome, 50101)

	coteDemo := pop3UIDL(t, s.addr("pop3"), "demo")
	if len(coteDemo) != 3 {
		t.Fatalf("cote's UIDL for demo = %q, want 3 messages", coteDemo)
	}
	// Another MDA drops a message into demo's Maildir; Dovecot is the
	// first to see it and gives it the next UID in cote's uidlist.
	must(t, os.WriteFile(filepath.Join(s.dir, "home", "demo", "Maildir", "new", "1700000100.M1P4243.mda.example"),
		[]byte("From: a@example.net\r\nSubject: uidl dropped\r\n\r\nbody\r\n"), 0o600))
	must(t, os.Chown(filepath.Join(s.dir, "home", "demo", "Maildir", "new", "1700000100.M1P4243.mda.example"), 50100, 50100))
	d := startDovecot(t, map[string]dovecotUser{
		"demo":  {50100, filepath.Join(s.dir, "home", "demo")},
		"alice": {50101, aliceHome},
	})
	dovecotDemo := pop3UIDL(t, d.addr(), "demo")
	if len(dovecotDemo) != 4 || strings.Join(dovecotDemo[:3], "\n") != strings.Join(coteDemo, "\n") {
		t.Errorf("UIDL of cote's Maildir:\ncote:    %q\ndovecot: %q (and the dropped message)", coteDemo, dovecotDemo)
	} else if uidl := strings.Fields(dovecotDemo[3])[1]; !strings.HasPrefix(uidl, "00000005") {
		t.Errorf("dovecot gave the dropped message UIDL %s, want UID 5 (cote's UIDNEXT)", uidl)
	}
	// Dovecot gives alice's messages their UIDs; one is deleted through it.
	rc := rawDialNoGreeting(t, d.addr())
	rc.expect("+OK")
	rc.send("USER alice\r\nPASS alice\r\n")
	rc.expect("+OK")
	rc.expect("+OK")
	rc.send("DELE 2\r\nQUIT\r\n")
	rc.expect("+OK")
	rc.expect("+OK")
	dovecotAlice := pop3UIDL(t, d.addr(), "alice")
	d.stop()
	if len(dovecotAlice) != 3 {
		t.Fatalf("dovecot's UIDL for alice = %q, want 3 messages", dovecotAlice)
	}

	if got := pop3UIDL(t, s.addr("pop3"), "alice"); strings.Join(got, "\n") != strings.Join(dovecotAlice, "\n") {
		t.Errorf("UIDL of the Maildir Dovecot numbered:\ndovecot: %q\ncote:    %q", dovecotAlice, got)
	}
	// cote keeps the UIDs it gave and takes the one Dovecot gave.
	if got := pop3UIDL(t, s.addr("pop3"), "demo"); strings.Join(got, "\n") != strings.Join(dovecotDemo, "\n") {
		t.Errorf("UIDL for demo after Dovecot numbered the dropped message:\ndovecot: %q\ncote:    %q", dovecotDemo, got)
	}
}
