package itest

import (
	"encoding/base64"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestSieveEditheaderRedirect: a script that edits the header
// (editheader, RFC 5293, enabled with sieve_extensions) and then
// redirects and keeps: the redirected copy (through sendmail_path) and
// the stored one both carry the edited header, and the body is intact.
// sieve_before's edits are seen by the user's script; include :global
// reads the sieve_global directory.
func TestSieveEditheaderRedirect(t *testing.T) {
	prog, out := fakeSendmailDir(t)
	global, err := os.MkdirTemp("", "cote-sieve-global-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(global) })
	must(t, os.Chmod(global, 0o755))
	must(t, os.WriteFile(filepath.Join(global, "tag.sieve"), []byte("require \"editheader\";\naddheader \"X-Global\" \"included\";\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(global, "before.sieve"), []byte("require \"editheader\";\naddheader \"X-Before\" \"1\";\n"), 0o644))
	s := startServer(t, serverOpts{extra: "sendmail_path = " + prog + "\nplugin {\n  sieve_extensions = +editheader\n  sieve_global = file:" + global +
		"\n  sieve_before = " + filepath.Join(global, "before.sieve") + "\n  sieve_max_redirects = 7\n}\n"})

	// ManageSieve announces what the settings allow, before login and
	// after.
	rc := rawDialNoGreeting(t, s.addr("sieve"))
	checkCaps := func(when string) {
		t.Helper()
		var sieveCap, redirects string
		for {
			line := strings.TrimRight(rc.expect(""), "\r\n")
			if strings.HasPrefix(line, "OK") {
				break
			}
			if v, ok := strings.CutPrefix(line, `"SIEVE" `); ok {
				sieveCap = v
			}
			if v, ok := strings.CutPrefix(line, `"MAXREDIRECTS" `); ok {
				redirects = v
			}
		}
		if !strings.Contains(sieveCap, "editheader") || redirects != `"7"` {
			t.Errorf("%s: SIEVE %s, MAXREDIRECTS %s; want editheader and \"7\"", when, sieveCap, redirects)
		}
	}
	checkCaps("greeting")
	rc.send(`AUTHENTICATE "PLAIN" "` + base64.StdEncoding.EncodeToString([]byte("\x00demo\x00demo")) + "\"\r\n")
	rc.expect("OK")
	rc.send("CAPABILITY\r\n")
	checkCaps("CAPABILITY after login")
	rc.send("LOGOUT\r\n")
	rc.expect("OK")

	activateScript(t, s, "edit", `require ["editheader", "include", "variables"];
include :global "tag";
if header :is "X-Before" "1" { addheader :last "X-Saw-Before" "yes"; }
deleteheader "X-Secret";
if header :matches "Subject" "*" { deleteheader "Subject"; addheader "Subject" "[fwd] ${1}"; }
redirect "fwd@example.net";
keep;
`)
	got := lmtpDeliver(t, s.addr("lmtp"), "edited", "demo@example.org")
	if got["demo@example.org"] != "250" {
		t.Fatalf("LMTP: %v", got)
	}
	sent := sentMail(t, out)
	if len(sent) != 1 {
		t.Fatalf("sendmail got %d messages, want 1: %q", len(sent), sent)
	}
	head, body, _ := strings.Cut(sent[0], "\r\n\r\n")
	for _, want := range []string{"ARGS: -i -f sender@example.org -- fwd@example.net\n", "X-Global: included", "X-Before: 1", "X-Saw-Before: yes", "Subject: [fwd] edited", "Delivered-To: demo@example.org"} {
		if !strings.Contains(head, want) {
			t.Errorf("redirected header lacks %q:\n%s", want, head)
		}
	}
	if strings.Contains(head, "Subject: edited") || strings.Contains(head, "Return-Path:") {
		t.Errorf("redirected header has the old Subject or a Return-Path:\n%s", head)
	}
	if body != "Delivered over LMTP.\r\n" {
		t.Errorf("redirected body = %q", body)
	}
	if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "[fwd] edited" {
		t.Errorf("INBOX = %q, want the stored copy with the edited Subject", subj)
	}
}

// smtpSink is an SMTP server (go-smtp) that keeps what it is sent: the
// submission_host of a test.
type smtpSink struct {
	mu   sync.Mutex // guards msgs
	msgs []string   // "FROM>TO|data"
}

func (k *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }

type sinkSession struct {
	k        *smtpSink
	from, to string
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, s.from+">"+s.to+"|"+string(b))
	s.k.mu.Unlock()
	return nil
}
func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }

func (k *smtpSink) got() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.msgs...)
}

// TestSieveEditheaderSubmission: the same through submission_host, an
// SMTP server: the redirected message carries the edited header.
func TestSieveEditheaderSubmission(t *testing.T) {
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "submission.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s := startServer(t, serverOpts{extra: "submission_host = " + ln.Addr().String() + "\nplugin {\n  sieve_extensions = +editheader\n}\n"})
	activateScript(t, s, "edit", `require ["editheader"];
redirect "fwd@example.net";
addheader "X-Redirected-By" "cote";
deleteheader "To";
`)
	if got := lmtpDeliver(t, s.addr("lmtp"), "via submission", "demo@example.org"); got["demo@example.org"] != "250" {
		t.Fatalf("LMTP: %v", got)
	}
	var msgs []string
	waitFor(t, "the redirect at the submission host", func() bool { msgs = sink.got(); return len(msgs) > 0 })
	head, body, _ := strings.Cut(msgs[0], "\r\n\r\n")
	if !strings.HasPrefix(head, "sender@example.org>fwd@example.net|X-Redirected-By: cote\r\n") || strings.Contains(head, "\r\nTo:") ||
		!strings.Contains(head, "Subject: via submission") || strings.Contains(head, "Return-Path:") || body != "Delivered over LMTP.\r\n" {
		t.Errorf("redirected through submission_host: %q", msgs[0])
	}
	if subj := inboxSubjects(t, s, "demo", "INBOX"); len(subj) != 0 {
		t.Errorf("redirect without keep stored %q", subj)
	}
}
