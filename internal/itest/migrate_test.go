package itest

import (
	"bufio"
	"crypto/tls"
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

	"cote/master"
)

// migrateUser is a user of the passwd-file the Dovecot setup has.
type migrateUser struct {
	name, password, scheme string
	uid                    int
	subjects               []string // the mail in the user's Maildir
}

// TestMigrateDovecotServes runs `coteadm migrate dovecot` on a copy of
// Debian's default /etc/dovecot with a passwd-file setup as an admin
// makes one (auth-passwdfile.conf.ext included instead of
// auth-system.conf.ext, users with hashes doveadm pw made, Maildir,
// listeners on chosen ports in local.conf), starts the real cote on the
// result, and logs every user in over IMAP (plaintext and STARTTLS) and
// POP3 (implicit TLS) with their Dovecot passwords, seeing the mail already in their
// Maildirs. What the test adds to the result moves the instance into
// its temporary directory (base_dir, state_dir, the log) and names the
// internal users by number: it does not add users to this machine.
func TestMigrateDovecotServes(t *testing.T) {
	requireRoot(t, "cote with a production configuration")
	doveadm := requireProgram(t, "doveadm", "dovecot-core")
	if _, err := os.Stat("/etc/dovecot/conf.d/10-auth.conf"); err != nil {
		t.Fatalf("Debian's Dovecot configuration is missing (%v): install dovecot-core (sh scripts/test-deps.sh does)", err)
	}
	dir, err := os.MkdirTemp("", "cote-migrate-")
	must(t, err)
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if _, err := master.SetupDev(dir); err != nil { // a certificate in dir/ssl
		t.Fatal(err)
	}

	// The Dovecot tree: Debian's, with the admin's changes.
	tree := filepath.Join(dir, "dovecot")
	if out, err := exec.Command("cp", "-R", "/etc/dovecot", tree).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc/dovecot: %v\n%s", err, out)
	}
	users := []migrateUser{
		{name: "alice@example.org", password: "alice's secret", scheme: "SHA512-CRYPT", uid: 50201, subjects: []string{"welcome", "minutes"}},
		{name: "bob@example.org", password: "b0b-pw", scheme: "SSHA512", uid: 50202, subjects: []string{"invoice"}},
		{name: "carol@example.org", password: "carol pw", scheme: "BLF-CRYPT", uid: 50203},
	}
	usersFile := filepath.Join(dir, "users")
	var pw strings.Builder
	for _, u := range users {
		out, err := exec.Command(doveadm, "pw", "-s", u.scheme, "-p", u.password).Output()
		if err != nil {
			t.Fatalf("doveadm pw -s %s: %v", u.scheme, err)
		}
		home := filepath.Join(dir, "home", u.name)
		for i, subj := range u.subjects {
			info := "S"
			if i > 0 {
				info = ""
			}
			writeMaildirMsg(t, filepath.Join(home, "Maildir"), fmt.Sprintf("15000000%02d.M%dP1.oldhost", i, i), info,
				"From: x@example.org\nSubject: "+subj+"\n\nkept from Dovecot\n", time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC), u.uid)
		}
		must(t, os.MkdirAll(home, 0o700))
		chownTree(t, home, u.uid)
		fmt.Fprintf(&pw, "%s:%s:%d:%d::%s::\n", u.name, strings.TrimSpace(string(out)), u.uid, u.uid, home)
	}
	must(t, os.WriteFile(usersFile, []byte(pw.String()), 0o644))
	editFile(t, filepath.Join(tree, "conf.d/10-auth.conf"),
		"\n!include auth-system.conf.ext", "\n#!include auth-system.conf.ext",
		"#!include auth-passwdfile.conf.ext", "!include auth-passwdfile.conf.ext")
	editFile(t, filepath.Join(tree, "conf.d/auth-passwdfile.conf.ext"), "/etc/dovecot/users", usersFile, "/etc/dovecot/users", usersFile)
	editFile(t, filepath.Join(tree, "conf.d/10-ssl.conf"),
		"</etc/dovecot/private/dovecot.pem", "<"+filepath.Join(dir, "ssl/cert.pem"),
		"</etc/dovecot/private/dovecot.key", "<"+filepath.Join(dir, "ssl/key.pem"))
	ports := map[string]int{"imap": freePort(t), "imaps": freePort(t), "pop3": freePort(t), "pop3s": freePort(t)}
	must(t, os.WriteFile(filepath.Join(tree, "local.conf"), fmt.Appendf(nil, `listen = 127.0.0.1
mail_location = maildir:~/Maildir
first_valid_uid = 50000
service imap-login {
  inet_listener imap {
    port = %d
  }
  inet_listener imaps {
    port = %d
  }
}
service pop3-login {
  inet_listener pop3 {
    port = %d
  }
  inet_listener pop3s {
    port = %d
  }
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
`, ports["imap"], ports["imaps"], ports["pop3"], ports["pop3s"]), 0o644))

	// Migrate.
	conf := filepath.Join(dir, "cote.conf")
	s := &server{t: t, dir: dir, conf: conf, log: &syncBuffer{}, ports: ports}
	r := s.coteadm(t, "", "migrate", "dovecot", "-o", conf, tree)
	if r.code != 0 {
		t.Fatalf("coteadm migrate dovecot: exit %d\n%s", r.code, r.errOut)
	}
	migrated, err := os.ReadFile(conf)
	must(t, err)
	t.Logf("migrate dovecot said:\n%s", r.errOut)
	// Only the instance's place on this machine is added.
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	fmt.Fprintf(f, `
# The test's instance: its directories and numeric internal users.
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = /dev/stderr
default_internal_user = #50001
default_internal_group = #50001
default_login_user = #50002
service auth {
  user = #50003
}
`, dir)
	must(t, f.Close())
	if out, err := exec.Command(binPath, "-c", conf, "-n").CombinedOutput(); err != nil {
		t.Fatalf("cote -n on the migrated configuration: %v\n%s\n%s", err, out, migrated)
	}

	cmd := exec.Command(binPath, "-c", conf)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	must(t, cmd.Start())
	s.cmd = cmd
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("migrated configuration:\n%s\nserver log:\n%s", migrated, s.log.String())
		}
	})
	s.waitListening("imap")

	for _, u := range users {
		// IMAP: plaintext LOGIN over loopback (secured, as in Dovecot,
		// so disable_plaintext_auth allows it), then STARTTLS.
		plain := rawDial(t, s.addr("imap"))
		plain.send("a LOGIN " + imapQuote(u.name) + " " + imapQuote(u.password) + "\r\n")
		if line := plain.expect("a "); !strings.HasPrefix(line, "a OK") {
			t.Errorf("LOGIN %s over loopback = %q", u.name, line)
		}
		plain.c.Close()
		c := dial(t, s, "starttls")
		if err := c.Login(u.name, "wrong").Wait(); err == nil {
			t.Errorf("LOGIN %s with a wrong password succeeded", u.name)
		}
		if err := c.Login(u.name, u.password).Wait(); err != nil {
			t.Fatalf("LOGIN %s with the Dovecot password (%s): %v", u.name, u.scheme, err)
		}
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatalf("SELECT as %s: %v", u.name, err)
		}
		if int(sel.NumMessages) != len(u.subjects) {
			t.Errorf("%s INBOX has %d messages, want %d", u.name, sel.NumMessages, len(u.subjects))
		}
		if len(u.subjects) > 0 {
			msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
			if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != u.subjects[0] || len(msgs[0].Flags) != 1 || msgs[0].Flags[0] != imap.FlagSeen {
				t.Errorf("%s FETCH 1 = %+v, %v; want %q, \\Seen", u.name, msgs, err, u.subjects[0])
			}
		}
		c.Logout().Wait()

		// POP3 over implicit TLS.
		if got := pop3Stat(t, s.addr("pop3s"), u.name, u.password); got != len(u.subjects) {
			t.Errorf("POP3 STAT as %s = %d messages, want %d", u.name, got, len(u.subjects))
		}
	}

	// Pigeonhole's sieve location, carried in plugin { }: coteadm
	// activates the script where delivery over Debian's LMTP socket
	// (base_dir/lmtp) finds it.
	alice := users[0]
	script := "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"sorted\" { fileinto :create \"Filed\"; }\n"
	if r := s.coteadm(t, script, "sieve", "put", "-u", alice.name, "-a", "main"); r.code != 0 {
		t.Fatalf("sieve put: exit %d %s", r.code, r.errOut)
	}
	if link, err := os.Readlink(filepath.Join(dir, "home", alice.name, ".dovecot.sieve")); err != nil || !strings.Contains(link, "main") {
		t.Errorf("~/.dovecot.sieve = %q, %v; want the link to main", link, err)
	}
	got := lmtpDeliver(t, filepath.Join(dir, "run", "lmtp"), "sorted by sieve", alice.name, users[1].name)
	if got[alice.name] != "250" || got[users[1].name] != "250" {
		t.Errorf("LMTP delivery = %v", got)
	}
	if r := s.records(t, "search", "-u", alice.name, "mailbox", "Filed", "SUBJECT", "sorted"); len(r) != 1 {
		t.Errorf("alice's Filed after delivery = %v, want the sorted message", r)
	}
	if n := s.messages(t, users[1].name, "INBOX"); n != strconv.Itoa(len(users[1].subjects)+1) {
		t.Errorf("bob's INBOX has %s messages after delivery, want %d", n, len(users[1].subjects)+1)
	}
}

// editFile replaces, in order, each old string with its new one, and
// fails when one is missing.
func editFile(t *testing.T, path string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	text := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%s has no %q: not Debian's Dovecot configuration?", path, pairs[i])
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	must(t, os.WriteFile(path, []byte(text), 0o644))
}

// imapQuote is an IMAP quoted string.
func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// pop3Stat logs in over POP3 with implicit TLS and returns STAT's
// message count.
func pop3Stat(t *testing.T, addr, user, password string) int {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tlsClientConfig())
	if err != nil {
		t.Fatalf("POP3 TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	cmd := func(line string) string {
		t.Helper()
		verb, _, _ := strings.Cut(line, " ")
		if line != "" {
			fmt.Fprintf(c, "%s\r\n", line)
		}
		resp, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("POP3 %q as %s: %v", verb, user, err)
		}
		if !strings.HasPrefix(resp, "+OK") {
			t.Fatalf("POP3 %q as %s: %q", verb, user, resp)
		}
		return resp
	}
	cmd("")
	cmd("USER " + user)
	cmd("PASS " + password)
	var n, size int
	fmt.Sscanf(cmd("STAT"), "+OK %d %d", &n, &size)
	cmd("QUIT")
	return n
}
