package itest

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoginLogFormat: a login is logged by login_log_format (Dovecot's
// default), every line stamped by log_timestamp (Dovecot's default).
func TestLoginLogFormat(t *testing.T) {
	s := startServer(t, serverOpts{})
	login(t, s, "demo")
	re := regexp.MustCompile(`(?m)^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d role=imap-login pid=\d+ level=INFO msg="Login: user=<demo>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=\d+, secured, session=<[^>]+>"`)
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(s.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no login_log_format line in:\n%s", s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSessionLogLines: a session is logged in two lines, as Dovecot logs
// it: the login process's Login line, and the worker's line at its end
// with the bytes the worker read from the client and wrote to it.
func TestSessionLogLines(t *testing.T) {
	s := startServer(t, serverOpts{})
	rc := rawDial(t, s.addr("imap"))
	rc.send("a LOGIN demo demo\r\n")
	// The worker answers the LOGIN, and reads and writes all after.
	ok := rc.expect("a OK")
	sent := "b NOOP\r\nc LOGOUT\r\n"
	rc.send(sent)
	rc.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := io.ReadAll(rc.r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "c OK") {
		t.Fatalf("LOGOUT answered %q", got)
	}
	session := regexp.MustCompile(`msg="Login: user=<demo>,.* session=<([^>]+)>"`)
	end := regexp.MustCompile(`(?m)^.* role=worker .*msg=disconnected session=(\S+) remote=\S+ in=(\d+) out=(\d+)$`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := s.log.String()
		login := session.FindStringSubmatch(log)
		ends := end.FindAllStringSubmatch(log, -1)
		if login != nil && len(ends) > 0 {
			if len(ends) != 1 || ends[0][1] != login[1] {
				t.Fatalf("want one end line for session %s, got %q in:\n%s", login[1], ends, log)
			}
			if want := []string{strconv.Itoa(len(sent)), strconv.Itoa(len(ok) + len(got))}; ends[0][2] != want[0] || ends[0][3] != want[1] {
				t.Errorf("end line says in=%s out=%s, the client sent %s bytes and read %s from the LOGIN's OK on", ends[0][2], ends[0][3], want[0], want[1])
			}
			if n := strings.Count(log, "session="+login[1]+" "); n != 2 {
				t.Errorf("%d lines for the session, want 2 (Login and its end):\n%s", n, log)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Login and end line in:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLMTPLogLines: a stored copy is logged in one line, by the worker
// that stored it, with the recipient and the mailboxes; a recipient
// refused after DATA is logged by the lmtp process with its reply.
func TestLMTPLogLines(t *testing.T) {
	s := startServer(t, serverOpts{users: map[string]int{"tight": 1}, userExtra: map[string]string{"tight": "userdb_quota_rule=*:storage=1K"}})
	big := "big " + strings.Repeat("x", 2000)
	got := lmtpDeliver(t, s.addr("lmtp"), big, "demo@example.org", "tight@example.org")
	if got["demo@example.org"] != "250" || got["tight@example.org"] != "552" {
		t.Fatalf("replies %v, want 250 for demo and 552 for tight", got)
	}
	saved := regexp.MustCompile(`(?m)^.* role=worker .*msg=saved .*session=\S+ rcpt=demo@example\.org mailboxes=\[INBOX\] size=\d+$`)
	refused := regexp.MustCompile(`(?m)^.* role=lmtp .*msg="not delivered" .*rcpt=tight@example\.org .*reply="552 5\.2\.2 `)
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := s.log.String()
		if m := saved.FindAllString(log, -1); len(m) > 0 && refused.MatchString(log) {
			if n := strings.Count(log, "rcpt=demo@example.org "); len(m) != 1 || n != 1 {
				t.Errorf("%d saved lines and %d lines naming the recipient for one stored copy, want 1 of each:\n%s", len(m), n, log)
			}
			if strings.Contains(log, "msg=delivered") {
				t.Errorf("a delivered line at the info level:\n%s", log)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no saved line for demo and not-delivered line for tight in:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
