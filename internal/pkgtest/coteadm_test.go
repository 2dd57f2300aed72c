package pkgtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPWDoveadm checks coteadm pw against Dovecot's doveadm pw both ways:
// each verifies what the other hashed.
func TestPWDoveadm(t *testing.T) {
	doveadm, err := exec.LookPath("doveadm")
	if err != nil {
		t.Fatal("doveadm not installed (scripts/test-deps.sh installs dovecot-core)")
	}
	const pass = "sëcret 42"
	for _, s := range []string{"SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "SSHA512", "PBKDF2", "CRAM-MD5", "SCRAM-SHA-256", "PLAIN-MD5"} {
		t.Run(s, func(t *testing.T) {
			r := coteadm(t, "", "pw", "-s", s, "-p", pass)
			if r.code != 0 {
				t.Fatalf("coteadm pw -s %s: %+v", s, r)
			}
			ours := strings.TrimSpace(r.stdout)
			if d := run(t, "", doveadm, "pw", "-t", ours, "-p", pass); d.code != 0 {
				t.Errorf("doveadm pw -t %q: exit %d %s", ours, d.code, d.stderr)
			}
			if d := run(t, "", doveadm, "pw", "-t", ours, "-p", "wrong"); d.code == 0 {
				t.Errorf("doveadm pw -t %q accepted a wrong password", ours)
			}
			d := run(t, "", doveadm, "pw", "-s", s, "-p", pass)
			if d.code != 0 {
				t.Fatalf("doveadm pw -s %s: %+v", s, d)
			}
			theirs := strings.TrimSpace(d.stdout)
			if r := coteadm(t, "", "pw", "-t", theirs, "-p", pass); r.code != 0 || r.stdout != theirs+" (verified)\n" {
				t.Errorf("coteadm pw -t %q: %+v", theirs, r)
			}
			if r := coteadm(t, "", "pw", "-t", theirs, "-p", "wrong"); r.code != 1 {
				t.Errorf("coteadm pw -t %q with a wrong password: exit %d, want 1", theirs, r.code)
			}
		})
	}
	// The password from standard input, as a script gives it.
	r := coteadm(t, pass+"\n", "pw", "-s", "SHA512-CRYPT")
	if d := run(t, "", doveadm, "pw", "-t", strings.TrimSpace(r.stdout), "-p", pass); r.code != 0 || d.code != 0 {
		t.Errorf("coteadm pw with the password on stdin: %+v; doveadm: %+v", r, d)
	}
}

func TestConfigSubcommand(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	good := filepath.Join(dir, "cote.conf")
	os.WriteFile(good, []byte(`protocols = imap
ssl_cert = <cert.pem
ssl_key = <key.pem
!include_try conf.d/*.conf
`), 0o644)
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf.d/auth.conf"), []byte(`passdb {
  driver = passwd-file
  args = `+dir+`/users
}
userdb {
  driver = passwd-file
  args = `+dir+`/users
}
`), 0o644)
	if r := coteadm(t, "", "config", "-c", good); r.code != 0 || r.stdout != good+": ok\n" {
		t.Errorf("coteadm config (good): %+v", r)
	}
	// -n and -a print what cote -n and cote -a print.
	for _, flag := range []string{"-n", "-a"} {
		ours, theirs := coteadm(t, "", "-c", good, "config", flag), cote(t, "-c", good, flag)
		if ours.code != 0 || theirs.code != 0 || ours.stdout != theirs.stdout {
			t.Errorf("coteadm config %s and cote %s differ:\n%+v\n%+v", flag, flag, ours, theirs)
		}
		if !strings.Contains(ours.stdout, "ssl_key = <"+filepath.Join(dir, "key.pem")) {
			t.Errorf("coteadm config %s prints the key, not its file:\n%s", flag, ours.stdout)
		}
	}
	r := coteadm(t, "", "config", "-c", good, "-f", "json")
	var js map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js["SSLKey"] != "" || js["SSLCert"] == "" {
		t.Errorf("coteadm config -f json: %v (SSLKey %q)", err, js["SSLKey"])
	}

	// A bad file: every error with file and line, exit 1.
	bad := filepath.Join(dir, "conf.d/bad.conf")
	os.WriteFile(bad, []byte("# comment\nfirst_valid_uid = ten\nservice imap-login {\n  procss_limit = 4\n}\n"), 0o644)
	r = coteadm(t, "", "config", "-c", good)
	if r.code != 1 {
		t.Errorf("coteadm config (bad): exit %d, want 1", r.code)
	}
	for _, want := range []string{bad + ":2: first_valid_uid", bad + `:4: unknown setting "procss_limit"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("coteadm config (bad) stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := coteadm(t, "", "config", "-c", good, "-n"); r.code != 1 || r.stderr == "" {
		t.Errorf("coteadm config -n (bad): %+v, want exit 1 with errors", r)
	}
	if r := coteadm(t, "", "config", "-c", filepath.Join(dir, "nosuch.conf")); r.code != 1 || !strings.Contains(r.stderr, "nosuch.conf") {
		t.Errorf("coteadm config (missing): %+v", r)
	}
}

