package itest

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestNamespaceMailboxes: the namespace's mailbox blocks decide what is
// made at login, as in Dovecot. auto = subscribe and auto = create
// mailboxes appear with their special use (subscribed or not); a block
// without auto makes nothing but gives its special use to the mailbox a
// client creates under its name; cote's own default set (Archive, Sent,
// ...) is not added once the config has a namespace.
func TestNamespaceMailboxes(t *testing.T) {
	s := startServer(t, serverOpts{extra: `namespace inbox {
  inbox = yes
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Spam {
    special_use = \Junk
    auto = create
  }
  mailbox "Sent Messages" {
    special_use = \Sent
  }
}
`})
	rc := rawDial(t, s.addr("imap"))
	rc.send("a LOGIN demo demo\r\n")
	if line := rc.expect("a "); !strings.HasPrefix(line, "a OK") {
		t.Fatalf("LOGIN answered %q", line)
	}
	listRe := regexp.MustCompile(`^\* (?:LIST|LSUB) \(([^)]*)\) (?:"[^"]*"|NIL) (.*)\r\n$`)
	list := func(tag, cmd string) map[string][]string {
		t.Helper()
		rc.send(tag + " " + cmd + "\r\n")
		got := map[string][]string{}
		for {
			line := rc.expect("")
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					t.Fatalf("%s answered %q", cmd, line)
				}
				return got
			}
			m := listRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			name := m[2]
			if uq, err := strconv.Unquote(name); err == nil {
				name = uq
			}
			got[name] = strings.Fields(m[1])
		}
	}
	names := func(m map[string][]string) []string {
		var out []string
		for n := range m {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	all := list("b", `LIST "" "*"`)
	if got, want := names(all), []string{"Drafts", "INBOX", "Spam"}; !slices.Equal(got, want) {
		t.Fatalf("mailboxes after the first login %q, want %q", got, want)
	}
	if !slices.Contains(all["Drafts"], `\Drafts`) || !slices.Contains(all["Spam"], `\Junk`) {
		t.Errorf("special use: Drafts %q, Spam %q", all["Drafts"], all["Spam"])
	}
	if got, want := names(list("c", `LSUB "" "*"`)), []string{"Drafts"}; !slices.Equal(got, want) {
		t.Errorf("subscribed %q, want %q (auto = create does not subscribe)", got, want)
	}
	rc.send("d CREATE \"Sent Messages\"\r\n")
	if line := rc.expect("d "); !strings.HasPrefix(line, "d OK") {
		t.Fatalf("CREATE answered %q", line)
	}
	special := list("e", `LIST (SPECIAL-USE) "" "*"`)
	if got, want := names(special), []string{"Drafts", "Sent Messages", "Spam"}; !slices.Equal(got, want) {
		t.Errorf("LIST (SPECIAL-USE) %q, want %q", got, want)
	}
	if !slices.Contains(special["Sent Messages"], `\Sent`) {
		t.Errorf("Sent Messages has %q, want \\Sent from its mailbox block", special["Sent Messages"])
	}
}
