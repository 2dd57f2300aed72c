package itest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	coteadmOnce sync.Once
	coteadmPath string
	coteadmErr  error
)

// coteadmBin builds the coteadm binary once, beside cote.
func coteadmBin(t *testing.T) string {
	t.Helper()
	coteadmOnce.Do(func() {
		coteadmPath = filepath.Join(binDir, "coteadm")
		args := []string{"build", "-o", coteadmPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "cote/cmd/coteadm")...).CombinedOutput()
		if err != nil {
			coteadmErr = fmt.Errorf("build coteadm: %v\n%s", err, out)
		}
	})
	if coteadmErr != nil {
		t.Fatal(coteadmErr)
	}
	return coteadmPath
}

// adm is one coteadm run's result.
type adm struct {
	out, errOut string
	code        int
}

// coteadm runs the real coteadm against s's configuration.
func (s *server) coteadm(t *testing.T, stdin string, args ...string) adm {
	t.Helper()
	cmd := exec.Command(coteadmBin(t), append([]string{"-c", s.conf}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	err := cmd.Run()
	r := adm{out: out.String(), errOut: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("coteadm %v: %v", args, err)
	}
	if strings.Contains(r.errOut, "DATA RACE") || strings.Contains(r.errOut, "panic:") {
		t.Errorf("coteadm %v: %s", args, r.errOut)
	}
	return r
}

// ok runs coteadm and fails the test unless it exits 0.
func (s *server) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := s.coteadm(t, "", args...)
	if r.code != 0 {
		t.Fatalf("coteadm %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), r.code, r.errOut, r.out)
	}
	return r.out
}

// exits runs coteadm and checks its exit status.
func (s *server) exits(t *testing.T, code int, args ...string) adm {
	t.Helper()
	r := s.coteadm(t, "", args...)
	if r.code != code {
		t.Errorf("coteadm %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.code, code, r.errOut)
	}
	return r
}

// records runs coteadm with -f json and returns its records.
func (s *server) records(t *testing.T, args ...string) []map[string]string {
	t.Helper()
	out := s.ok(t, append([]string{"-f", "json"}, args...)...)
	var recs []map[string]string
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("coteadm %s: output is not JSON records: %v\n%s", strings.Join(args, " "), err, out)
	}
	return recs
}

func column(recs []map[string]string, field string) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r[field])
	}
	return out
}

func fieldMap(recs []map[string]string) map[string]string {
	m := map[string]string{}
	for _, r := range recs {
		m[r["field"]] = r["value"]
	}
	return m
}

// messages is mailbox status's message count.
func (s *server) messages(t *testing.T, user, mailbox string) string {
	t.Helper()
	recs := s.records(t, "mailbox", "status", "-u", user, "messages", mailbox)
	if len(recs) != 1 {
		t.Fatalf("mailbox status %s = %v", mailbox, recs)
	}
	return recs[0]["messages"]
}

// writeMaildirMsg puts a message file into a Maildir's cur/ with the
// given info flags and modification time, owned by uid.
func writeMaildirMsg(t *testing.T, dir, base, info, body string, mtime time.Time, uid int) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
	}
	p := filepath.Join(dir, "cur", base+":2,"+info)
	must(t, os.WriteFile(p, []byte(body), 0o600))
	must(t, os.Chtimes(p, mtime, mtime))
	if os.Getuid() == 0 {
		chownTree(t, dir, uid)
	}
}

