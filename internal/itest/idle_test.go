package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// idleWake is how long a client in IDLE may wait for news of a change;
// the issue asks for "within a second", with room for a loaded CI
// machine running the race detector. The measured delays are logged.
const idleWake = 2 * time.Second

// TestIdleWakes: a client in IDLE through the real binary hears of an
// LMTP delivery and of a file another program drops into the Maildir's
// new/ (inotify in the worker), each within idleWake.
func TestIdleWakes(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		exists := make(chan uint32, 10)
		c, err := imapclient.DialInsecure(s.addr("imap"), &imapclient.Options{
			UnilateralDataHandler: &imapclient.UnilateralDataHandler{
				Mailbox: func(d *imapclient.UnilateralDataMailbox) {
					if d.NumMessages != nil {
						exists <- *d.NumMessages
					}
				},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login("demo", "demo").Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		idle, err := c.Idle()
		if err != nil {
			t.Fatal(err)
		}
		wait := func(what string, want uint32, since time.Time) {
			t.Helper()
			deadline := time.After(idleWake)
			for {
				select {
				case n := <-exists:
					if n == want {
						t.Logf("%s: EXISTS %d after %v", what, n, time.Since(since).Round(time.Millisecond))
						return
					}
				case <-deadline:
					t.Fatalf("%s: no EXISTS %d within %v of IDLE", what, want, idleWake)
				}
			}
		}

		start := time.Now()
		if got := lmtpDeliver(t, s.addr("lmtp"), "while idle", "demo@example.org"); got["demo@example.org"] != "250" {
			t.Fatalf("LMTP = %v", got)
		}
		wait("LMTP delivery", 1, start)

		// Another program's delivery: written to tmp/, renamed into new/.
		md := filepath.Join(s.dir, "home", "demo", "Maildir")
		name := fmt.Sprintf("%d.outside.host", time.Now().UnixNano())
		tmp := filepath.Join(md, "tmp", name)
		must(t, os.WriteFile(tmp, []byte("From: x@example.org\r\nSubject: dropped in\r\n\r\nhello\r\n"), 0o600))
		if os.Getuid() == 0 {
			uid := 50100
			if o.asUser {
				uid = unprivUID
			}
			must(t, os.Chown(tmp, uid, uid))
		}
		start = time.Now()
		must(t, os.Rename(tmp, filepath.Join(md, "new", name)))
		wait("file renamed into new/", 2, start)

		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
		if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != "while idle|dropped in" {
			t.Errorf("INBOX = %q", subj)
		}
	})
}

// TestQresyncResync: a client that knew the mailbox at some MODSEQ comes
// back with SELECT (QRESYNC ...) after another session flagged one
// message and expunged another; through the real binary it is told
// exactly that: VANISHED (EARLIER) for the expunged UID and a FETCH with
// the new flags and MODSEQ for the changed one, and nothing for the
// untouched one (RFC 7162 section 3.2.5).
func TestQresyncResync(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := login(t, s, "demo")
	for _, subj := range []string{"one", "two", "three"} {
		appendMsg(t, c, "INBOX", subj)
	}
	c.Logout()

	// The client's first session: it remembers UIDVALIDITY and
	// HIGHESTMODSEQ.
	a := rawDial(t, s.addr("imap"))
	a.send("a LOGIN demo demo\r\n")
	a.expect("a OK")
	a.send("b ENABLE QRESYNC\r\n")
	a.expect("b OK")
	a.send("c SELECT INBOX\r\n")
	uv := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(a.expect("* OK [UIDVALIDITY"))
	hm := regexp.MustCompile(`HIGHESTMODSEQ (\d+)`).FindStringSubmatch(a.expect("* OK [HIGHESTMODSEQ"))
	if uv == nil || hm == nil {
		t.Fatal("SELECT gave no UIDVALIDITY or HIGHESTMODSEQ")
	}
	a.expect("c OK")
	a.send("d LOGOUT\r\n")
	a.expect("d OK")

	// Another session changes the mailbox meanwhile.
	b := rawDial(t, s.addr("imap"))
	b.send("a LOGIN demo demo\r\nb SELECT INBOX\r\n")
	b.expect("b OK")
	b.send("c UID STORE 1 +FLAGS (\\Flagged)\r\n")
	b.expect("c OK")
	b.send("d UID STORE 2 +FLAGS (\\Deleted)\r\n")
	b.expect("d OK")
	b.send("e EXPUNGE\r\n")
	b.expect("e OK")
	b.send("f LOGOUT\r\n")
	b.expect("f OK")

	// The first client comes back.
	r := rawDial(t, s.addr("imap"))
	r.send("a LOGIN demo demo\r\nb ENABLE QRESYNC\r\n")
	r.expect("b OK")
	r.send(fmt.Sprintf("c SELECT INBOX (QRESYNC (%s %s 1:3))\r\n", uv[1], hm[1]))
	var lines []string
	for {
		line := strings.TrimRight(r.expect(""), "\r\n")
		if strings.HasPrefix(line, "c ") {
			if !strings.HasPrefix(line, "c OK") {
				t.Fatalf("SELECT QRESYNC answered %q", line)
			}
			break
		}
		lines = append(lines, line)
	}
	var vanished, fetches []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "* VANISHED"):
			vanished = append(vanished, l)
		case strings.Contains(l, " FETCH "):
			fetches = append(fetches, l)
		}
	}
	if len(vanished) != 1 || vanished[0] != "* VANISHED (EARLIER) 2" {
		t.Errorf("VANISHED lines %q, want [* VANISHED (EARLIER) 2]", vanished)
	}
	if len(fetches) != 1 || !regexp.MustCompile(`^\* 1 FETCH \(.*UID 1\b`).MatchString(fetches[0]) ||
		!strings.Contains(fetches[0], `\Flagged`) || !strings.Contains(fetches[0], "MODSEQ (") {
		t.Errorf("FETCH lines %q, want one for UID 1 with \\Flagged and its MODSEQ", fetches)
	}
	if m := regexp.MustCompile(`MODSEQ \((\d+)\)`).FindStringSubmatch(strings.Join(fetches, " ")); m != nil {
		got, _ := strconv.ParseUint(m[1], 10, 64)
		old, _ := strconv.ParseUint(hm[1], 10, 64)
		if got <= old {
			t.Errorf("the changed message's MODSEQ %d is not above the remembered %d", got, old)
		}
	}
}
