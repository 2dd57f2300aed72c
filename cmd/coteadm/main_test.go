package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/auth/scheme"
	"cote/config"
)

var update = flag.Bool("update", false, "rewrite the golden files and man pages")

// runCmd runs coteadm with args and stdin in-process.
func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := newEnv()
	e.stdin, e.stdout, e.stderr = strings.NewReader(stdin), &out, &errb
	e.isTerminal = func() bool { return false }
	code = run(args, e)
	return out.String(), errb.String(), code
}

func TestLookup(t *testing.T) {
	tests := []struct {
		args     []string
		wantName string
		wantRest []string
	}{
		{[]string{"pw", "-s", "PLAIN"}, "pw", []string{"-s", "PLAIN"}},
		{[]string{"migrate", "dovecot", "/etc/dovecot"}, "migrate dovecot", []string{"/etc/dovecot"}},
		{[]string{"migrate"}, "", nil},
		{[]string{"nosuch"}, "", nil},
	}
	for _, tt := range tests {
		c, rest := lookup(tt.args)
		name := ""
		if c != nil {
			name = c.name
		}
		if name != tt.wantName || strings.Join(rest, " ") != strings.Join(tt.wantRest, " ") {
			t.Errorf("lookup(%q) = %q %q, want %q %q", tt.args, name, rest, tt.wantName, tt.wantRest)
		}
	}
}

func TestUsage(t *testing.T) {
	out, _, code := runCmd(t, "", "help")
	if code != 0 {
		t.Fatalf("coteadm help: exit %d", code)
	}
	for _, c := range commands() {
		if got := strings.Contains(out, "  "+c.name+" "); got == c.hidden {
			t.Errorf("coteadm help lists %q: %v, want %v", c.name, got, !c.hidden)
		}
	}
	if _, _, code := runCmd(t, "", "nosuch"); code != 2 {
		t.Errorf("coteadm nosuch: exit %d, want 2", code)
	}
	if _, _, code := runCmd(t, "", "-f", "xml", "pw", "-p", "x"); code != 2 {
		t.Errorf("coteadm -f xml: exit %d, want 2", code)
	}
}

func TestPW(t *testing.T) {
	for _, s := range []string{"SHA512-CRYPT", "BLF-CRYPT", "ARGON2ID", "SSHA256", "PLAIN", "CRAM-MD5", "SCRAM-SHA-256", "SHA256.hex"} {
		t.Run(s, func(t *testing.T) {
			out, errOut, code := runCmd(t, "", "pw", "-s", s, "-p", "sécret pass")
			if code != 0 {
				t.Fatalf("pw -s %s: exit %d: %s", s, code, errOut)
			}
			hash := strings.TrimSpace(out)
			if !strings.HasPrefix(hash, "{"+strings.ToUpper(s)+"}") {
				t.Fatalf("pw -s %s = %q, want a {%s} prefix", s, hash, s)
			}
			if ok, err := scheme.Verify(hash, "sécret pass", "PLAIN"); !ok || err != nil {
				t.Errorf("Verify(%q) = %v, %v, want true", hash, ok, err)
			}
			out, _, code = runCmd(t, "", "pw", "-t", hash, "-p", "sécret pass")
			if code != 0 || out != hash+" (verified)\n" {
				t.Errorf("pw -t: exit %d, %q", code, out)
			}
			if _, errOut, code := runCmd(t, "", "pw", "-t", hash, "-p", "wrong"); code != 1 || !strings.Contains(errOut, "mismatch") {
				t.Errorf("pw -t with a wrong password: exit %d, %q; want 1 and a mismatch", code, errOut)
			}
		})
	}
}

func TestPWStdinAndFormats(t *testing.T) {
	out, _, code := runCmd(t, "from stdin\n", "pw", "-s", "PLAIN")
	if code != 0 || out != "{PLAIN}from stdin\n" {
		t.Errorf("pw from stdin: exit %d, %q", code, out)
	}
	out, _, _ = runCmd(t, "", "-f", "json", "pw", "-s", "PLAIN", "-p", "x")
	var js []map[string]string
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 1 || js[0]["hash"] != "{PLAIN}x" {
		t.Errorf("pw -f json = %q (%v)", out, err)
	}
	out, _, _ = runCmd(t, "", "pw", "-s", "PLAIN", "-p", "a b", "-f", "flow")
	if out != "hash=\"{PLAIN}a b\"\n" {
		t.Errorf("pw -f flow = %q", out)
	}
	out, _, _ = runCmd(t, "", "pw", "-l")
	if !strings.Contains(out, "SHA512-CRYPT") {
		t.Errorf("pw -l = %q", out)
	}
	if _, _, code := runCmd(t, "", "pw", "-s", "NOSUCH", "-p", "x"); code != 2 {
		t.Errorf("pw -s NOSUCH: exit %d, want 2", code)
	}
}

func TestConfigCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte("ssl = no\nprotocols = imap\npassdb {\n  driver = static\n}\nuserdb {\n  driver = static\n  args = uid=#5000 gid=#5000\n}\n"), 0o644)
	out, errOut, code := runCmd(t, "", "config", "-c", good)
	if code != 0 || out != good+": ok\n" {
		t.Errorf("config (good): exit %d, %q %q", code, out, errOut)
	}
	out, _, code = runCmd(t, "", "-c", good, "config", "-n")
	s, _ := config.ParseFile(good)
	var want bytes.Buffer
	s.WriteNonDefault(&want)
	if code != 0 || out != want.String() {
		t.Errorf("config -n = %q, want %q", out, want.String())
	}
	out, _, _ = runCmd(t, "", "config", "-a", "-c", good)
	if !strings.Contains(out, "first_valid_uid = 500\n") {
		t.Errorf("config -a lacks defaults: %q", out)
	}
	out, _, _ = runCmd(t, "", "config", "-c", good, "-f", "json")
	var js map[string]any
	if err := json.Unmarshal([]byte(out), &js); err != nil || js["SSL"] != "no" {
		t.Errorf("config -f json: %v, %.200q", err, out)
	}

	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("ssl = no\n\nmail_locaton = maildir:~/Maildir\n"), 0o644)
	out, errOut, code = runCmd(t, "", "config", "-c", bad)
	if code != 1 || out != "" || !strings.Contains(errOut, bad+`:3: unknown setting "mail_locaton"`) {
		t.Errorf("config (bad): exit %d, stdout %q, stderr %q; want 1 and %s:3", code, out, errOut, bad)
	}
	if _, _, code := runCmd(t, "", "config", "-c", filepath.Join(dir, "missing.conf")); code != 1 {
		t.Errorf("config (missing file): exit %d, want 1", code)
	}
	if _, _, code := runCmd(t, "", "config", "-n", "-a"); code != 2 {
		t.Errorf("config -n -a: exit %d, want 2", code)
	}
}

func TestMigrateDovecotGolden(t *testing.T) {
	out, errOut, code := runCmd(t, "", "migrate", "dovecot", "testdata/dovecot")
	if code != 0 {
		t.Fatalf("migrate dovecot: exit %d\n%s", code, errOut)
	}
	got := "=== stdout\n" + out + "=== stderr\n" + errOut
	golden := "testdata/dovecot.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("migrate dovecot output differs from %s (go test ./cmd/coteadm -run Golden -update):\n%s", golden, got)
	}
	if _, err := config.ParseString("migrated", out); err != nil {
		t.Errorf("migrated configuration does not parse: %v", err)
	}
	for _, want := range []string{
		"default_login_user = cotenull", "user = coteauth", "protocols = imap pop3",
		"mail_plugins = quota imap_quota", `mailbox "Sent Messages" {`, "port = 1143",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("migrated configuration lacks %q", want)
		}
	}
	for _, want := range []string{
		"10-master.conf:9: not carried: chroot", "10-master.conf:12: not carried: service imap { }",
		"not carried: protocol submission", "20-imap.conf:5: not carried: protocol lda { }",
		"local.conf:2: not carried: ssl_dh", "local.conf:4: not carried: local 192.0.2.1 { }",
		"local.conf:10: not carried: director_servers", `mail_max_userip_connections = lots (cote refuses it`,
		"/etc/dovecot", "20-imap.conf:5",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("migrate notes lack %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "indexer-worker") || strings.Contains(errOut, "auth-worker") {
		t.Errorf("migrate noted an empty block:\n%s", errOut)
	}
}

// TestManCurrent checks that the committed man pages are what gen-man
// writes now: from the command table, and from the settings reference
// that config's TestDocsCurrent keeps in step with config's defaults table.
func TestManCurrent(t *testing.T) {
	pages, err := manPages("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range pages {
		path := filepath.Join("../../packaging/man", name)
		got, err := os.ReadFile(path)
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil || string(got) != want {
			t.Errorf("%s is out of date (%v); run: go run ./cmd/coteadm gen-man", path, err)
		}
	}
}

func TestManCoversSettings(t *testing.T) {
	pages, err := manPages("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	page := pages["cote.conf.5"]
	for _, key := range []string{"mail_location", "ssl_cert", "first_valid_uid", "process_min_avail", "special_use", "result_success"} {
		if !strings.Contains(page, ".B "+escape(key)+"\n") {
			t.Errorf("cote.conf(5) lacks %s", key)
		}
	}
	for _, c := range commands() {
		if !c.hidden && !strings.Contains(pages["coteadm.1"], ".SS "+escape(c.name)) {
			t.Errorf("coteadm(1) lacks %s", c.name)
		}
	}
}
