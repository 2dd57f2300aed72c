package maildir

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cote/storage"
)

// dovecot runs Debian's doveadm on a private configuration: mail for the
// user "test" in <home>/Maildir, accessed as nobody (Dovecot refuses
// root). doveadm runs without -u, as the local user of its environment,
// so no auth server is needed.
type dovecot struct {
	t    *testing.T
	conf string
	home string
}

func newDovecot(t *testing.T) *dovecot {
	t.Helper()
	if _, err := exec.LookPath("doveadm"); err != nil {
		t.Fatalf("doveadm not found (%v): the Dovecot compatibility test needs Debian's dovecot-core; run scripts/test-deps.sh", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("the Dovecot compatibility test runs doveadm as nobody and needs root (CI runs as root)")
	}
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // nobody must reach the home
	}
	d := &dovecot{t: t, conf: filepath.Join(dir, "dovecot.conf"), home: filepath.Join(dir, "home")}
	for _, sub := range []string{"run", "state", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
protocols =
ssl = no
`, dir)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.chown()
	return d
}

// chown gives the tree to nobody, as it would belong to the user's uid.
func (d *dovecot) chown() {
	d.t.Helper()
	if out, err := exec.Command("chown", "-R", "nobody:nogroup", d.home).CombinedOutput(); err != nil {
		d.t.Fatalf("chown: %v: %s", err, out)
	}
}

func (d *dovecot) run(stdin string, args ...string) string {
	d.t.Helper()
	cmd := exec.Command("doveadm", append([]string{"-c", d.conf}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+d.home, "USER=test")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("doveadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type dovecotMsg struct {
	uid   uint32
	flags []string // without \Recent
}

// fetch returns Dovecot's UIDs and flags of a mailbox.
func (d *dovecot) fetch(box string) []dovecotMsg {
	out := d.run("", "fetch", "uid flags", "mailbox", box, "all")
	var msgs []dovecotMsg
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if v, ok := strings.CutPrefix(l, "uid: "); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				d.t.Fatalf("doveadm fetch line %q", l)
			}
			msgs = append(msgs, dovecotMsg{uid: uint32(n)})
		} else if v, ok := strings.CutPrefix(l, "flags:"); ok && len(msgs) > 0 {
			for _, f := range strings.Fields(v) {
				if f != storage.FlagRecent {
					msgs[len(msgs)-1].flags = append(msgs[len(msgs)-1].flags, f)
				}
			}
		}
	}
	return msgs
}

// status returns Dovecot's UIDVALIDITY, UIDNEXT and message count.
func (d *dovecot) status(box string) (uidValidity, uidNext, messages uint32) {
	out := d.run("", "mailbox", "status", "uidvalidity uidnext messages", box)
	for _, f := range strings.Fields(out) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			continue
		}
		switch k {
		case "uidvalidity":
			uidValidity = uint32(n)
		case "uidnext":
			uidNext = uint32(n)
		case "messages":
			messages = uint32(n)
		}
	}
	return
}

func compareWithDovecot(t *testing.T, when string, d *dovecot, s storage.Store, box string) {
	t.Helper()
	want := d.fetch(box)
	uv, next, n := d.status(box)
	st, err := s.Status(box)
	if err != nil {
		t.Fatalf("%s: Status(%q) = %v", when, box, err)
	}
	if st.UIDValidity != uv || st.UIDNext != next || st.Messages != n {
		t.Errorf("%s: %s cote UIDVALIDITY %d UIDNEXT %d MESSAGES %d; Dovecot %d %d %d",
			when, box, st.UIDValidity, st.UIDNext, st.Messages, uv, next, n)
	}
	mb, err := s.Open(box, true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	got := mb.Messages()
	if len(got) != len(want) {
		t.Fatalf("%s: %s cote has %d messages %v, Dovecot %d %v", when, box, len(got), got, len(want), want)
	}
	for i, w := range want {
		if got[i].UID != w.uid || !sameSet(got[i].Flags, w.flags) {
			t.Errorf("%s: %s message %d: cote UID %d flags %v; Dovecot UID %d flags %v",
				when, box, i+1, got[i].UID, got[i].Flags, w.uid, w.flags)
		}
	}
}

// TestDovecotCompat builds a Maildir with Debian's Dovecot, opens it with
// cote and compares UIDVALIDITY, UIDs, flags and keywords message by
// message; then changes it with cote and reads it again with Dovecot.
func TestDovecotCompat(t *testing.T) {
	d := newDovecot(t)
	for i := 1; i <= 6; i++ {
		d.run(fmt.Sprintf("From: a@example.com\nSubject: message %d\n\nbody %d\n", i, i), "save", "-m", "INBOX")
	}
	d.run("", "mailbox", "create", "Sent")
	d.run("", "mailbox", "create", "Archive/2024")
	d.run("Subject: sent\n\nsent body\n", "save", "-m", "Sent")
	d.run("Subject: old\n\nold\n", "save", "-m", "Archive/2024")
	d.run("", "flags", "add", `\Seen $Forwarded Work`, "mailbox", "INBOX", "uid", "2")
	d.run("", "flags", "add", `\Flagged \Answered`, "mailbox", "INBOX", "uid", "3")
	d.run("", "flags", "add", `\Deleted $Junk`, "mailbox", "INBOX", "uid", "4")
	d.run("", "flags", "add", `\Draft Work`, "mailbox", "INBOX", "uid", "6")
	d.run("", "flags", "add", `\Seen`, "mailbox", "Sent", "all")
	d.run("", "expunge", "mailbox", "INBOX", "uid", "5")

	root := filepath.Join(d.home, "Maildir")
	s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	for _, box := range []string{"INBOX", "Sent", "Archive/2024"} {
		compareWithDovecot(t, "after Dovecot", d, s, box)
	}

	// Change it with cote: flags and keywords, a new message, an expunge.
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Store([]uint32{1}, storage.FlagsAdd, []string{storage.FlagSeen, "CoteKw"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Store([]uint32{2}, storage.FlagsRemove, []string{"Work"}, 0); err != nil {
		t.Fatal(err)
	}
	if gone, err := mb.Expunge(nil); err != nil || !slices.Equal(gone, []uint32{4}) {
		t.Fatalf("Expunge = %v, %v; want [4]", gone, err)
	}
	mb.Close()
	_, uid, err := s.Append("INBOX", strings.NewReader("Subject: from cote\r\n\r\nhi\r\n"),
		storage.AppendOptions{Flags: []string{storage.FlagFlagged, "$Forwarded"}})
	if err != nil || uid != 7 {
		t.Fatalf("Append = %d, %v; want UID 7", uid, err)
	}
	if _, _, err := s.Append("Sent", strings.NewReader("Subject: sent by cote\r\n\r\nx\r\n"), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Dovecot sees cote's changes, with the same UIDs.
	d.chown()
	s, err = Open(Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, box := range []string{"INBOX", "Sent", "Archive/2024"} {
		compareWithDovecot(t, "after cote", d, s, box)
	}
	got := d.fetch("INBOX")
	want := []dovecotMsg{
		{1, []string{`\Seen`, "CoteKw"}},
		{2, []string{`\Seen`, "$Forwarded"}},
		{3, []string{`\Answered`, `\Flagged`}},
		{6, []string{`\Draft`, "Work"}},
		{7, []string{`\Flagged`, "$Forwarded"}},
	}
	if len(got) != len(want) {
		t.Fatalf("Dovecot after cote: %v, want %v", got, want)
	}
	for i := range want {
		if got[i].uid != want[i].uid || !sameSet(got[i].flags, want[i].flags) {
			t.Errorf("Dovecot after cote: message %d = %v, want %v", i, got[i], want[i])
		}
	}
	if body := d.run("", "fetch", "text", "mailbox", "INBOX", "uid", "7"); !strings.Contains(body, "Subject: from cote") {
		t.Errorf("Dovecot reads cote's message as %q", body)
	}
}
