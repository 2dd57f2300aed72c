package itest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// swaksResult is what a swaks LMTP transaction got: the reply code to
// each RCPT, and for each accepted recipient its reply after the data.
type swaksResult struct {
	rcpt, data map[string]string
	exit       int
	out        string
}

var (
	swaksCmd   = regexp.MustCompile(`^ -> (LHLO|EHLO|MAIL FROM|RCPT TO:<([^>]*)>|DATA|QUIT|\d+ lines sent)`)
	swaksReply = regexp.MustCompile(`^<[-*][-* ] (\d{3}) `)
)

// parseSwaks pairs swaks's transcript (run with --suppress-data) command
// by command with the final reply lines. Pipelined commands are printed
// together and their replies after them, in the same order; the end of
// the data gets one reply per accepted recipient (RFC 2033 section 4.2).
func parseSwaks(out string) (swaksResult, error) {
	res := swaksResult{rcpt: map[string]string{}, data: map[string]string{}, out: out}
	type cmd struct{ verb, rcpt string }
	var cmds []cmd
	var replies []string
	for _, line := range strings.Split(out, "\n") {
		if m := swaksCmd.FindStringSubmatch(line); m != nil {
			verb := m[1]
			if m[2] != "" {
				verb = "RCPT"
			} else if strings.HasSuffix(verb, "lines sent") {
				verb = "."
			}
			cmds = append(cmds, cmd{verb, m[2]})
		} else if m := swaksReply.FindStringSubmatch(line); m != nil {
			replies = append(replies, m[1])
		}
	}
	if len(replies) == 0 {
		return res, fmt.Errorf("no greeting")
	}
	replies = replies[1:] // the greeting
	var accepted []string
	next := func() (string, error) {
		if len(replies) == 0 {
			return "", fmt.Errorf("fewer replies than commands")
		}
		r := replies[0]
		replies = replies[1:]
		return r, nil
	}
	for _, c := range cmds {
		switch c.verb {
		case ".":
			for _, r := range accepted {
				code, err := next()
				if err != nil {
					return res, err
				}
				res.data[r] = code
			}
		default:
			code, err := next()
			if err != nil {
				return res, err
			}
			if c.verb == "RCPT" {
				res.rcpt[c.rcpt] = code
				if code[0] == '2' {
					accepted = append(accepted, c.rcpt)
				}
			}
		}
	}
	return res, nil
}

// swaksLMTP runs one LMTP transaction with swaks against where (a TCP
// address, or the path of a Unix socket).
func swaksLMTP(t *testing.T, where, subject string, extra []string, rcpts ...string) swaksResult {
	t.Helper()
	swaks := requireProgram(t, "swaks", "swaks")
	args := []string{"--protocol", "LMTP", "--from", "sender@example.net", "--to", strings.Join(rcpts, ","),
		"--header", "Subject: " + subject, "--suppress-data", "--timeout", "30"}
	if strings.HasPrefix(where, "/") {
		args = append(args, "--socket", where)
	} else {
		args = append(args, "--server", where)
	}
	out, err := exec.Command(swaks, append(args, extra...)...).CombinedOutput()
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("swaks: %v", err)
	}
	res, perr := parseSwaks(string(out))
	if perr != nil {
		t.Fatalf("swaks transcript: %v\n%s", perr, out)
	}
	res.exit = exit
	return res
}

