package itest

import (
	"context"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func lmtpDeliver(t *testing.T, where, subject string, rcpts ...string) map[string]string {
	t.Helper()
	got, err := lmtpDeliverWithin(where, 2*time.Minute, subject, rcpts...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// lmtpDeliverWithin delivers with testdata/lmtp_client.py (Python's
// smtplib.LMTP), giving up after d, and returns each recipient's reply
// code.
func lmtpDeliverWithin(where string, d time.Duration, subject string, rcpts ...string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	args := append([]string{"testdata/lmtp_client.py", where, "sender@example.org", subject}, rcpts...)
	out, err := exec.CommandContext(ctx, "python3", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("smtplib.LMTP: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		r, code, _ := strings.Cut(line, " ")
		got[r] = code
	}
	return got, nil
}

func inboxSubjects(t *testing.T, s *server, user, mbox string) []string {
	t.Helper()
	c := dial(t, s, "plain")
	if err := c.Login(user, user).Wait(); err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Envelope.Subject)
	}
	return out
}

// TestLMTP delivers with Python's smtplib.LMTP over TCP and the Unix
// socket: one reply per recipient, unknown users refused, and the message
// in each recipient's INBOX over IMAP.
func TestLMTP(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.users = map[string]int{"alice": 1}
		s := startServer(t, o)
		got := lmtpDeliver(t, s.addr("lmtp"), "over tcp", "demo@example.org", "nosuch@example.org", "alice@example.org")
		if got["demo@example.org"] != "250" || got["alice@example.org"] != "250" || got["nosuch@example.org"] != "550" {
			t.Fatalf("LMTP replies = %v, want 250 for demo and alice, 550 for nosuch", got)
		}
		got = lmtpDeliver(t, filepath.Join(s.dir, "run", "lmtp"), "over unix", "demo+lists@example.org")
		if got["demo+lists@example.org"] != "250" {
			t.Fatalf("LMTP over the Unix socket: %v", got)
		}
		if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "over tcp|over unix" {
			t.Errorf("demo's INBOX = %q", subj)
		}
		if subj := inboxSubjects(t, s, "alice", "INBOX"); strings.Join(subj, "|") != "over tcp" {
			t.Errorf("alice's INBOX = %q", subj)
		}
		// As in Dovecot, Delivered-To names the recipient only when it
		// is the transaction's one: the copies of "over tcp" are the
		// same message, of the same size.
		demo, alice := deliveredTo(t, s, "demo"), deliveredTo(t, s, "alice")
		if demo[0].field != "" || alice[0].field != "" || demo[0].size != alice[0].size {
			t.Errorf("the two recipients' copies: demo %+v, alice %+v; want no Delivered-To, one size", demo[0], alice[0])
		}
		if demo[1].field != "Delivered-To: demo+lists@example.org" {
			t.Errorf("the one recipient's copy has %q", demo[1].field)
		}
	})
}

type deliveredCopy struct {
	field string // the Delivered-To field, "" when none
	size  int64
}

// deliveredTo fetches each INBOX message's Delivered-To field and size.
func deliveredTo(t *testing.T, s *server, user string) []deliveredCopy {
	t.Helper()
	c := login(t, s, user)
	defer c.Logout()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Delivered-To"}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{RFC822Size: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []deliveredCopy
	for _, m := range msgs {
		out = append(out, deliveredCopy{strings.TrimSpace(string(m.FindBodySection(sec))), m.RFC822Size})
	}
	return out
}

// TestManageSieveFiling uploads and activates a script over ManageSieve
// (through managesieve-login and the handoff), then an LMTP delivery is
// filed by it.
func TestManageSieveFiling(t *testing.T) {
	s := startServer(t, serverOpts{})
	rc := rawDialNoGreeting(t, s.addr("sieve"))
	rc.expect("OK")
	auth := base64.StdEncoding.EncodeToString([]byte("\x00demo\x00demo"))
	rc.send(`AUTHENTICATE "PLAIN" "` + auth + "\"\r\n")
	if line := rc.expect("OK"); !strings.Contains(line, "Logged in") {
		t.Fatalf("AUTHENTICATE: %q", line)
	}
	script := "require [\"fileinto\", \"mailbox\"];\r\nif header :contains \"subject\" \"filed\" {\r\n  fileinto :create \"Filed\";\r\n}\r\n"
	rc.send(fmt.Sprintf("PUTSCRIPT \"sort\" {%d+}\r\n%s\r\n", len(script), script))
	if line := rc.expect(""); !strings.HasPrefix(line, "OK") {
		t.Fatalf("PUTSCRIPT: %q", line)
	}
	rc.send("SETACTIVE \"sort\"\r\n")
	if line := rc.expect(""); !strings.HasPrefix(line, "OK") {
		t.Fatalf("SETACTIVE: %q", line)
	}
	rc.send("LISTSCRIPTS\r\n")
	if line := rc.expect(`"sort"`); !strings.Contains(line, "ACTIVE") {
		t.Errorf("LISTSCRIPTS: %q", line)
	}
	rc.expect("OK")
	rc.send("LOGOUT\r\n")
	rc.expect("OK")

	if got := lmtpDeliver(t, s.addr("lmtp"), "please get filed", "demo@example.org"); got["demo@example.org"] != "250" {
		t.Fatalf("LMTP: %v", got)
	}
	lmtpDeliver(t, s.addr("lmtp"), "plain mail", "demo@example.org")
	deadline := time.Now().Add(10 * time.Second)
	for {
		filed := inboxSubjects(t, s, "demo", "Filed")
		inbox := inboxSubjects(t, s, "demo", "INBOX")
		if strings.Join(filed, "|") == "please get filed" && strings.Join(inbox, "|") == "plain mail" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Filed = %q, INBOX = %q; want the script to file one message", filed, inbox)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
