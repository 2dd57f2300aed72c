package itest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLogFiles runs the real master with its log in files: errors and
// warnings in log_path, the rest by level in info_log_path and
// debug_log_path (mail_debug), each line stamped with log_timestamp,
// mail_log events from plugin { } for the user's changes (IMAP and
// coteadm alike), and the files reopened after logrotate renames them,
// by `coteadm log reopen` and by SIGUSR1.
func TestLogFiles(t *testing.T) {
	var dir string
	s := startServer(t, serverOpts{edit: func(text string) string {
		m := regexp.MustCompile(`(?m)^base_dir = (.*)/run$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no base_dir in the development default:\n%s", text)
		}
		dir = m[1]
		return text + `
log_path = ` + dir + `/errors.log
info_log_path = ` + dir + `/info.log
debug_log_path = ` + dir + `/debug.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
mail_debug = yes
plugin {
  mail_log_events = save expunge flag_change mailbox_create
  mail_log_fields = uid box flags
}
`
	}})
	errs, info, debug := filepath.Join(dir, "errors.log"), filepath.Join(dir, "info.log"), filepath.Join(dir, "debug.log")
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}
	// waitFor waits for a line matching re in the file p.
	waitFor := func(p, re string) {
		t.Helper()
		rx := regexp.MustCompile(re)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if rx.MatchString(read(p)) {
				return
			}
		}
		t.Fatalf("%s has no line matching %q:\n%s", filepath.Base(p), re, read(p))
	}

	c := login(t, s, "demo")
	appendMsg(t, c, "INBOX", "logged")
	s.ok(t, "mailbox", "create", "-u", "demo", "Logged")
	s.ok(t, "flags", "add", "-u", "demo", `\Flagged`, "mailbox", "INBOX", "all")
	s.ok(t, "expunge", "-u", "demo", "mailbox", "INBOX", "all")

	stamp := `(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d `
	waitFor(info, stamp+`role=imap-login pid=\d+ .*Login: user=<demo>`)
	waitFor(info, stamp+`role=worker pid=\d+ user="demo" .*save.* box=INBOX`)
	waitFor(info, `(?m)^.*user="demo" .*mailbox_create.* box=Logged`)
	waitFor(info, `(?m)^.*user="demo" .*flag_change.*Flagged`)
	waitFor(info, `(?m)^.*user="demo" .*expunge.* box=INBOX`)
	waitFor(debug, stamp+`.*level=DEBUG`)
	if e := read(errs); regexp.MustCompile(`level=(INFO|DEBUG)`).MatchString(e) {
		t.Errorf("log_path has info or debug lines:\n%s", e)
	}
	if i := read(info); strings.Contains(i, "level=DEBUG") {
		t.Errorf("info_log_path has debug lines")
	}

	// logrotate: rename, then reopen by coteadm and by SIGUSR1; the
	// next lines go to a new file under the old name.
	for i, reopen := range []func(){
		func() { s.ok(t, "log", "reopen") },
		func() { s.signal(syscall.SIGUSR1) },
	} {
		must(t, os.Rename(info, info+"."+strconv.Itoa(i+1)))
		reopen()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(info); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("rotation %d: %s not reopened: %v", i+1, info, err)
			}
		}
		appendMsg(t, c, "INBOX", "after rotation "+strconv.Itoa(i+1))
		waitFor(info, stamp+`role=worker pid=\d+ user="demo" .*save.* box=INBOX`)
	}
}
