package itest

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeSendmailDir writes a sendmail stand-in that saves each message it
// is given, its arguments first ("ARGS: -i -f ..."), as a file in the
// returned directory.
func fakeSendmailDir(t *testing.T) (prog, out string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cote-sendmail-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	out = filepath.Join(dir, "out")
	must(t, os.Mkdir(out, 0o777))
	must(t, os.Chmod(out, 0o777))
	prog = filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\nf=$(/usr/bin/mktemp " + out + "/mail.XXXXXX)\n{ printf 'ARGS:'; printf ' %s' \"$@\"; printf '\\n'; /usr/bin/cat; } > \"$f\"\n"
	must(t, os.WriteFile(prog, []byte(script), 0o755))
	return prog, out
}

// sentMail returns what the fake sendmail saved, oldest first.
func sentMail(t *testing.T, out string) []string {
	t.Helper()
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	type m struct {
		at   time.Time
		text string
	}
	var ms []m
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := e.Info()
		ms = append(ms, m{info.ModTime(), string(b)})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].at.Before(ms[j].at) })
	var texts []string
	for _, x := range ms {
		texts = append(texts, x.text)
	}
	return texts
}

// activateScript uploads script over ManageSieve as name and activates it.
func activateScript(t *testing.T, s *server, name, script string) {
	t.Helper()
	rc := rawDialNoGreeting(t, s.addr("sieve"))
	rc.expect("OK")
	auth := base64.StdEncoding.EncodeToString([]byte("\x00demo\x00demo"))
	rc.send(`AUTHENTICATE "PLAIN" "` + auth + "\"\r\n")
	rc.expect("OK")
	rc.send(fmt.Sprintf("PUTSCRIPT %q {%d+}\r\n%s\r\n", name, len(script), script))
	if line := rc.expect(""); !strings.HasPrefix(line, "OK") {
		t.Fatalf("PUTSCRIPT %s: %q", name, line)
	}
	rc.send(fmt.Sprintf("SETACTIVE %q\r\n", name))
	if line := rc.expect(""); !strings.HasPrefix(line, "OK") {
		t.Fatalf("SETACTIVE %s: %q", name, line)
	}
	rc.send("LOGOUT\r\n")
	rc.expect("OK")
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deliverOK(t *testing.T, s *server, subject string) {
	t.Helper()
	if got := lmtpDeliver(t, s.addr("lmtp"), subject, "demo@example.org"); got["demo@example.org"] != "250" {
		t.Fatalf("LMTP %q: %v", subject, got)
	}
}

// TestSieveSending runs Sieve's sending actions through the real binary
// with sendmail_path set to a fake sendmail: redirect, vacation (one
// reply per sender), reject (a rejection, nothing stored), and a broken
// script that keeps and writes ~/.sieve.log.
func TestSieveSending(t *testing.T) {
	prog, out := fakeSendmailDir(t)
	s := startServer(t, serverOpts{extra: "sendmail_path = " + prog})
	home := filepath.Join(s.dir, "home", "demo")

	// redirect: the message goes to the fake sendmail, not to INBOX.
	activateScript(t, s, "fwd", "redirect \"fwd@example.net\";\r\n")
	deliverOK(t, s, "to be redirected")
	sent := sentMail(t, out)
	if len(sent) != 1 || !strings.HasPrefix(sent[0], "ARGS: -i -f sender@example.org -- fwd@example.net\n") || !strings.Contains(sent[0], "Subject: to be redirected") {
		t.Fatalf("redirect: sendmail got %q", sent)
	}
	if subj := inboxSubjects(t, s, "demo", "INBOX"); len(subj) != 0 {
		t.Errorf("redirected message also in INBOX: %q", subj)
	}

	// vacation: one reply to the sender for two messages.
	activateScript(t, s, "away", "require \"vacation\";\r\nvacation :days 1 :subject \"Away\" \"I am on holiday.\";\r\n")
	deliverOK(t, s, "first")
	deliverOK(t, s, "second")
	sent = sentMail(t, out)[1:]
	if len(sent) != 1 {
		t.Fatalf("vacation: %d replies, want 1: %q", len(sent), sent)
	}
	for _, want := range []string{"ARGS: -i -f <> -- sender@example.org\n", "Auto-Submitted: auto-replied", "Subject: Away", "From: <demo@example.org>", "I am on holiday."} {
		if !strings.Contains(sent[0], want) {
			t.Errorf("vacation reply lacks %q:\n%s", want, sent[0])
		}
	}
	if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "first|second" {
		t.Errorf("INBOX = %q, want first|second", subj)
	}

	// reject: a rejection to the sender, nothing stored.
	activateScript(t, s, "no", "require \"reject\";\r\nreject \"Not wanted here.\";\r\n")
	deliverOK(t, s, "unwanted")
	sent = sentMail(t, out)[2:]
	if len(sent) != 1 {
		t.Fatalf("reject: %d messages sent, want 1: %q", len(sent), sent)
	}
	for _, want := range []string{"ARGS: -i -f <> -- sender@example.org\n", "Auto-Submitted: auto-replied (rejected)", "Not wanted here.", "Subject: unwanted", "Disposition: automatic-action/MDN-sent-automatically; deleted"} {
		if !strings.Contains(sent[0], want) {
			t.Errorf("rejection lacks %q:\n%s", want, sent[0])
		}
	}
	if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "first|second" {
		t.Errorf("rejected message stored: INBOX = %q", subj)
	}

	// A broken script (written by hand: ManageSieve refuses it) keeps
	// the message and says why in ~/.sieve.log.
	broken := filepath.Join(home, "sieve", "no.sieve")
	must(t, os.WriteFile(broken+".tmp", []byte("if header :contains \"subject\" {\n  frobnicate;\n"), 0o600))
	st, err := os.Stat(home)
	must(t, err)
	uid, gid := fileOwner(st)
	must(t, os.Chown(broken+".tmp", uid, gid))
	must(t, os.Rename(broken+".tmp", broken))
	deliverOK(t, s, "kept anyway")
	if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "first|second|kept anyway" {
		t.Errorf("broken script: INBOX = %q", subj)
	}
	var logText string
	waitFor(t, "~/.sieve.log", func() bool {
		b, _ := os.ReadFile(filepath.Join(home, ".sieve.log"))
		logText = string(b)
		return logText != ""
	})
	if !strings.Contains(logText, "no") || !strings.Contains(logText, "kept") || !strings.Contains(logText, time.Now().UTC().Format("2006-01-02")[:4]) {
		t.Errorf(".sieve.log = %q", logText)
	}
	if n := len(sentMail(t, out)); n != 3 {
		t.Errorf("broken script sent mail: %d messages in all", n)
	}
}

func fileOwner(st os.FileInfo) (uid, gid int) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), int(s.Gid)
	}
	return os.Getuid(), os.Getgid()
}
