package itest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestMboxServe serves a user whose mail is in mbox files
// (mail_location = mbox:~/mail:INBOX=~/spool, the shape of
// INBOX=/var/mail/%u): a spool another MDA wrote is read, an LMTP
// delivery is appended to it, IMAP sees both and files one into a folder
// (a new mbox file under ~/mail), and POP3 reads the INBOX.
func TestMboxServe(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.extra = "mail_location = mbox:~/mail:INBOX=~/spool"
		s := startServer(t, o)
		home := filepath.Join(s.dir, "home", "demo")
		spool := filepath.Join(home, "spool")
		// What a classic MDA (procmail, Postfix's local) leaves: a From_
		// line, no Content-Length, no X-UID.
		old := "From sender@example.org Sat Nov 28 10:00:00 2026\n" +
			"From: sender@example.org\nTo: demo@example.org\nSubject: from the old MDA\n\n" +
			"first line\nsecond line\n\n"
		must(t, os.WriteFile(spool, []byte(old), 0o600))
		if os.Getuid() == 0 {
			uid := 50100
			if o.asUser {
				uid = unprivUID
			}
			must(t, os.Chown(spool, uid, uid))
		}

		got := lmtpDeliver(t, s.addr("lmtp"), "delivered over lmtp", "demo@example.org")
		if got["demo@example.org"] != "250" {
			t.Fatalf("LMTP = %v", got)
		}
		if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "from the old MDA|delivered over lmtp" {
			t.Fatalf("INBOX over IMAP = %q", subj)
		}

		c := login(t, s, "demo")
		if err := c.Create("Projects", nil).Wait(); err != nil {
			t.Fatalf("CREATE: %v", err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Copy(imap.SeqSetNum(1), "Projects").Wait(); err != nil {
			t.Fatalf("COPY: %v", err)
		}
		if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
			t.Fatalf("STORE: %v", err)
		}
		if err := c.Logout().Wait(); err != nil {
			t.Fatal(err)
		}
		if subj := inboxSubjects(t, s, "demo", "Projects"); strings.Join(subj, "|") != "from the old MDA" {
			t.Fatalf("Projects over IMAP = %q", subj)
		}

		// On disk: the folder is an mbox file under ~/mail; the spool is
		// still one mbox holding both messages as Dovecot writes them
		// (X-UID, Content-Length; a body line "From ..." is left as it
		// is and Content-Length delimits the message), and the delivered
		// message's From_ line names its envelope sender.
		archive, err := os.ReadFile(filepath.Join(home, "mail", "Projects"))
		if err != nil {
			t.Fatalf("Projects mbox file: %v", err)
		}
		if !strings.HasPrefix(string(archive), "From ") || !strings.Contains(string(archive), "Subject: from the old MDA") {
			t.Errorf("Projects file:\n%s", archive)
		}
		data, err := os.ReadFile(spool)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if !strings.HasPrefix(text, "From sender@example.org ") || strings.Count(text, "\n\nFrom ") != 1 ||
			strings.Count(text, "\nContent-Length: ") != 2 || !strings.Contains(text, "\nX-UID: 2\n") {
			t.Errorf("spool is not two Dovecot-style mbox messages:\n%s", text)
		}
		if i := strings.Index(text, "\n\nFrom "); i < 0 || !strings.HasPrefix(text[i+2:], "From sender@example.org ") {
			t.Errorf("the delivered message's From_ line does not name the envelope sender:\n%s", text)
		}
		if !strings.Contains(text, "Subject: delivered over lmtp") || !strings.Contains(text, "Return-Path: <sender@example.org>") {
			t.Errorf("the LMTP delivery is not in the spool:\n%s", text)
		}

		// POP3 reads the same INBOX.
		if got := poplib(t, s, "plain", false); strings.Join(got, "|") != "from the old MDA|delivered over lmtp" {
			t.Fatalf("POP3 = %q", got)
		}
	})
}
