package mbox

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

// dovecot runs Debian's doveadm with mail_location =
// mbox:~/mail:INBOX=<dir>/spool/%u for the user "test", as nobody.
type dovecot struct {
	t     *testing.T
	conf  string
	home  string
	spool string
}

func newDovecot(t *testing.T) *dovecot {
	t.Helper()
	if _, err := exec.LookPath("doveadm"); err != nil {
		t.Fatalf("doveadm not found (%v): the Dovecot compatibility test needs Debian's dovecot-core", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the Dovecot compatibility test runs doveadm as nobody and needs root (CI runs as root)")
	}
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	d := &dovecot{t: t, conf: filepath.Join(dir, "dovecot.conf"), home: filepath.Join(dir, "home"),
		spool: filepath.Join(dir, "spool")}
	for _, sub := range []string{"run", "state", "home/mail", "spool"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d.spool, "test"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
mail_location = mbox:~/mail:INBOX=%[1]s/spool/%%u
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

func (d *dovecot) chown() {
	d.t.Helper()
	for _, p := range []string{d.home, d.spool} {
		if out, err := exec.Command("chown", "-R", "nobody:nogroup", p).CombinedOutput(); err != nil {
			d.t.Fatalf("chown: %v: %s", err, out)
		}
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

type dmsg struct {
	uid   uint32
	flags []string
	body  string
}

// fetch returns Dovecot's view of a mailbox: UIDs, flags (without
// \Recent) and the text of each message.
func (d *dovecot) fetch(box string) []dmsg {
	d.t.Helper()
	out := d.run("", "-f", "pager", "fetch", "uid flags text", "mailbox", box, "all")
	var msgs []dmsg
	for _, rec := range strings.Split(out, "\f\n") {
		var m dmsg
		sc := bufio.NewScanner(strings.NewReader(rec))
		inText := false
		var text []string
		for sc.Scan() {
			l := sc.Text()
			switch {
			case inText:
				text = append(text, l)
			case strings.HasPrefix(l, "uid: "):
				n, _ := strconv.ParseUint(strings.TrimPrefix(l, "uid: "), 10, 32)
				m.uid = uint32(n)
			case strings.HasPrefix(l, "flags:"):
				for _, f := range strings.Fields(strings.TrimPrefix(l, "flags:")) {
					if f != storage.FlagRecent {
						m.flags = append(m.flags, f)
					}
				}
			case strings.HasPrefix(l, "text:"):
				inText = true
			}
		}
		if m.uid != 0 {
			m.body = strings.Join(text, "\n")
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func (d *dovecot) open() storage.Store {
	d.t.Helper()
	s, err := Open(Options{Location: "mbox:~/mail:INBOX=" + d.spool + "/%u", Home: d.home, User: "test", PollInterval: -1})
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}

func sorted(f []string) []string {
	f = slices.Clone(f)
	slices.Sort(f)
	return f
}

// compare checks that cote sees a mailbox as Dovecot does: UIDs, flags
// and message text (Dovecot's "text" is the message with LF endings).
func compare(t *testing.T, when string, d *dovecot, s storage.Store, box string) {
	t.Helper()
	want := d.fetch(box)
	mb, err := s.Open(box, true)
	if err != nil {
		t.Fatalf("%s: Open(%q) = %v", when, box, err)
	}
	defer mb.Close()
	got := mb.Messages()
	if len(got) != len(want) {
		t.Fatalf("%s: %s: cote has %d messages, Dovecot %d (%+v)", when, box, len(got), len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.UID != w.uid || !slices.Equal(sorted(g.Flags), sorted(w.flags)) {
			t.Errorf("%s: %s message %d: cote UID %d flags %v; Dovecot UID %d flags %v", when, box, i+1, g.UID, g.Flags, w.uid, w.flags)
		}
		rc, err := mb.Read(g.UID)
		if err != nil {
			t.Fatalf("%s: Read(%d) = %v", when, g.UID, err)
		}
		buf := new(strings.Builder)
		bufio.NewReader(rc).WriteTo(buf)
		rc.Close()
		text := strings.TrimRight(strings.ReplaceAll(buf.String(), "\r\n", "\n"), "\n")
		if text != strings.TrimRight(w.body, "\n") {
			t.Errorf("%s: %s UID %d text:\ncote    %q\nDovecot %q", when, box, g.UID, text, w.body)
		}
	}
}

// TestDovecotCompat: Dovecot saves messages and flags into mbox files
// (INBOX in the spool, a folder under ~/mail); cote reads the same UIDs,
// flags and texts; cote appends and changes flags, expunges; Dovecot
// reads that back; and the other way again.
func TestDovecotCompat(t *testing.T) {
	d := newDovecot(t)
	d.run("From: a@example.com\nSubject: one\n\nFrom here, unquoted\n>From quoted\nbody\n", "save")
	d.run("From: b@example.com\nSubject: two\n\nsecond\n", "save")
	d.run("From: c@example.com\nSubject: three\n\nthird\n", "save")
	d.run("", "flags", "add", `\Seen $Label1 Work`, "mailbox", "INBOX", "uid", "1")
	d.run("", "flags", "add", `\Answered \Flagged \Deleted`, "mailbox", "INBOX", "uid", "2")
	d.run("", "mailbox", "create", "Lists/Go")
	d.run("Subject: go\n\nnuts\n", "save", "-m", "Lists/Go")
	d.run("", "mailbox", "subscribe", "Lists/Go")

	s := d.open()
	compare(t, "after Dovecot", d, s, "INBOX")
	compare(t, "after Dovecot", d, s, "Lists/Go")
	l, _ := s.List()
	if i := slices.IndexFunc(l, func(x storage.MailboxInfo) bool { return x.Name == "Lists/Go" }); i < 0 || !l[i].Subscribed {
		t.Errorf("List = %+v, want Lists/Go subscribed", l)
	}
	st, _ := s.Status("INBOX")
	if st.Messages != 3 || st.UIDNext != 4 {
		t.Errorf("INBOX status %+v", st)
	}

	// cote changes it.
	_, uid, err := s.Append("INBOX", strings.NewReader("From: d@example.com\r\nSubject: four\r\n\r\nFrom cote\r\n"),
		storage.AppendOptions{Flags: []string{storage.FlagSeen, "Later"}})
	if err != nil || uid != 4 {
		t.Fatalf("Append = %d, %v; want UID 4", uid, err)
	}
	mb, _ := s.Open("INBOX", false)
	if _, err := mb.Store([]uint32{3}, storage.FlagsAdd, []string{storage.FlagFlagged, "Work"}, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := mb.Expunge(nil); err != nil || !slices.Equal(got, []uint32{2}) {
		t.Fatalf("Expunge = %v, %v; want [2]", got, err)
	}
	mb.Close()
	if _, _, err := s.Append("Lists/Go", strings.NewReader("Subject: more\r\n\r\ngophers\r\n"), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	d.chown()
	if os.Getenv("MBOX_DEBUG") != "" {
		data, _ := os.ReadFile(filepath.Join(d.spool, "test"))
		t.Logf("spool after cote:\n%s", data)
	}
	compare(t, "after cote", d, d.open(), "INBOX")
	compare(t, "after cote", d, d.open(), "Lists/Go")
	got := d.fetch("INBOX")
	if len(got) != 3 || got[0].uid != 1 || got[1].uid != 3 || got[2].uid != 4 {
		t.Fatalf("Dovecot after cote: %+v", got)
	}
	if !slices.Equal(sorted(got[2].flags), []string{"Later", `\Seen`}) || !slices.Contains(got[1].flags, `\Flagged`) {
		t.Errorf("Dovecot flags after cote: %+v", got)
	}

	// Dovecot again: a new message gets UID 5, not a reused one.
	d.run("Subject: five\n\nfifth\n", "save")
	d.run("", "flags", "remove", `\Seen`, "mailbox", "INBOX", "uid", "4")
	s = d.open()
	defer s.Close()
	compare(t, "after Dovecot again", d, s, "INBOX")
	out := d.run("", "mailbox", "status", "uidnext", "INBOX")
	if st, _ := s.Status("INBOX"); !strings.Contains(out, "uidnext="+strconv.Itoa(int(st.UIDNext))+"\n") && !strings.HasSuffix(strings.TrimSpace(out), "uidnext="+strconv.Itoa(int(st.UIDNext))) {
		t.Errorf("UIDNEXT after Dovecot's save: cote %d, Dovecot %s", st.UIDNext, out)
	}
}
