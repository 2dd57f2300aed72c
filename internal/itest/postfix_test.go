package itest

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// postfixInstance is Debian's Postfix started by a test, isolated from
// any system instance: its own config_directory, queue_directory and
// data_directory in a temporary directory, smtpd on a free loopback port,
// no chroot, and a log file instead of syslog.
type postfixInstance struct {
	t    *testing.T
	bin  string // the postfix command
	dir  string
	conf string // config_directory
	port int    // smtpd's port on 127.0.0.1
}

// postfixMaster is a master.cf with the services a local and LMTP
// delivery need, none chrooted; smtpd listens on 127.0.0.1:%d only.
const postfixMaster = `127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
lmtp      unix  - - n -  - lmtp
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// startPostfix writes main.cf (the isolation settings, then extra, one
// "name = value" a line) and master.cf, and starts Postfix. Cleanup
// stops it and checks that none of its processes is left.
func startPostfix(t *testing.T, extra ...string) *postfixInstance {
	t.Helper()
	requireRoot(t, "Postfix")
	bin := requireProgram(t, "postfix", "postfix")
	owner, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("user postfix: %v: install Debian's postfix (scripts/test-deps.sh does)", err)
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		t.Fatalf("group postdrop: %v: install Debian's postfix (scripts/test-deps.sh does)", err)
	}
	dir, err := os.MkdirTemp("", "cote-postfix-")
	must(t, err)
	must(t, os.Chmod(dir, 0o755))
	pf := &postfixInstance{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "conf"), port: freePort(t)}
	for _, d := range []string{"conf", "queue", "data"} {
		must(t, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	must(t, os.Chown(filepath.Join(dir, "data"), uid, gid))
	main := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + filepath.Join(dir, "queue"),
		"data_directory = " + filepath.Join(dir, "data"),
		"maillog_file_prefixes = " + dir,
		"maillog_file = " + filepath.Join(dir, "maillog"),
		"inet_interfaces = loopback-only",
		"inet_protocols = ipv4",
		"myhostname = mx.example.org",
		"mydomain = example.org",
		"mydestination = example.org",
		"local_recipient_maps =",
		"alias_maps =",
		"alias_database =",
		"biff = no",
		// Nothing leaves this machine: bounces to outside senders are
		// dropped.
		"default_transport = discard",
		"relay_transport = discard",
	}
	main = append(main, extra...)
	must(t, os.WriteFile(filepath.Join(pf.conf, "main.cf"), []byte(strings.Join(main, "\n")+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(pf.conf, "master.cf"), fmt.Appendf(nil, postfixMaster, pf.port), 0o644))

	t.Cleanup(func() {
		pf.stop()
		if t.Failed() {
			t.Logf("postfix log:\n%s", pf.maillog())
		}
		os.RemoveAll(dir)
	})
	// check creates the queue's subdirectories with their owners and
	// modes (post-install create-missing); start runs it again.
	pf.run("check")
	pf.run("start")
	waitTCP(t, pf.addr(), 15*time.Second)
	return pf
}

func (pf *postfixInstance) addr() string { return "127.0.0.1:" + strconv.Itoa(pf.port) }

// run runs a postfix subcommand on this instance's configuration.
func (pf *postfixInstance) run(cmd string) {
	pf.t.Helper()
	out, err := exec.Command(pf.bin, "-c", pf.conf, cmd).CombinedOutput()
	if err != nil {
		pf.t.Fatalf("postfix -c %s %s: %v\n%s\nlog:\n%s", pf.conf, cmd, err, out, pf.maillog())
	}
}

func (pf *postfixInstance) maillog() string {
	b, _ := os.ReadFile(filepath.Join(pf.dir, "maillog"))
	return string(b)
}

// ours is true for the processes of this instance: Postfix's master
// passes MAIL_CONFIG to every daemon it spawns.
func (pf *postfixInstance) ours(_ int, environ []string) bool {
	return slices.Contains(environ, "MAIL_CONFIG="+pf.conf)
}

// stop runs `postfix stop` and waits until no process of the instance
// is alive.
func (pf *postfixInstance) stop() {
	t := pf.t
	if len(liveProcs(pf.ours)) == 0 {
		return
	}
	if out, err := exec.Command(pf.bin, "-c", pf.conf, "stop").CombinedOutput(); err != nil {
		t.Errorf("postfix -c %s stop: %v\n%s", pf.conf, err, out)
	}
	if left := waitGone(pf.ours, 15*time.Second); len(left) > 0 {
		t.Errorf("postfix processes %v still ran 15s after `postfix stop` (killed now)", left)
	}
}

// queue lists what is still in Postfix's queue, for failure messages.
func (pf *postfixInstance) queue() string {
	out, _ := exec.Command("postqueue", "-c", pf.conf, "-p").CombinedOutput()
	return string(out)
}

// smtpSend sends a message to addr with Python's smtplib and returns the
// recipients refused at RCPT with their codes.
func smtpSend(t *testing.T, addr, subject string, rcpts ...string) map[string]string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	args := append([]string{"testdata/smtp_send.py", host, port, "sender@example.net", subject}, rcpts...)
	out, err := exec.Command("python3", args...).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || lines[len(lines)-1] != "OK" {
		t.Fatalf("smtplib to %s: %v\n%s", addr, err, out)
	}
	refused := map[string]string{}
	for _, l := range lines[:len(lines)-1] {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "refused" {
			refused[f[1]] = f[2]
		}
	}
	return refused
}

// allSubjects lists the subjects of every message in a mailbox over
// IMAP. (inboxSubjects in lmtp_test.go fetches imap.SeqSetNum(1, n),
// which is the set {1, n}, not the range 1:n.)
func allSubjects(t *testing.T, s *server, user, mbox string) []string {
	t.Helper()
	c := dial(t, s, "plain")
	if err := c.Login(user, user).Wait(); err != nil {
		t.Fatalf("LOGIN %s: %v", user, err)
	}
	defer c.Logout()
	sel, err := c.Select(mbox, nil).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", mbox, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, sel.NumMessages)
	msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Envelope.Subject)
	}
	return out
}

// waitSubjects polls user's mailbox over IMAP until it holds exactly the
// messages with the subjects in want, in any order (an MTA delivers
// messages in parallel), or fails after the deadline with what diag says.
func waitSubjects(t *testing.T, s *server, user, mbox string, want []string, within time.Duration, diag func() string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(within)
	for {
		got := allSubjects(t, s, user, mbox)
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			d := ""
			if diag != nil {
				d = diag()
			}
			t.Fatalf("%s's %s = %q after %v, want %q\n%s", user, mbox, got, within, want, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPostfixLMTP: Debian's Postfix delivers to cote over lmtp:unix: and
// lmtp:inet: as its mailbox_transport; a message sent to Postfix's SMTP
// port with smtplib appears in the recipient's INBOX over IMAP, and a
// recipient cote does not know is bounced by Postfix with cote's 5.1.1.
func TestPostfixLMTP(t *testing.T) {
	requireRoot(t, "Postfix")
	s := startServer(t, serverOpts{})
	var want []string
	for _, tc := range []struct{ name, transport string }{
		{"unix", "lmtp:unix:" + filepath.Join(s.dir, "run", "lmtp")},
		{"inet", "lmtp:inet:" + s.addr("lmtp")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := startPostfix(t, "mailbox_transport = "+tc.transport)
			subject := "through postfix over lmtp " + tc.name
			if refused := smtpSend(t, pf.addr(), subject, "demo@example.org", "nosuch@example.org"); len(refused) != 0 {
				t.Fatalf("postfix refused %v at RCPT; local_recipient_maps is empty, so it should accept all", refused)
			}
			want = append(want, subject)
			diag := func() string { return "postfix queue:\n" + pf.queue() + "\npostfix log:\n" + pf.maillog() }
			waitSubjects(t, s, "demo", "INBOX", want, 30*time.Second, diag)
			// The unknown recipient: cote's 550 5.1.1 makes Postfix bounce.
			deadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(pf.maillog(), "to=<nosuch@example.org>") || !strings.Contains(pf.maillog(), "status=bounced") {
				if time.Now().After(deadline) {
					t.Fatalf("postfix did not bounce nosuch@example.org:\n%s", diag())
				}
				time.Sleep(200 * time.Millisecond)
			}
			for _, line := range strings.Split(pf.maillog(), "\n") {
				if strings.Contains(line, "to=<nosuch@example.org>") && !strings.Contains(line, "5.1.1") {
					t.Errorf("postfix's log for the unknown recipient lacks cote's 5.1.1: %s", line)
				}
				if strings.Contains(line, "to=<demo@example.org>") && !strings.Contains(line, "status=sent") {
					t.Errorf("postfix's log for demo: %s", line)
				}
			}
		})
	}
}

// TestPostfixSASL: Postfix's smtpd with smtpd_sasl_type = dovecot uses
// cote's auth-client socket; swaks's AUTH PLAIN and AUTH LOGIN with the
// right password are accepted and the mail is delivered, a wrong password
// is refused with 535, only an authenticated client may relay, and the
// password reaches no log.
func TestPostfixSASL(t *testing.T) {
	requireRoot(t, "Postfix")
	swaks := requireProgram(t, "swaks", "swaks")
	// smtpd runs as user postfix: the socket must be open to it.
	s := startServer(t, serverOpts{extra: "auth_mechanisms = plain login\nservice auth {\n  unix_listener auth-client {\n    mode = 0666\n  }\n}"})
	sock := filepath.Join(s.dir, "run", "auth-client")
	fi, err := os.Stat(sock)
	must(t, err)
	if fi.Mode().Perm() != 0o666 {
		t.Fatalf("auth-client socket mode %v, want 0666 from the config", fi.Mode().Perm())
	}
	pf := startPostfix(t,
		"mailbox_transport = lmtp:unix:"+filepath.Join(s.dir, "run", "lmtp"),
		"smtpd_sasl_type = dovecot",
		"smtpd_sasl_path = "+sock,
		"smtpd_sasl_auth_enable = yes",
		// The test's client is not a trusted network: relaying needs
		// SASL (permit_sasl_authenticated in smtpd_relay_restrictions).
		"mynetworks = 192.0.2.1/32",
	)
	swaksRun := func(to, subject string, args ...string) (string, int) {
		t.Helper()
		base := []string{"--server", pf.addr(), "--from", "sender@example.net", "--to", to,
			"--header", "Subject: " + subject, "--suppress-data", "--timeout", "30"}
		out, err := exec.Command(swaks, append(base, args...)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("swaks: %v", err)
		}
		return string(out), code
	}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		out, code := swaksRun("demo@example.org", "sasl "+mech, "--auth", mech, "--auth-user", "demo", "--auth-password", "demo")
		if code != 0 || !strings.Contains(out, "<-  235 ") {
			t.Fatalf("swaks --auth %s with the right password: exit %d, want 0 and a 235 reply\n%s\npostfix log:\n%s", mech, code, out, pf.maillog())
		}
	}
	out, code := swaksRun("demo@example.org", "sasl wrong", "--auth", "PLAIN", "--auth-user", "demo", "--auth-password", "Wr0ngSecret")
	// swaks exits 28 when the server refuses authentication.
	if code != 28 || !strings.Contains(out, "<** 535 ") {
		t.Fatalf("swaks --auth PLAIN with a wrong password: exit %d, want 28 and a 535 reply\n%s", code, out)
	}
	// Relaying to another domain: refused without AUTH (swaks exits 24
	// when no recipient is accepted), allowed after AUTH PLAIN.
	if out, code := swaksRun("someone@elsewhere.example", "relay"); code != 24 || !strings.Contains(out, "<** 454 4.7.1") {
		t.Errorf("relay without AUTH: exit %d, want 24 and 454 4.7.1 (relay access denied)\n%s", code, out)
	}
	if out, code := swaksRun("someone@elsewhere.example", "relay", "--auth", "PLAIN", "--auth-user", "demo", "--auth-password", "demo"); code != 0 {
		t.Errorf("relay after AUTH PLAIN: exit %d, want 0\n%s", code, out)
	}
	waitSubjects(t, s, "demo", "INBOX", []string{"sasl PLAIN", "sasl LOGIN"}, 30*time.Second,
		func() string { return "postfix queue:\n" + pf.queue() + "\npostfix log:\n" + pf.maillog() })
	if log := pf.maillog(); !strings.Contains(log, "sasl_method=PLAIN, sasl_username=demo") || !strings.Contains(log, "sasl_method=LOGIN, sasl_username=demo") {
		t.Errorf("postfix did not log sasl_username=demo for both mechanisms:\n%s", log)
	}
	for _, secret := range []string{"Wr0ngSecret", base64.StdEncoding.EncodeToString([]byte("\x00demo\x00Wr0ngSecret"))} {
		if strings.Contains(s.log.String(), secret) || strings.Contains(pf.maillog(), secret) {
			t.Errorf("the wrong password appears in a log as %q", secret)
		}
	}
}
