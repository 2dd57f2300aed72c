package master

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	tm := time.Date(2026, time.March, 5, 7, 8, 9, 123456789, time.FixedZone("CET", 3600))
	for _, c := range []struct{ format, want string }{
		{"%b %d %H:%M:%S ", "Mar 05 07:08:09 "},
		{"%Y-%m-%d %H:%M:%S.%f", "2026-03-05 07:08:09.123456"},
		{"%e|%y|%z|%Z", " 5|26|+0100|CET"},
		{"%s", "1772690889"},
		{"%a %A %B %j %p %T %F", "Thu Thursday March 064 AM 07:08:09 2026-03-05"},
		{"100%% %q %", "100% %q %"},
		{"", ""},
	} {
		if got := strftime(c.format, tm); got != c.want {
			t.Errorf("strftime(%q) = %q, want %q", c.format, got, c.want)
		}
	}
}

func TestLogTimestamp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cote.log")
	s, err := newLogSinkPaths(path, "", "", "mail")
	if err != nil {
		t.Fatal(err)
	}
	p := linePrefix("imap", 7, "demo")
	s.line(p, []byte(`level=INFO msg=rfc3339`))
	s.setTimestamp("%b %d %H:%M:%S ")
	s.line(p, []byte(`level=INFO msg=dovecot`))
	s.Write([]byte("goroutine 1 [running]:\n"))
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("log:\n%s", b)
	}
	if !regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\S+ role=imap pid=7 user="demo" level=INFO msg=rfc3339$`).MatchString(lines[0]) {
		t.Errorf("empty log_timestamp: %q", lines[0])
	}
	if !regexp.MustCompile(`^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d role=imap pid=7 user="demo" level=INFO msg=dovecot$`).MatchString(lines[1]) {
		t.Errorf("log_timestamp %%b %%d %%H:%%M:%%S: %q", lines[1])
	}
	if lines[2] != "goroutine 1 [running]:" {
		t.Errorf("unstamped output: %q", lines[2])
	}
}