// TestCoteadm runs every coteadm subcommand that talks to a running
// server through the real binaries: the auth lookups, the mail commands
// (in the user's worker, beside a live IMAP session), Sieve, import and
// export, index rebuild, and the process commands.
func TestCoteadm(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.users = map[string]int{"alice": 1}
		s := startServer(t, o)

		// user, auth test, auth lookup, auth cache flush.
		u := fieldMap(s.records(t, "user", "demo"))
		if u["home"] == "" || u["uid"] == "" {
			t.Fatalf("user demo = %v, want home and uid", u)
		}
		uid, _ := strconv.Atoi(u["uid"])
		home := u["home"]
		if out := s.ok(t, "user", "*"); !strings.Contains(out, "demo") || !strings.Contains(out, "alice") {
			t.Errorf("user '*' = %q, want demo and alice", out)
		}
		s.exits(t, 67, "user", "nosuchuser")
		if out := s.ok(t, "auth", "test", "demo", "demo"); !strings.Contains(out, "passdb: demo auth succeeded") {
			t.Errorf("auth test demo demo = %q", out)
		}
		if r := s.exits(t, 77, "auth", "test", "demo", "wrong"); !strings.Contains(r.out, "auth failed") {
			t.Errorf("auth test with a wrong password = %q", r.out)
		}
		if r := s.coteadm(t, "demo\n", "auth", "test", "demo"); r.code != 0 {
			t.Errorf("auth test with the password on stdin: exit %d %q", r.code, r.errOut)
		}
		if recs := s.records(t, "auth", "test", "demo", "demo"); fieldMap(recs)["result"] != "succeeded" {
			t.Errorf("auth test -f json = %v", recs)
		}
		if l := fieldMap(s.records(t, "auth", "lookup", "demo")); l["user"] != "demo" || l["password"] != "" {
			t.Errorf("auth lookup demo = %v (and never a password)", l)
		}
		s.exits(t, 67, "auth", "lookup", "nosuchuser")
		if out := strings.TrimSpace(s.ok(t, "auth", "cache", "flush")); out == "" {
			t.Errorf("auth cache flush printed nothing")
		}
		s.ok(t, "auth", "cache", "flush", "demo")

		// A live session, next to which the mail commands run.
		c := login(t, s, "demo")
		appendMsg(t, c, "INBOX", "hello world")
		appendMsg(t, c, "INBOX", "other")

		// mailbox commands.
		s.ok(t, "mailbox", "create", "-u", "demo", "Projects", "Later")
		if names := column(s.records(t, "mailbox", "list", "-u", "demo"), "mailbox"); !slices.Contains(names, "Projects") || !slices.Contains(names, "Later") {
			t.Errorf("mailbox list = %v", names)
		}
		if got := s.messages(t, "demo", "INBOX"); got != "2" {
			t.Errorf("mailbox status INBOX messages = %s, want 2", got)
		}
		if st := s.records(t, "mailbox", "status", "-u", "demo", "INBOX"); st[0]["uidvalidity"] == "" || st[0]["unseen"] != "0" {
			t.Errorf("mailbox status INBOX (all fields) = %v", st)
		}
		s.exits(t, 68, "mailbox", "status", "-u", "demo", "messages", "NoSuchBox")
		s.ok(t, "mailbox", "rename", "-u", "demo", "Later", "Old")
		s.ok(t, "mailbox", "subscribe", "-u", "demo", "Projects")
		subscribed := func(name string) string {
			for _, r := range s.records(t, "mailbox", "list", "-u", "demo", name) {
				return r["subscribed"]
			}
			return "missing"
		}
		if got := subscribed("Projects"); got != "true" {
			t.Errorf("Projects subscribed = %s after subscribe", got)
		}
		s.ok(t, "mailbox", "unsubscribe", "-u", "demo", "Projects")
		if got := subscribed("Projects"); got != "false" {
			t.Errorf("Projects subscribed = %s after unsubscribe", got)
		}
		s.ok(t, "mailbox", "delete", "-u", "demo", "Old")
		s.exits(t, 68, "mailbox", "delete", "-u", "demo", "Old")
		s.exits(t, 67, "mailbox", "list", "-u", "nosuchuser")

		// search in IMAP SEARCH syntax, with doveadm's date forms.
		hits := s.records(t, "search", "-u", "demo", "mailbox", "INBOX", "SUBJECT", "hello", "SINCE", "1-Jan-2020")
		if len(hits) != 1 || hits[0]["mailbox"] != "INBOX" {
			t.Fatalf("search SUBJECT hello = %v, want one INBOX message", hits)
		}
		helloUID := hits[0]["uid"]
		for _, q := range [][]string{
			{"mailbox", "INBOX", "subject", "hello world", "since", "2020-01-01"},
			{"mailbox", "INBOX", "OR", "SUBJECT", "nomatch", "(", "BODY", "body of hello", "SINCE", "30d", ")"},
			{"SUBJECT", "hello", "NOT", "DELETED"},
		} {
			if got := column(s.records(t, append([]string{"search", "-u", "demo"}, q...)...), "uid"); !slices.Equal(got, []string{helloUID}) {
				t.Errorf("search %v = %v, want [%s]", q, got, helloUID)
			}
		}
		if got := s.records(t, "search", "-u", "demo", "mailbox", "INBOX", "BEFORE", "1-Jan-2020"); len(got) != 0 {
			t.Errorf("search BEFORE 1-Jan-2020 = %v, want none", got)
		}
		if r := s.exits(t, 1, "search", "-u", "demo", "NOSUCHKEY"); !strings.Contains(r.errOut, "search") {
			t.Errorf("search with a bad key: %q", r.errOut)
		}

		// fetch: JSON fields, and the pager layout for multi-line values.
		f := s.records(t, "fetch", "-u", "demo", "uid flags size date subject hdr.subject body", "mailbox", "INBOX", "UID", helloUID)
		if len(f) != 1 || f[0]["subject"] != "hello world" || f[0]["hdr.subject"] != "hello world" ||
			!strings.Contains(f[0]["body"], "body of hello world") || !strings.Contains(f[0]["flags"], `\Seen`) {
			t.Errorf("fetch = %v", f)
		}
		if out := s.ok(t, "fetch", "-u", "demo", "uid hdr", "mailbox", "INBOX", "all"); !strings.Contains(out, "\f\n") || !strings.Contains(out, "Subject: other") {
			t.Errorf("fetch hdr (pager layout) = %q", out)
		}

		// flags.
		flagsOf := func() string {
			return s.records(t, "fetch", "-u", "demo", "flags", "mailbox", "INBOX", "UID", helloUID)[0]["flags"]
		}
		s.ok(t, "flags", "add", "-u", "demo", `\Flagged $Important`, "mailbox", "INBOX", "UID", helloUID)
		if got := flagsOf(); !strings.Contains(got, `\Flagged`) || !strings.Contains(got, "$Important") {
			t.Errorf("flags after add = %q", got)
		}
		s.ok(t, "flags", "remove", "-u", "demo", `\Flagged`, "mailbox", "INBOX", "UID", helloUID)
		if got := flagsOf(); strings.Contains(got, `\Flagged`) {
			t.Errorf("flags after remove = %q", got)
		}
		s.ok(t, "flags", "replace", "-u", "demo", `\Seen $Important`, "mailbox", "INBOX", "UID", helloUID)
		if got := flagsOf(); got != `\Seen $Important` {
			t.Errorf("flags after replace = %q", got)
		}
		// The live session sees it.
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}

		// copy, move, expunge.
		s.ok(t, "copy", "-u", "demo", "Projects", "mailbox", "INBOX", "SUBJECT", "hello")
		s.ok(t, "move", "-u", "demo", "Projects", "mailbox", "INBOX", "SUBJECT", "other")
		if in, pr := s.messages(t, "demo", "INBOX"), s.messages(t, "demo", "Projects"); in != "1" || pr != "2" {
			t.Errorf("after copy and move: INBOX %s, Projects %s; want 1 and 2", in, pr)
		}
		s.exits(t, 68, "copy", "-u", "demo", "NoSuchBox", "all")
		s.exits(t, 2, "expunge", "-u", "demo")
		s.ok(t, "expunge", "-u", "demo", "mailbox", "Projects", "SUBJECT", "other")
		if got := s.messages(t, "demo", "Projects"); got != "1" {
			t.Errorf("Projects after expunge = %s, want 1", got)
		}

		// export: a Maildir the user writes, flags in the file names,
		// keywords in dovecot-keywords, the received date as mtime.
		xfer := filepath.Join(s.dir, "xfer")
		must(t, os.MkdirAll(xfer, 0o755))
		if os.Getuid() == 0 {
			must(t, os.Chown(xfer, uid, uid))
		}
		exp := filepath.Join(xfer, "exp")
		e := s.records(t, "export", "-u", "demo", "maildir:"+exp, "mailbox", "INBOX")
		if len(e) != 1 || e[0]["messages"] != "1" {
			t.Errorf("export = %v", e)
		}
		files, _ := filepath.Glob(filepath.Join(exp, "cur", "*"))
		if len(files) != 1 || !strings.Contains(files[0], ":2,") || !strings.HasSuffix(files[0], "S") && !strings.Contains(files[0][strings.LastIndex(files[0], ":2,"):], "S") {
			t.Errorf("exported files = %v, want one with S in its info", files)
		}
		if kw, err := os.ReadFile(filepath.Join(exp, "dovecot-keywords")); err != nil || !strings.Contains(string(kw), "$Important") {
			t.Errorf("exported dovecot-keywords = %q, %v", kw, err)
		}
		if len(files) == 1 {
			date := s.records(t, "fetch", "-u", "demo", "date", "mailbox", "INBOX", "UID", helloUID)[0]["date"]
			fi, _ := os.Stat(files[0])
			if want, _ := time.Parse(time.RFC3339, date); !fi.ModTime().Truncate(time.Second).Equal(want) {
				t.Errorf("exported mtime %v, want the received date %s", fi.ModTime(), date)
			}
		}
		s.exits(t, 1, "export", "-u", "demo", "mbox:relative.mbox") // mbox: TestCoteadmMbox

		// import: the export back under a parent, and a Maildir made by
		// hand (as Dovecot leaves it) with its flags and dates.
		s.ok(t, "import", "-u", "demo", "maildir:"+exp, "Restored", "all")
		if got := s.records(t, "fetch", "-u", "demo", "flags", "mailbox", "Restored/INBOX", "all"); len(got) != 1 || !strings.Contains(got[0]["flags"], "$Important") || !strings.Contains(got[0]["flags"], `\Seen`) {
			t.Errorf("imported flags = %v", got)
		}
		hand := filepath.Join(xfer, "hand")
		old := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
		writeMaildirMsg(t, hand, "1588334400.M1P1.host", "FS", "From: x@example.org\r\nSubject: from dovecot\r\n\r\nold mail\r\n", old, uid)
		writeMaildirMsg(t, filepath.Join(hand, ".Work"), "1588334401.M2P1.host", "", "Subject: work item\r\n\r\ntodo\r\n", old, uid)
		imp := s.records(t, "import", "-u", "demo", "maildir:"+hand, "", "all")
		if len(imp) != 2 {
			t.Errorf("import = %v, want INBOX and Work", imp)
		}
		got := s.records(t, "fetch", "-u", "demo", "flags date", "mailbox", "INBOX", "SUBJECT", "from dovecot")
		if len(got) != 1 || got[0]["flags"] != `\Flagged \Seen` && got[0]["flags"] != `\Seen \Flagged` {
			t.Errorf("imported message = %v, want flags \\Flagged \\Seen", got)
		} else if d, _ := time.Parse(time.RFC3339, got[0]["date"]); !d.Equal(old) {
			t.Errorf("imported date = %s, want %s", got[0]["date"], old.Format(time.RFC3339))
		}
		if got := s.messages(t, "demo", "Work"); got != "1" {
			t.Errorf("imported Work has %s messages, want 1", got)
		}

		// quota, force-resync: a file dropped into the Maildir by hand.
		q := s.records(t, "quota", "get", "-u", "demo")
		if len(q) != 2 || q[0]["type"] != "STORAGE" || q[0]["value"] == "0" {
			t.Errorf("quota get = %v", q)
		}
		writeMaildirMsg(t, filepath.Join(home, "Maildir"), "1588334402.M3P1.host", "", "Subject: dropped in\r\n\r\nx\r\n", old, uid)
		rs := s.records(t, "force-resync", "-u", "demo", "INBOX")
		if len(rs) != 1 || rs[0]["mailbox"] != "INBOX" {
			t.Errorf("force-resync INBOX = %v", rs)
		}
		if got := s.records(t, "search", "-u", "demo", "mailbox", "INBOX", "SUBJECT", "dropped in"); len(got) != 1 {
			t.Errorf("search after force-resync = %v, want the dropped-in message", got)
		}
		if q2 := s.records(t, "quota", "recalc", "-u", "demo"); q2[1]["value"] == q[1]["value"] {
			t.Errorf("quota recalc MESSAGE = %s, unchanged after a new message", q2[1]["value"])
		}

		// Sieve, as the user, in the store ManageSieve uses.
		script := "require \"fileinto\";\nif header :contains \"subject\" \"report\" { fileinto \"Projects\"; }\n"
		if r := s.coteadm(t, script, "sieve", "put", "-u", "demo", "-a", "main"); r.code != 0 {
			t.Fatalf("sieve put: exit %d %q", r.code, r.errOut)
		}
		if r := s.coteadm(t, "if nonsense {", "sieve", "put", "-u", "demo", "broken"); r.code != 1 {
			t.Errorf("sieve put of a bad script: exit %d, want 1", r.code)
		}
		l := s.records(t, "sieve", "list", "-u", "demo")
		if len(l) != 1 || l[0]["script"] != "main" || l[0]["active"] != "ACTIVE" {
			t.Errorf("sieve list = %v", l)
		}
		if out := s.ok(t, "sieve", "get", "-u", "demo", "main"); !strings.Contains(out, "fileinto") {
			t.Errorf("sieve get = %q", out)
		}
		if link, err := os.Readlink(filepath.Join(home, ".cote.sieve")); err != nil || !strings.Contains(link, "main") {
			t.Errorf("active link = %q, %v", link, err)
		}
		s.ok(t, "sieve", "deactivate", "-u", "demo")
		s.exits(t, 68, "sieve", "activate", "-u", "demo", "nosuch")
		s.ok(t, "sieve", "activate", "-u", "demo", "main")

		// -A and user patterns: every user of the userdb.
		all := s.records(t, "mailbox", "status", "-A", "messages", "INBOX")
		if users := column(all, "username"); !slices.Contains(users, "demo") || !slices.Contains(users, "alice") {
			t.Errorf("mailbox status -A = %v", all)
		}
		if users := column(s.records(t, "mailbox", "list", "-u", "al*", "INBOX"), "username"); !slices.Equal(users, []string{"alice"}) {
			t.Errorf("mailbox list -u 'al*' users = %v", users)
		}
		s.exits(t, 2, "search", "all")

		// Process commands.
		if who := s.records(t, "who"); !slices.Contains(column(who, "user"), "demo") {
			t.Errorf("who = %v", who)
		}
		if st := s.records(t, "stats"); !slices.Contains(column(st, "role"), "auth") {
			t.Errorf("stats = %v", st)
		}
		s.ok(t, "log", "reopen")
		s.ok(t, "reload")
		s.waitListening("imap")
		// index rebuild needs the user's sessions gone.
		s.exits(t, 75, "index", "rebuild", "-u", "demo")
		if k := s.records(t, "kick", "demo"); len(k) != 1 || k[0]["user"] != "demo" {
			t.Errorf("kick demo = %v", k)
		}
		select {
		case <-c.Closed():
		case <-time.After(10 * time.Second):
			t.Errorf("kicked session still open")
		}
		var rb []map[string]string
		for range 50 { // the kicked worker may still be on its way out
			r := s.coteadm(t, "", "-f", "json", "index", "rebuild", "-u", "demo")
			if r.code == 0 {
				json.Unmarshal([]byte(r.out), &rb)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(rb) != 1 || rb[0]["messages"] == "" || rb[0]["messages"] == "0" {
			t.Errorf("index rebuild = %v", rb)
		}
		if got := column(s.records(t, "search", "-u", "demo", "mailbox", "INBOX", "SUBJECT", "hello"), "uid"); !slices.Equal(got, []string{helloUID}) {
			t.Errorf("after index rebuild, search = %v, want the same UID %s", got, helloUID)
		}

		s.ok(t, "stop")
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case <-done:
			s.stopped = true
		case <-time.After(20 * time.Second):
			t.Fatal("coteadm stop returned but the master still runs")
		}
		s.exits(t, 75, "who")
		s.checkLog()
	})
}
