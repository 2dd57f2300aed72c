package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// appendFull appends a message with flags and an internal date.
func appendFull(t *testing.T, c *imapclient.Client, mailbox, msg string, date time.Time, flags ...imap.Flag) {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), &imap.AppendOptions{Flags: flags, Time: date})
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND to %s: %v", mailbox, err)
	}
}

// mailView is what coteadm fetch shows of one message.
type mailView struct{ flags, date, text string }

// mailboxView fetches flags, received date and text of every message
// of a mailbox, by subject; flags are sorted, without \Recent.
func (s *server) mailboxView(t *testing.T, user, mailbox string) map[string]mailView {
	t.Helper()
	out := map[string]mailView{}
	for _, r := range s.records(t, "fetch", "-u", user, "subject flags date text", "mailbox", mailbox, "all") {
		f := slices.DeleteFunc(strings.Fields(r["flags"]), func(f string) bool { return f == `\Recent` })
		slices.Sort(f)
		out[r["subject"]] = mailView{strings.Join(f, " "), r["date"], r["text"]}
	}
	return out
}

// xferDir makes a directory every user's worker may write in.
func xferDir(t *testing.T, s *server, name string) string {
	t.Helper()
	dir := filepath.Join(s.dir, name)
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.Chmod(dir, 0o1777))
	return dir
}

// TestCoteadmMbox: coteadm export writes the user's mail into one mbox
// file (From_ lines with the received dates, >From quoting, Status,
// X-Status and X-Keywords), and coteadm import reads it back with the
// same bytes, flags, keywords and dates; an mbox Dovecot wrote (doveadm
// import of a Maildir into mail_location = mbox) imports with Dovecot's
// flags, keywords and dates; -A exports and imports a file per user; a
// Maildir import with -m DEST gathers every folder into DEST.
func TestCoteadmMbox(t *testing.T) {
	s := startServer(t, serverOpts{users: map[string]int{"alice": 1}})
	uid, _ := strconv.Atoi(fieldMap(s.records(t, "user", "demo"))["uid"])
	xfer := xferDir(t, s, "xfer")

	c := login(t, s, "demo")
	d1 := time.Date(2019, 2, 3, 4, 5, 6, 0, time.UTC)
	d2 := time.Date(2020, 7, 8, 9, 10, 11, 0, time.FixedZone("", 2*3600))
	appendFull(t, c, "INBOX", "From: a@example.org\r\nSubject: one\r\n\r\nFrom the start\r\n>From quoted\r\nend\r\n", d1,
		imap.FlagSeen, "$Important")
	appendFull(t, c, "INBOX", "Return-Path: <b@example.org>\r\nSubject: two\r\n\r\nplain\r\n", d2,
		imap.FlagAnswered, imap.FlagFlagged, imap.FlagDraft)
	s.ok(t, "mailbox", "create", "-u", "demo", "Work")
	appendFull(t, c, "Work", "Subject: three\r\n\r\nno final newline", d1, "todo")
	before := s.mailboxView(t, "demo", "INBOX")
	for k, v := range s.mailboxView(t, "demo", "Work") {
		before[k] = v
	}

	// export: one file, the mailboxes -m names.
	file := filepath.Join(xfer, "demo.mbox")
	e := s.records(t, "export", "-u", "demo", "-m", "INBOX", "-m", "Work", "mbox:"+file)
	if len(e) != 2 || e[0]["mailbox"] != "INBOX" || e[0]["messages"] != "2" || e[1]["messages"] != "1" {
		t.Errorf("export mbox = %v, want INBOX 2 and Work 1", e)
	}
	data, err := os.ReadFile(file)
	must(t, err)
	for _, want := range []string{"From MAILER-DAEMON  ", "\n>From the start\n>>From quoted\n", "\nX-Keywords: $Important\n",
		"\nX-Status: AFT\n", "\nStatus: RO\n", "From b@example.org  ", "\nX-IMAPbase: ", "\nContent-Length: 6\n\nplain\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("exported mbox lacks %q:\n%s", want, data)
		}
	}
	if !strings.HasPrefix(string(data), "From ") || strings.Contains(string(data), "\r") {
		t.Errorf("exported mbox does not start with a From_ line or has CRs:\n%s", data)
	}
	s.exits(t, 1, "export", "-u", "demo", "mbox:"+file) // never overwritten

	// import: the export back into another mailbox, the same.
	imp := s.records(t, "import", "-u", "demo", "-m", "Restored", "mbox:"+file)
	if len(imp) != 1 || imp[0]["mailbox"] != "Restored" || imp[0]["messages"] != "3" {
		t.Errorf("import mbox = %v, want Restored 3", imp)
	}
	after := s.mailboxView(t, "demo", "Restored")
	if len(after) != 3 {
		t.Fatalf("Restored has %v", after)
	}
	for subj, want := range before {
		if got := after[subj]; got != want {
			t.Errorf("message %q after export and import = %+v, want %+v", subj, got, want)
		}
	}
	s.exits(t, 1, "import", "-u", "demo", "mbox:"+filepath.Join(xfer, "nosuch.mbox"))

	// A Maildir import with -m: every folder's messages into one mailbox.
	s.ok(t, "export", "-u", "demo", "-m", "INBOX", "-m", "Work", "maildir:"+filepath.Join(xfer, "md"))
	s.ok(t, "import", "-u", "demo", "-m", "Flat", "maildir:"+filepath.Join(xfer, "md"), "all")
	if flat := s.mailboxView(t, "demo", "Flat"); len(flat) != 3 || flat["three"] != before["three"] {
		t.Errorf("Flat after import -m of a Maildir = %v", flat)
	}

	t.Run("dovecot", func(t *testing.T) { importDovecotMbox(t, s, uid, file, before) })

	// -A: a file per user by %u, and back.
	a := login(t, s, "alice")
	appendFull(t, a, "INBOX", "Subject: alice's\r\n\r\nhers\r\n", d2, imap.FlagSeen)
	all := s.records(t, "export", "-A", "mbox:"+filepath.Join(xfer, "all-%u.mbox"), "mailbox", "INBOX")
	if users := column(all, "username"); !slices.Contains(users, "demo") || !slices.Contains(users, "alice") {
		t.Errorf("export -A = %v", all)
	}
	for _, u := range []string{"demo", "alice"} {
		if _, err := os.Stat(filepath.Join(xfer, "all-"+u+".mbox")); err != nil {
			t.Errorf("export -A: %v", err)
		}
	}
	s.ok(t, "import", "-A", "-m", "Again", "mbox:"+filepath.Join(xfer, "all-%u.mbox"))
	if got := s.mailboxView(t, "alice", "Again"); got["alice's"].flags != `\Seen` || len(got) != 1 {
		t.Errorf("alice's Again after import -A = %v", got)
	}
	if got := s.messages(t, "demo", "Again"); got != "2" {
		t.Errorf("demo's Again has %s messages after import -A, want 2", got)
	}
}

