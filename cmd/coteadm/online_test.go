package main

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"cote/admin"
)

func TestPagerLayout(t *testing.T) {
	tb := &table{fields: []string{"uid", "hdr"}, rows: [][]string{
		{"1", "Subject: a\r\nFrom: x\r\n\r\n"},
		{"2", "Subject: b\r\n\r\n"},
	}}
	var b bytes.Buffer
	if err := tb.write(&b, "table"); err != nil {
		t.Fatal(err)
	}
	want := "uid: 1\nhdr:\nSubject: a\nFrom: x\n\n\f\nuid: 2\nhdr:\nSubject: b\n\n"
	if b.String() != want {
		t.Errorf("write(table, multi-line) = %q, want %q", b.String(), want)
	}
}

func TestCodeExit(t *testing.T) {
	for code, want := range map[string]int{admin.CodeNoUser: 67, admin.CodeNotFound: 68, admin.CodeTempFail: 75, "": 1} {
		if got := codeExit(code); got != want {
			t.Errorf("codeExit(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestTargetUsersUsage(t *testing.T) {
	e := newEnv()
	for _, tt := range []struct {
		user string
		all  bool
	}{{"", false}, {"demo", true}} {
		_, _, err := e.targetUsers(tt.user, tt.all)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("targetUsers(%q, %v) = %v, want a usage error", tt.user, tt.all, err)
		}
	}
	if users, multi, err := e.targetUsers("demo", false); err != nil || multi || len(users) != 1 {
		t.Errorf("targetUsers(demo) = %v, %v, %v", users, multi, err)
	}
}

// TestServerNotRunning: an online command without a running server
// exits 75, as doveadm does.
func TestServerNotRunning(t *testing.T) {
	dir := t.TempDir()
	conf := dir + "/cote.conf"
	if err := os.WriteFile(conf, []byte("base_dir = "+dir+"/run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	e := newEnv()
	e.stdout, e.stderr = &out, &errOut
	if code := run([]string{"-c", conf, "who"}, e); code != 75 {
		t.Errorf("who without a server: exit %d (%s), want 75", code, errOut.String())
	}
}
