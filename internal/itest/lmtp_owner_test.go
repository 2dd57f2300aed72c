package itest

import (
	"regexp"
	"strings"
	"testing"
)

// TestLMTPToLoggedInUser delivers to demo@example.org while demo is
// logged in with INBOX selected, with Dovecot's default
// auth_username_format (%Lu: the recipient stays demo@example.org) and a
// passwd-file keyed by %n, so that both names reach the same userdb
// entry: the message goes to demo's running worker, and one process
// holds the mail. The session sees it at NOOP, and INBOX keeps its
// UIDVALIDITY (a second worker on the same Maildir rewrote the
// uidlist's).
func TestLMTPToLoggedInUser(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, twoNames(o))
		c := dial(t, s, "plain")
		if err := c.Login("demo", "demo").Wait(); err != nil {
			t.Fatal(err)
		}
		defer c.Logout()
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		for _, subject := range []string{"first", "second"} {
			if got := lmtpDeliver(t, s.addr("lmtp"), subject, "demo@example.org"); got["demo@example.org"] != "250" {
				t.Fatalf("LMTP reply = %v, want 250", got)
			}
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if n := c.Mailbox().NumMessages; n != 2 {
			t.Errorf("NOOP after two deliveries: %d messages in the selected INBOX, want 2", n)
		}
		if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "first|second" {
			t.Errorf("demo's INBOX = %q, want first|second", subj)
		}
		sel2, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel2.UIDValidity != sel.UIDValidity {
			t.Errorf("UIDVALIDITY of INBOX went from %d to %d across the deliveries", sel.UIDValidity, sel2.UIDValidity)
		}
		if n := demoWorkers(s.log.String()); n != 1 {
			t.Errorf("demo's mail was held by %d worker processes, want 1", n)
		}
	})
}

// TestLoginAfterLMTPToOtherName is the other order: a delivery to
// demo@example.org starts the worker of that name, and demo logs in while
// it lingers. The session runs in that worker (one process holds the
// mail), sees the delivered message, and a delivery during the session
// reaches it at NOOP.
func TestLoginAfterLMTPToOtherName(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, twoNames(o))
		if got := lmtpDeliver(t, s.addr("lmtp"), "before", "demo@example.org"); got["demo@example.org"] != "250" {
			t.Fatalf("LMTP reply = %v, want 250", got)
		}
		c := dial(t, s, "plain")
		if err := c.Login("demo", "demo").Wait(); err != nil {
			t.Fatal(err)
		}
		defer c.Logout()
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel.NumMessages != 1 {
			t.Errorf("SELECT after a delivery to demo@example.org: %d messages, want 1", sel.NumMessages)
		}
		if got := lmtpDeliver(t, s.addr("lmtp"), "during", "demo@example.org"); got["demo@example.org"] != "250" {
			t.Fatalf("LMTP reply = %v, want 250", got)
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if n := c.Mailbox().NumMessages; n != 2 {
			t.Errorf("NOOP after the second delivery: %d messages, want 2", n)
		}
		if n := demoWorkers(s.log.String()); n != 1 {
			t.Errorf("demo's mail was held by %d worker processes, want 1", n)
		}
	})
}

// demoWorkers counts the worker processes the server log shows for demo
// under either name.
func demoWorkers(log string) int {
	pids := map[string]bool{}
	for _, m := range regexp.MustCompile(`role=worker pid=(\d+) user="demo(@example\.org)?"`).FindAllStringSubmatch(log, -1) {
		pids[m[1]] = true
	}
	return len(pids)
}

// twoNames makes demo and demo@example.org two names of one userdb entry,
// as in the bench: Dovecot's default auth_username_format (%Lu keeps the
// domain) and a passwd-file keyed by %n.
func twoNames(o serverOpts) serverOpts {
	o.extra = "auth_username_format = %Lu\n"
	o.edit = func(conf string) string {
		return strings.ReplaceAll(conf, "username_format=%u", "username_format=%n")
	}
	return o
}