// importDovecotMbox has Debian's doveadm write an mbox (a Maildir with
// flags and old file times imported into mail_location = mbox, a
// keyword added, a message with From_ lines saved) as the user, and
// imports Dovecot's INBOX file into cote.
//
// It then has Dovecot read the file cote exported (exported, with the
// view cote had of its messages): the same flags, keywords and dates.
func importDovecotMbox(t *testing.T, s *server, uid int, exported string, view map[string]mailView) {
	requireRoot(t, "doveadm as the mail user")
	doveadm := requireProgram(t, "doveadm", "dovecot-core")
	dir := filepath.Join(s.dir, "dovecot")
	for _, sub := range []string{"run", "state", "home/mail"} {
		must(t, os.MkdirAll(filepath.Join(dir, sub), 0o755))
	}
	old := time.Date(2018, 6, 1, 8, 30, 0, 0, time.UTC)
	maildir := filepath.Join(dir, "Maildir")
	writeMaildirMsg(t, maildir, "1527841800.M1P1.host", "FS", "From: x@example.org\nSubject: old one\n\nold mail\n", old, uid)
	writeMaildirMsg(t, maildir, "1527841801.M2P1.host", "R", "Subject: old two\n\nreplied\n", old.Add(time.Hour), uid)
	conf := filepath.Join(dir, "dovecot.conf")
	must(t, os.WriteFile(conf, fmt.Appendf(nil, `base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
first_valid_uid = 1
mail_uid = %[2]d
mail_gid = %[2]d
mail_location = mbox:~/mail:INBOX=~/mail/inbox
namespace inbox {
  inbox = yes
  separator = /
}
protocols =
ssl = no
`, dir, uid), 0o644))
	chownTree(t, filepath.Join(dir, "home"), uid)
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(doveadm, append([]string{"-c", conf}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"), "USER=demo")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("doveadm %s: %v\n%s\n%s", strings.Join(args, " "), err, out, log)
		}
		return string(out)
	}
	run("", "import", "maildir:"+maildir, "", "all")
	run("", "flags", "add", "$Label1 Work", "mailbox", "INBOX", "SUBJECT", "old one")
	run("Subject: saved\n\nFrom the middle\n>From quoted\n", "save")
	inbox := filepath.Join(dir, "home/mail/inbox")
	data, err := os.ReadFile(inbox)
	must(t, err)
	if !strings.Contains(string(data), "X-IMAPbase:") || !strings.Contains(string(data), "X-Keywords: $Label1 Work") {
		t.Fatalf("Dovecot's mbox lacks its headers:\n%s", data)
	}

	imp := s.records(t, "import", "-u", "demo", "-m", "FromDovecot", "mbox:"+inbox)
	if len(imp) != 1 || imp[0]["messages"] != "3" {
		t.Fatalf("import of Dovecot's mbox = %v, want 3 messages", imp)
	}
	got := s.mailboxView(t, "demo", "FromDovecot")
	want := map[string]mailView{
		"old one": {flags: `$Label1 Work \Flagged \Seen`, date: old.Format(time.RFC3339), text: "From: x@example.org\r\nSubject: old one\r\n\r\nold mail\r\n"},
		"old two": {flags: `\Answered`, date: old.Add(time.Hour).Format(time.RFC3339), text: "Subject: old two\r\n\r\nreplied\r\n"},
	}
	for subj, w := range want {
		g := got[subj]
		gd, _ := time.Parse(time.RFC3339, g.date)
		wd, _ := time.Parse(time.RFC3339, w.date)
		if g.flags != w.flags || !gd.Equal(wd) || g.text != w.text {
			t.Errorf("%q from Dovecot's mbox = %+v, want %+v", subj, g, w)
		}
	}
	// Dovecot does not quote From_ lines in what it saves: it finds the
	// end by Content-Length, and so does the import.
	if g := got["saved"]; g.text != "Subject: saved\r\n\r\nFrom the middle\r\n>From quoted\r\n" {
		t.Errorf("saved message from Dovecot's mbox = %q", g.text)
	}

	// Dovecot reads cote's export as a folder of its own.
	data, err = os.ReadFile(exported)
	must(t, err)
	folder := filepath.Join(dir, "home/mail/exported")
	must(t, os.WriteFile(folder, data, 0o600))
	must(t, os.Chown(folder, uid, uid))
	out := run("", "-f", "flow", "fetch", "flags date.received hdr.subject", "mailbox", "exported", "all")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// flags=\Seen $Important date.received=2019-02-03 04:05:06 hdr.subject=one
		fl, rest, _ := strings.Cut(strings.TrimPrefix(line, "flags="), " date.received=")
		date, subj, _ := strings.Cut(rest, " hdr.subject=")
		w, ok := view[subj]
		if !ok {
			t.Errorf("Dovecot reads an unknown message from cote's export: %q", line)
			continue
		}
		n++
		f := slices.DeleteFunc(strings.Fields(fl), func(f string) bool { return f == `\Recent` })
		slices.Sort(f)
		wd, _ := time.Parse(time.RFC3339, w.date)
		gd, err := time.ParseInLocation("2006-01-02 15:04:05", date, time.Local)
		if strings.Join(f, " ") != w.flags || err != nil || !gd.Equal(wd) {
			t.Errorf("Dovecot reads %q from cote's export as flags %v date %s (%v); cote had %s %s", subj, f, date, err, w.flags, w.date)
		}
	}
	if n != len(view) {
		t.Errorf("Dovecot reads %d messages from cote's export, want %d:\n%s", n, len(view), out)
	}
}
