package itest

import (
	"regexp"
	"testing"
	"time"
)

// TestLoginLogFormatFailed: as in Dovecot, login_log_format shapes every
// login-process line about a client, not only successful logins: the
// failed authentication and the disconnect that follows, with Dovecot's
// "(auth failed, N attempts in N secs)".
func TestLoginLogFormatFailed(t *testing.T) {
	s := startServer(t, serverOpts{})
	rc := rawDial(t, s.addr("imap"))
	rc.send("a LOGIN demo wrong\r\n")
	rc.expect("a NO")
	rc.send("b LOGOUT\r\n")
	rc.expect("b OK")
	rc2 := rawDial(t, s.addr("imap"))
	rc2.c.Close()
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`role=imap-login pid=\d+ level=INFO msg="Authentication failed: user=<demo>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, secured, session=<[^>]+>"`),
		regexp.MustCompile(`role=imap-login pid=\d+ level=INFO msg="Disconnected: Logged out \(auth failed, 1 attempts in \d+ secs\): user=<demo>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, secured, session=<[^>]+>"`),
		regexp.MustCompile(`role=imap-login pid=\d+ level=INFO msg="Disconnected: Connection closed \(no auth attempts in \d+ secs\): user=<>, rip=127\.0\.0\.1, lip=127\.0\.0\.1, secured, session=<[^>]+>"`),
	} {
		deadline := time.Now().Add(10 * time.Second)
		for !re.MatchString(s.log.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("no line matching %s in:\n%s", re, s.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
