package itest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestLoginReferral (RFC 2221): a passdb entry with nologin and host=
// (Dovecot's referral fields) sends the client elsewhere with NO
// [REFERRAL url]; imaplib sees the referral in the LOGIN error, and the
// user can log in nowhere here.
func TestLoginReferral(t *testing.T) {
	s := startServer(t, serverOpts{
		users:     map[string]int{"moved": 1},
		userExtra: map[string]string{"moved": "nologin host=imap2.example.org port=1143 reason=Moved"},
	})
	rc := rawDial(t, s.addr("imap"))
	rc.send("a CAPABILITY\r\n")
	if caps := rc.expect("* CAPABILITY"); !strings.Contains(caps, " LOGIN-REFERRALS ") {
		t.Errorf("CAPABILITY %q without LOGIN-REFERRALS", caps)
	}
	rc.send("b LOGIN moved moved\r\n")
	if line := rc.expect("b "); line != "b NO [REFERRAL imap://moved;AUTH=PLAIN@imap2.example.org:1143/] Moved\r\n" {
		t.Errorf("LOGIN answered %q", line)
	}
	rc.send("c LOGIN demo demo\r\n")
	rc.expect("c OK")

	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (make test installs it)")
	}
	script := `
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
try:
    c.login("moved", "moved")
    print("logged in")
except imaplib.IMAP4.error as e:
    print(e)
`
	out, err := exec.Command(py, "-c", script, strconv.Itoa(s.ports["imap"])).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[REFERRAL imap://moved;AUTH=PLAIN@imap2.example.org:1143/] Moved") {
		t.Errorf("imaplib LOGIN: %v\n%s", err, out)
	}
}
