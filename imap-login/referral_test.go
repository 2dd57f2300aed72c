package imaplogin

import (
	"strings"
	"testing"
)

// RFC 2221 section 4.1: a login auth sends elsewhere gets NO [REFERRAL
// url]; LOGIN-REFERRALS is in the capabilities. The URL is Dovecot's:
// imap://destuser;AUTH=mech@host[:port]/.
func TestLoginReferral(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.plain)
	if g := c.expectPrefix("* OK "); !strings.Contains(g, " LOGIN-REFERRALS ") {
		t.Errorf("greeting %q without LOGIN-REFERRALS", g)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"a LOGIN moved p", "a NO [REFERRAL imap://moved;AUTH=PLAIN@imap2.example.org/] Your mail moved."},
		{"b LOGIN moved6 p", "b NO [REFERRAL imap://m%20x%40example.org;AUTH=PLAIN@[2001:db8::1]:1143/] Try this server instead."},
		{"c AUTHENTICATE PLAIN AHJlZgBw", "c NO [REFERRAL imap://ref@imap3.example.org/] Try this server instead."},
		{"d LOGIN badref p", "d NO [AUTHENTICATIONFAILED] Authentication failed."},
	} {
		c.send(tc.cmd + "\r\n")
		c.expect(tc.want)
	}
	// Still not authenticated, and nothing was handed off.
	c.send("e LOGIN u p\r\n")
	if h := e.nextHandoff(); h.msg.Tag != "e" {
		t.Errorf("handoff of tag %q", h.msg.Tag)
	}
}
