package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fetchmailRun runs Debian's fetchmail once against cote's POP3 with the
// given rcfile poll options, delivering into dir/mbox through an mda.
// It returns fetchmail's exit code (0: mail retrieved, 1: none) and its
// verbose transcript.
func fetchmailRun(t *testing.T, dir string, port int, options string) (int, string) {
	t.Helper()
	bin := requireProgram(t, "fetchmail", "fetchmail")
	rc := fmt.Sprintf(`set no bouncemail
set no syslog
poll 127.0.0.1 with proto POP3 port %d uidl
  user "demo" there with password "demo"
  mda "cat >> %s"
  %s
`, port, filepath.Join(dir, "mbox"), options)
	rcfile := filepath.Join(dir, "fetchmailrc")
	must(t, os.WriteFile(rcfile, []byte(rc), 0o600))
	cmd := exec.Command(bin, "-v", "--nodetach", "-f", rcfile, "-i", filepath.Join(dir, "fetchids"))
	cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("fetchmail: %v", err)
	}
	return code, string(out)
}

// mboxSubjects lists the subjects of the messages the mda wrote.
func mboxSubjects(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "mbox"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "Subject: "); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestFetchmail retrieves mail from cote's POP3 with Debian's fetchmail
// over plaintext, STLS and implicit TLS into a file: with keep the
// messages stay and a second run (UIDL-based) fetches nothing new; with
// nokeep they are deleted, as IMAP then shows.
func TestFetchmail(t *testing.T) {
	s := startServer(t, serverOpts{})
	dir := t.TempDir()
	lmtpDeliver(t, s.addr("lmtp"), "fm one", "demo@example.org")
	lmtpDeliver(t, s.addr("lmtp"), "fm two", "demo@example.org")
	step := func(name string, port int, options string, wantCode int, want []string, wantInbox int) string {
		t.Helper()
		code, out := fetchmailRun(t, dir, port, options)
		got := mboxSubjects(t, dir)
		if code != wantCode || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: fetchmail exit %d, file has %q; want exit %d and %q\n%s", name, code, got, wantCode, want, out)
		}
		if n := len(allSubjects(t, s, "demo", "INBOX")); n != wantInbox {
			t.Fatalf("%s: INBOX holds %d messages after fetchmail, want %d\n%s", name, n, wantInbox, out)
		}
		return out
	}
	plain := "sslproto ''"
	stls := "sslproto 'tls1.2+' no sslcertck"
	ssl := "ssl no sslcertck"

	step("plain, keep", s.ports["pop3"], plain+" keep", 0, []string{"fm one", "fm two"}, 2)
	out := step("STLS, keep, again", s.ports["pop3"], stls+" keep", 1, []string{"fm one", "fm two"}, 2)
	if !strings.Contains(out, "POP3> STLS") || !strings.Contains(out, "upgrade to TLS succeeded") {
		t.Errorf("fetchmail with sslproto tls1.2+ did not use STLS:\n%s", out)
	}
	lmtpDeliver(t, s.addr("lmtp"), "fm three", "demo@example.org")
	out = step("implicit TLS, keep, one new", s.ports["pop3s"], ssl+" keep", 0, []string{"fm one", "fm two", "fm three"}, 3)
	if !strings.Contains(out, "SSL/TLS: using protocol") {
		t.Errorf("fetchmail with ssl did not speak TLS:\n%s", out)
	}
	step("plain, nokeep, fetchall", s.ports["pop3"], plain+" nokeep fetchall", 0,
		[]string{"fm one", "fm two", "fm three", "fm one", "fm two", "fm three"}, 0)
	step("plain, after nokeep", s.ports["pop3"], plain+" keep fetchall", 1,
		[]string{"fm one", "fm two", "fm three", "fm one", "fm two", "fm three"}, 0)
}
