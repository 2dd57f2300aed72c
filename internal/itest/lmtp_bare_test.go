package itest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestLMTPBareRecipient delivers to recipients without a domain,
// RCPT TO:<user> (RFC 2033; Dovecot resolves them through
// auth_username_format like any other), with Python's smtplib.LMTP and
// with swaks, over TCP and the Unix socket: a known user gets the
// message, an unknown one 550 5.1.1 at RCPT.
func TestLMTPBareRecipient(t *testing.T) {
	o := serverOpts{users: map[string]int{"alice": 1}}
	s := startServer(t, o)
	got := lmtpDeliver(t, s.addr("lmtp"), "bare smtplib", "demo", "nosuch", "alice@example.org")
	if got["demo"] != "250" || got["nosuch"] != "550" || got["alice@example.org"] != "250" {
		t.Fatalf("smtplib.LMTP replies = %v, want 250 for demo and alice@example.org, 550 for nosuch", got)
	}
	want := []string{"bare smtplib"}
	sock := filepath.Join(s.dir, "run", "lmtp")
	for _, tc := range []struct {
		name, where string
		extra       []string
	}{
		{"tcp", s.addr("lmtp"), nil},
		{"unix pipelined", sock, []string{"--pipeline"}},
	} {
		subject := "bare swaks " + tc.name
		res := swaksLMTP(t, tc.where, subject, tc.extra, "demo", "nosuch", "demo+lists")
		wantRcpt := map[string]string{"demo": "250", "nosuch": "550", "demo+lists": "250"}
		wantData := map[string]string{"demo": "250", "demo+lists": "250"}
		if res.exit != 0 || fmt.Sprint(res.rcpt) != fmt.Sprint(wantRcpt) || fmt.Sprint(res.data) != fmt.Sprint(wantData) {
			t.Fatalf("%s: swaks exit %d, RCPT replies %v, data replies %v; want 0, %v and %v\n%s", tc.name, res.exit, res.rcpt, res.data, wantRcpt, wantData, res.out)
		}
		if !strings.Contains(res.out, "<** 550 5.1.1 <nosuch> User doesn't exist") || !strings.Contains(res.out, "<-  250 2.0.0 <demo> ") {
			t.Errorf("%s: replies do not name the recipients as sent\n%s", tc.name, res.out)
		}
		if strings.Contains(res.out, ".invalid") {
			t.Errorf("%s: the stand-in domain reached the client\n%s", tc.name, res.out)
		}
		// One transaction, two recipients that are the same user: one
		// copy each.
		want = append(want, subject, subject)
	}
	if got := allSubjects(t, s, "demo", "INBOX"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("demo's INBOX = %q, want %q", got, want)
	}
	if got := allSubjects(t, s, "alice", "INBOX"); strings.Join(got, "|") != "bare smtplib" {
		t.Errorf("alice's INBOX = %q", got)
	}
}
