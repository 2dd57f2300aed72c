package passwdfile

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cote/auth/varexpand"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want Entry
		skip bool
		err  bool
	}{
		{"", Entry{}, true, false},
		{"# comment", Entry{}, true, false},
		{":x", Entry{}, true, false},
		{"demo", Entry{User: "demo"}, false, false},
		{"demo:{PLAIN}demo", Entry{User: "demo", Password: "{PLAIN}demo"}, false, false},
		{"demo:{PLAIN}demo:1000:1001:Demo User:/home/demo:/bin/sh:nodelay userdb_mail=maildir:~/Maildir userdb_quota_rule=*:storage=1G",
			Entry{User: "demo", Password: "{PLAIN}demo", UID: 1000, GID: 1001, Gecos: "Demo User", Home: "/home/demo", Shell: "/bin/sh",
				PassFields: []string{"nodelay"}, UserFields: []string{"mail=maildir:~/Maildir", "quota_rule=*:storage=1G"}}, false, false},
		{"u:p:1:2::/h:::maildir:~/Maildir", Entry{User: "u", Password: "p", UID: 1, GID: 2, Home: "/h", UserFields: []string{"mail=maildir:~/Maildir"}}, false, false},
		{"u:p:root:root::/h", Entry{User: "u", Password: "p", Home: "/h"}, false, false},
		{"u:p:nosuchuser-xyz:1", Entry{}, false, true},
		{"u:p:1:nosuchgroup-xyz", Entry{}, false, true},
		{"u:p:1:1:::: userdb_=x", Entry{}, false, true},
		{"u:p:1:1:::: =x", Entry{}, false, true},
	}
	for _, tt := range tests {
		got, skip, err := ParseLine(tt.line)
		if skip != tt.skip || (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLine(%q) = %+v, %v, %v, want %+v, %v, error %v", tt.line, got, skip, err, tt.want, tt.skip, tt.err)
		}
	}
}

func TestParseArgs(t *testing.T) {
	a, err := ParseArgs("scheme=plain username_format=%Ln /etc/users")
	if err != nil || a != (Args{Scheme: "PLAIN", UsernameFormat: "%Ln", Path: "/etc/users"}) {
		t.Errorf("ParseArgs = %+v, %v", a, err)
	}
	a, err = ParseArgs("/etc/users")
	if err != nil || a != (Args{Scheme: "CRYPT", UsernameFormat: "%u", Path: "/etc/users"}) {
		t.Errorf("ParseArgs = %+v, %v", a, err)
	}
	for _, bad := range []string{"", "scheme=PLAIN", "/a /b", "bogus=1 /a", "username_format=%q /a", "/a/%q"} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("ParseArgs(%q) succeeded, want an error", bad)
		}
	}
}

func write(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestFileReloadAndBadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	t0 := time.Now().Add(-time.Hour)
	write(t, path, "demo:{PLAIN}one:1000:1000\nbad:x:notanumber-nouser:1\ndemo:{PLAIN}dup:1001:1001\nother:{PLAIN}x:1002:1002\n", t0)
	var logs bytes.Buffer
	db, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := db.Lookup(varexpand.Values{User: "demo"})
	if err != nil || e.Password != "{PLAIN}one" || e.UID != 1000 {
		t.Fatalf("Lookup(demo) = %+v, %v", e, err)
	}
	if _, err := db.Lookup(varexpand.Values{User: "other"}); err != nil {
		t.Errorf("Lookup(other) after a bad line = %v", err)
	}
	if _, err := db.Lookup(varexpand.Values{User: "bad"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(bad) = %v, want ErrNotFound", err)
	}
	for _, want := range []string{path, "line=2", "line=3", "duplicate"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// Same size, new mtime: re-read.
	write(t, path, "demo:{PLAIN}two:1000:1000\n", t0.Add(time.Minute))
	if e, err := db.Lookup(varexpand.Values{User: "demo"}); err != nil || e.Password != "{PLAIN}two" {
		t.Errorf("Lookup(demo) after rewrite = %+v, %v", e, err)
	}
	if users, err := db.Users(); err != nil || !reflect.DeepEqual(users, []string{"demo"}) {
		t.Errorf("Users() = %q, %v", users, err)
	}
}

func TestPerDomainPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "example.org"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "example.org", "passwd"), "demo:{PLAIN}x:1:1\n", time.Now())
	db, err := Open("username_format=%n "+dir+"/%d/passwd", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Lookup(varexpand.Values{User: "demo@example.org"}); err != nil {
		t.Errorf("Lookup(demo@example.org) = %v", err)
	}
	if _, err := db.Lookup(varexpand.Values{User: "demo@.."}); err == nil {
		t.Error("Lookup(demo@..) succeeded")
	}
	if _, err := db.Users(); err == nil {
		t.Error("Users() with a variable path succeeded")
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := Open("/nonexistent/users", slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "/nonexistent/users") {
		t.Errorf("Open(missing) = %v, want an error naming the file", err)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("demo:{PLAIN}demo:1000:1000::/home/demo::userdb_mail=maildir:~/Maildir nodelay")
	f.Add("u:p:1:2::/h:::maildir:~/Maildir")
	f.Add("#x")
	f.Fuzz(func(t *testing.T, line string) {
		e, skip, err := ParseLine(line)
		if err == nil && !skip && !strings.HasPrefix(line, e.User) {
			t.Fatalf("ParseLine(%q) user %q", line, e.User)
		}
	})
}
