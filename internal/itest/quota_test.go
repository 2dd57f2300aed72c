package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestQuota: a quota rule from userdb (passwd-file extra field
// userdb_quota_rule) is enforced on LMTP delivery (552 5.2.2) and IMAP
// APPEND (NO [OVERQUOTA]), and reported by GETQUOTAROOT.
func TestQuota(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test needs root (CI runs as root)")
	}
	s := startServer(t, serverOpts{})
	home := filepath.Join(s.dir, "home", "tight")
	must(t, os.MkdirAll(home, 0o700))
	must(t, os.Chown(home, 50102, 50102))
	f, err := os.OpenFile(filepath.Join(s.dir, "users"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	fmt.Fprintf(f, "tight:{PLAIN}tight:50102:50102::%s::userdb_quota_rule=*:storage=2K userdb_quota_rule2=*:messages=5\n", home)
	f.Close()

	if got := lmtpDeliver(t, s.addr("lmtp"), "fits", "tight@example.org"); got["tight@example.org"] != "250" {
		t.Fatalf("small delivery: %v", got)
	}
	// lmtp_client.py sends a short body; pad the subject to go over 2 KB.
	big := "big " + strings.Repeat("x", 3000)
	if got := lmtpDeliver(t, s.addr("lmtp"), big, "tight@example.org"); got["tight@example.org"] != "552" {
		t.Fatalf("delivery over quota: %v, want 552", got)
	}
	c := dial(t, s, "plain")
	if err := c.Login("tight", "tight").Wait(); err != nil {
		t.Fatal(err)
	}
	msg := "Subject: append\r\n\r\n" + strings.Repeat("y", 4000) + "\r\n"
	cmd := c.Append("INBOX", int64(len(msg)), nil)
	cmd.Write([]byte(msg))
	cmd.Close()
	if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "OVERQUOTA") {
		t.Errorf("APPEND over quota: %v, want NO [OVERQUOTA]", err)
	}
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil || len(roots) == 0 {
		t.Fatalf("GETQUOTAROOT: %v %v", roots, err)
	}
	var found bool
	for _, q := range roots {
		if l, ok := q.Resources[imap.QuotaResourceStorage]; ok && l.Limit == 2 {
			found = true
		}
	}
	if !found {
		t.Errorf("GETQUOTAROOT = %+v, want a STORAGE limit of 2 (KB)", roots)
	}
}

// TestLMTPOversized: with lmtp_max_message_size, LHLO announces SIZE and
// a larger message is refused with 552 5.3.4 (RFC 1870 section 6.3).
func TestLMTPOversized(t *testing.T) {
	s := startServer(t, serverOpts{extra: "lmtp_max_message_size = 10K"})
	rc := rawDialNoGreeting(t, s.addr("lmtp"))
	rc.expect("220")
	rc.send("LHLO test\r\n")
	var ext []string
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			t.Fatalf("LHLO: %v", err)
		}
		ext = append(ext, strings.TrimSpace(line))
		if strings.HasPrefix(line, "250 ") {
			break
		}
	}
	if !strings.Contains(strings.Join(ext, "|"), "SIZE 10240") {
		t.Errorf("LHLO reply %q lacks SIZE 10240", ext)
	}
	if got := lmtpDeliver(t, s.addr("lmtp"), "small", "demo@example.org"); got["demo@example.org"] != "250" {
		t.Fatalf("small message: %v", got)
	}
	big := "big " + strings.Repeat("z", 20000)
	if got := lmtpDeliver(t, s.addr("lmtp"), big, "demo@example.org"); got["demo@example.org"] != "552" {
		t.Fatalf("oversized message: %v, want 552", got)
	}
}

// TestLMTPRcptQuota: with lmtp_rcpt_check_quota, a recipient whose quota
// is full is refused at RCPT (552 5.2.2), before any data.
func TestLMTPRcptQuota(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test needs root (CI runs as root)")
	}
	s := startServer(t, serverOpts{extra: "lmtp_rcpt_check_quota = yes"})
	home := filepath.Join(s.dir, "home", "one")
	must(t, os.MkdirAll(home, 0o700))
	must(t, os.Chown(home, 50103, 50103))
	f, err := os.OpenFile(filepath.Join(s.dir, "users"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	fmt.Fprintf(f, "one:{PLAIN}one:50103:50103::%s::userdb_quota_rule=*:messages=1\n", home)
	f.Close()
	if got := lmtpDeliver(t, s.addr("lmtp"), "first", "one@example.org", "demo@example.org"); got["one@example.org"] != "250" || got["demo@example.org"] != "250" {
		t.Fatalf("first delivery: %v", got)
	}
	got := lmtpDeliver(t, s.addr("lmtp"), "second", "one@example.org", "demo@example.org")
	if got["one@example.org"] != "552" || got["demo@example.org"] != "250" {
		t.Fatalf("second delivery: %v, want 552 at RCPT for one and 250 for demo", got)
	}
	if !strings.Contains(s.log.String(), "recipient refused: over quota") {
		t.Errorf("the refusal was not at RCPT time")
	}
}