// TestMigrateDebianDovecot translates Debian's default Dovecot
// configuration tree, with a passwd-file setup added as an admin would,
// and checks that cote accepts the result.
func TestMigrateDebianDovecot(t *testing.T) {
	if _, err := os.Stat("/etc/dovecot/dovecot.conf"); err != nil {
		t.Fatalf("Debian's Dovecot configuration is missing (%v): install dovecot-core (sh scripts/test-deps.sh does)", err)
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "dovecot")
	// -R keeps the snakeoil symlinks in private/ as they are (they
	// dangle when ssl-cert is not installed).
	if out, err := exec.Command("cp", "-R", "/etc/dovecot", tree).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc/dovecot: %v\n%s", err, out)
	}
	// passwd-file instead of PAM, Maildir instead of mbox, and a
	// certificate the test made (the snakeoil key is root's only).
	auth := filepath.Join(tree, "conf.d/10-auth.conf")
	b, err := os.ReadFile(auth)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "\n!include auth-system.conf.ext", "\n#!include auth-system.conf.ext", 1)
	text = strings.Replace(text, "#!include auth-passwdfile.conf.ext", "!include auth-passwdfile.conf.ext", 1)
	if text == string(b) {
		t.Fatalf("%s does not look like Debian's", auth)
	}
	os.WriteFile(auth, []byte(text), 0o644)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cert, key)
	rewriteTree(t, filepath.Join(tree, "conf.d"), "</etc/dovecot/private/dovecot.pem", "<"+cert)
	rewriteTree(t, filepath.Join(tree, "conf.d"), "</etc/dovecot/private/dovecot.key", "<"+key)
	os.WriteFile(filepath.Join(tree, "local.conf"), []byte(`mail_location = maildir:~/Maildir
service lmtp {
  unix_listener /var/spool/postfix/private/dovecot-lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
service imap {
  vsz_limit = 1G
}
`), 0o644)

	out := filepath.Join(dir, "cote.conf")
	r := coteadm(t, "", "migrate", "dovecot", "-o", out, tree)
	if r.code != 0 {
		t.Fatalf("coteadm migrate dovecot: exit %d\n%s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Contains(got, []byte("<"+cert)) {
		t.Errorf("migrated configuration lost ssl_cert:\n%s", got)
	}
	// Each protocol package (dovecot-imapd, ...) adds itself in
	// protocols.d; the migrated protocols line names what is installed.
	protos, _ := filepath.Glob("/usr/share/dovecot/protocols.d/*d.protocol")
	for _, p := range protos {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(p), ".protocol"), "d")
		if !regexp.MustCompile(`(?m)^protocols = .*\b` + name + `\b`).Match(got) {
			t.Errorf("migrated configuration does not serve %s (from %s):\n%s", name, p, got)
		}
	}
	for _, want := range []string{
		"driver = passwd-file", "/etc/dovecot/users",
		"mail_location = maildir:~/Maildir", "special_use = \\Sent", "unix_listener /var/spool/postfix/private/dovecot-lmtp {",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("migrated configuration lacks %q:\n%s", want, got)
		}
	}
	for _, want := range []string{"not carried: ssl_dh", "not carried: service imap { }"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("migrate did not say %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "mbox") {
		t.Errorf("migrate warned about mbox although local.conf sets Maildir:\n%s", r.stderr)
	}
	c := cote(t, "-c", out, "-n")
	if c.code != 0 {
		t.Fatalf("cote -c %s -n: exit %d\n%s\n%s", out, c.code, c.stderr, got)
	}
	if !strings.Contains(c.stdout, "args = scheme=CRYPT username_format=%u /etc/dovecot/users") {
		t.Errorf("cote -n of the migrated configuration:\n%s", c.stdout)
	}
}