// TestSwaksLMTP delivers with swaks over LMTP on TCP and on the Unix
// socket, with and without PIPELINING: one transaction to three
// recipients, one unknown (550 at RCPT), the others each their own 250
// after the data, and the message in each INBOX over IMAP.
func TestSwaksLMTP(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.users = map[string]int{"alice": 1}
		s := startServer(t, o)
		sock := filepath.Join(s.dir, "run", "lmtp")
		var want []string
		for _, tc := range []struct {
			name, where string
			extra       []string
		}{
			{"tcp", s.addr("lmtp"), nil},
			{"tcp pipelined", s.addr("lmtp"), []string{"--pipeline"}},
			{"unix", sock, nil},
			{"unix pipelined", sock, []string{"--pipeline"}},
		} {
			subject := "swaks " + tc.name
			res := swaksLMTP(t, tc.where, subject, tc.extra, "demo@example.org", "nosuch@example.org", "alice@example.org")
			if res.exit != 0 {
				t.Fatalf("%s: swaks exit %d, want 0 (some recipients accepted)\n%s", tc.name, res.exit, res.out)
			}
			wantRcpt := map[string]string{"demo@example.org": "250", "nosuch@example.org": "550", "alice@example.org": "250"}
			wantData := map[string]string{"demo@example.org": "250", "alice@example.org": "250"}
			if fmt.Sprint(res.rcpt) != fmt.Sprint(wantRcpt) || fmt.Sprint(res.data) != fmt.Sprint(wantData) {
				t.Fatalf("%s: RCPT replies %v, data replies %v; want %v and %v\n%s", tc.name, res.rcpt, res.data, wantRcpt, wantData, res.out)
			}
			if tc.extra != nil && !strings.Contains(res.out, "<-  250-PIPELINING") {
				t.Errorf("%s: LHLO did not offer PIPELINING\n%s", tc.name, res.out)
			}
			want = append(want, subject)
		}
		// Every recipient unknown: swaks gives up after RCPT (exit 24).
		res := swaksLMTP(t, s.addr("lmtp"), "nobody", nil, "nosuch@example.org", "nobody@example.org")
		if res.exit != 24 || res.rcpt["nosuch@example.org"] != "550" || res.rcpt["nobody@example.org"] != "550" {
			t.Errorf("only unknown recipients: exit %d, RCPT replies %v; want exit 24 and 550s\n%s", res.exit, res.rcpt, res.out)
		}
		for _, u := range []string{"demo", "alice"} {
			if got := allSubjects(t, s, u, "INBOX"); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s's INBOX = %q, want %q", u, got, want)
			}
		}
	})
}

// TestLMTPBDAT sends a message in BDAT chunks (RFC 3030), pipelined with
// the envelope as RFC 3030 section 4.2 allows; swaks and smtplib have no
// BDAT, so this speaks the protocol on a raw socket to the real server.
func TestLMTPBDAT(t *testing.T) {
	s := startServer(t, serverOpts{users: map[string]int{"alice": 1}})
	rc := rawDialNoGreeting(t, s.addr("lmtp"))
	rc.expect("220 ")
	rc.send("LHLO client.example\r\n")
	var caps []string
	for {
		line := rc.expect("250")
		caps = append(caps, strings.TrimSpace(line[4:]))
		if line[3] == ' ' {
			break
		}
	}
	if !strings.Contains(strings.Join(caps, "\n"), "CHUNKING") {
		t.Fatalf("LHLO capabilities %q lack CHUNKING", caps)
	}
	chunk1 := "From: sender@example.net\r\nTo: demo@example.org\r\nSubject: in chunks\r\n\r\nfirst chunk, "
	chunk2 := "second chunk.\r\n.a line that would be dot-stuffed in DATA\r\n"
	rc.send("MAIL FROM:<sender@example.net>\r\nRCPT TO:<demo@example.org>\r\nRCPT TO:<nosuch@example.org>\r\nRCPT TO:<alice@example.org>\r\n" +
		fmt.Sprintf("BDAT %d\r\n%s", len(chunk1), chunk1) + fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk2), chunk2))
	var got []string
	for range 7 { // MAIL, 3 RCPT, the first BDAT, then demo and alice
		line := rc.expect("")
		got = append(got, line[:3])
	}
	if want := "250 250 550 250 250 250 250"; strings.Join(got, " ") != want {
		t.Fatalf("replies %q, want %q", strings.Join(got, " "), want)
	}
	rc.send("QUIT\r\n")
	rc.expect("221")
	for _, u := range []string{"demo", "alice"} {
		if subj := allSubjects(t, s, u, "INBOX"); strings.Join(subj, "|") != "in chunks" {
			t.Errorf("%s's INBOX = %q", u, subj)
		}
	}
	// The body arrived byte for byte: a BDAT line starting with "." is
	// not unstuffed.
	c := login(t, s, "demo")
	sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v", err)
	}
	if body := string(msgs[0].FindBodySection(sec)); body != "first chunk, "+chunk2 {
		t.Errorf("body = %q, want %q", body, "first chunk, "+chunk2)
	}
}
