package itest

import (
	"regexp"
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
