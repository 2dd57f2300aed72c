package pkgtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cote/config"
)

// install runs `make install` into a fresh DESTDIR and returns it.
func install(t *testing.T) string {
	t.Helper()
	need(t, "make", "make")
	dest := t.TempDir()
	cmd := exec.Command("make", "-s", "install", "DESTDIR="+dest, "PREFIX=/usr", "BIN="+filepath.Join(dest, ".build"))
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return dest
}

func TestMakeInstallTree(t *testing.T) {
	dest := install(t)
	want := []struct {
		path string
		mode os.FileMode
	}{
		{"usr/sbin/cote", 0o755},
		{"usr/lib/cote/cote-worker", 0o755},
		{"usr/bin/coteadm", 0o755},
		{"usr/lib/systemd/system/cote.service", 0o644},
		{"usr/lib/systemd/system/cote.socket", 0o644},
		{"usr/lib/sysusers.d/cote.conf", 0o644},
		{"usr/lib/tmpfiles.d/cote.conf", 0o644},
		{"etc/logrotate.d/cote", 0o644},
		{"etc/cote/cote.conf", 0o644},
		{"etc/cote/conf.d/10-auth.conf", 0o644},
		{"etc/cote/conf.d/10-mail.conf", 0o644},
		{"etc/cote/conf.d/10-master.conf", 0o644},
		{"etc/cote/conf.d/10-ssl.conf", 0o644},
		{"etc/cote/conf.d/20-imap.conf", 0o644},
		{"etc/cote/conf.d/20-pop3.conf", 0o644},
		{"etc/cote/conf.d/20-lmtp.conf", 0o644},
		{"etc/cote/conf.d/auth-passwdfile.conf.ext", 0o644},
		{"etc/cote/cote-ldap.conf.ext", 0o640},
		{"etc/cote/cote-sql.conf.ext", 0o640},
		{"etc/cote/ssl", os.ModeDir | 0o750},
		{"usr/share/man/man1/coteadm.1", 0o644},
		{"usr/share/man/man5/cote.conf.5", 0o644},
		{"usr/share/man/man8/cote.8", 0o644},
		{"usr/share/doc/cote/README.md", 0o644},
		{"usr/share/doc/cote/config.md", 0o644},
		{"usr/share/doc/cote/admin/README.md", 0o644},
		{"usr/share/doc/cote/admin/postfix.md", 0o644},
		{"usr/share/doc/cote/examples/cote.conf", 0o644},
	}
	for _, w := range want {
		st, err := os.Stat(filepath.Join(dest, w.path))
		if err != nil {
			t.Errorf("installed tree lacks %s: %v", w.path, err)
			continue
		}
		if got := st.Mode() & (os.ModeDir | os.ModePerm); got != w.mode {
			t.Errorf("%s has mode %v, want %v", w.path, got, w.mode)
		}
	}
	// The man pages under their section directories, as man(1) finds them.
	man := need(t, "man", "man-db")
	r := run(t, "", man, "-M", filepath.Join(dest, "usr/share/man"), "-w", "cote.conf")
	if r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), "man5/cote.conf.5") {
		t.Errorf("man -w cote.conf: %q %q", r.stdout, r.stderr)
	}
	// The installed binaries are the ones that were built.
	if r := run(t, "", filepath.Join(dest, "usr/sbin/cote"), "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "cote ") {
		t.Errorf("installed cote --version: %+v", r)
	}
	if r := run(t, "", filepath.Join(dest, "usr/bin/coteadm"), "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "coteadm ") {
		t.Errorf("installed coteadm --version: %+v", r)
	}
	// cote-worker is where cote looks for it, from the same build.
	cote := run(t, "", filepath.Join(dest, "usr/sbin/cote"), "-identity")
	worker := run(t, "", filepath.Join(dest, "usr/lib/cote/cote-worker"), "-identity")
	if cote.code != 0 || worker.code != 0 || len(cote.stdout) < 64 || worker.stdout != cote.stdout {
		t.Errorf("installed cote -identity %+v, cote-worker -identity %+v: want the same", cote, worker)
	}
	if data, err := os.ReadFile(filepath.Join(dest, "usr/lib/cote/cote-worker")); err != nil || bytes.Contains(data, []byte("/lib64/ld-linux")) {
		t.Errorf("installed cote-worker is not linked statically (err %v)", err)
	}
	// Units name the binaries where PREFIX put them.
	unit, _ := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/cote.service"))
	for _, s := range []string{"ExecStart=/usr/sbin/cote -c /etc/cote/cote.conf", "ExecStartPre=/usr/bin/coteadm config -c /etc/cote/cote.conf", "Type=notify"} {
		if !strings.Contains(string(unit), s) {
			t.Errorf("installed cote.service lacks %q", s)
		}
	}
}

// TestMakeInstallKeepsConfig checks that installing over an installation
// keeps the administrator's configuration files.
func TestMakeInstallKeepsConfig(t *testing.T) {
	dest := install(t)
	conf := filepath.Join(dest, "etc/cote/conf.d/10-mail.conf")
	if err := os.WriteFile(conf, []byte("mail_location = maildir:/srv/mail/%u\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "install", "DESTDIR="+dest, "PREFIX=/usr", "BIN="+filepath.Join(dest, ".build"))
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("second make install: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(conf); string(b) != "mail_location = maildir:/srv/mail/%u\n" {
		t.Errorf("make install overwrote %s: %q", conf, b)
	}
	if !strings.Contains(string(out), "keeping existing") {
		t.Errorf("make install did not say it kept files:\n%s", out)
	}
}

// installedConfig installs, moves the installed /etc/cote tree's paths
// into the temporary root and gives it a certificate, and returns the
// path of its cote.conf.
func installedConfig(t *testing.T) (dest, conf string) {
	t.Helper()
	dest = install(t)
	etc := filepath.Join(dest, "etc/cote")
	rewriteTree(t, etc, "/etc/cote", etc)
	writeCert(t, filepath.Join(etc, "ssl/cert.pem"), filepath.Join(etc, "ssl/key.pem"))
	return dest, filepath.Join(etc, "cote.conf")
}

func TestInstalledConfigParses(t *testing.T) {
	dest, conf := installedConfig(t)
	if _, err := config.ParseFile(conf); err != nil {
		t.Fatalf("installed configuration does not parse: %v", err)
	}
	if r := run(t, "", filepath.Join(dest, "usr/bin/coteadm"), "config", "-c", conf); r.code != 0 {
		t.Errorf("coteadm config -c %s: exit %d: %s", conf, r.code, r.stderr)
	}
	r := cote(t, "-c", conf, "-n")
	if r.code != 0 {
		t.Fatalf("cote -c %s -n: exit %d: %s", conf, r.code, r.stderr)
	}
	for _, want := range []string{"protocols = imap pop3 lmtp", "driver = passwd-file", "default_login_user = cotenull", `mailbox "Sent Messages" {`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cote -n of the installed configuration lacks %q:\n%s", want, r.stdout)
		}
	}
	// Each example auth include parses in place of the passwd-file one.
	auth := filepath.Join(filepath.Dir(conf), "conf.d/10-auth.conf")
	orig, err := os.ReadFile(auth)
	if err != nil {
		t.Fatal(err)
	}
	exts, _ := filepath.Glob(filepath.Join(filepath.Dir(conf), "conf.d/auth-*.conf.ext"))
	if len(exts) < 5 {
		t.Errorf("only %d auth-*.conf.ext files installed", len(exts))
	}
	for _, ext := range exts {
		name := filepath.Base(ext)
		t.Run(name, func(t *testing.T) {
			text := strings.Replace(string(orig), "!include auth-passwdfile.conf.ext", "!include "+name, 1)
			if name == "auth-static.conf.ext" {
				// A userdb alone: its passwords come from another passdb.
				text += "!include auth-passwdfile.conf.ext\n"
			}
			if err := os.WriteFile(auth, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(auth, orig, 0o644)
			if _, err := config.ParseFile(conf); err != nil {
				t.Errorf("configuration with %s does not parse: %v", name, err)
			}
		})
	}
}

// TestSystemdUnits runs systemd-analyze verify on the installed units,
// with their binaries pointed into the temporary root, and checks the
// sysusers.d and tmpfiles.d files with systemd's own tools.
func TestSystemdUnits(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	dest := install(t)
	units := t.TempDir()
	for _, u := range []string{"cote.service", "cote.socket"} {
		b, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer("/usr/sbin/cote", filepath.Join(dest, "usr/sbin/cote"),
			"/usr/bin/coteadm", filepath.Join(dest, "usr/bin/coteadm")).Replace(string(b))
		if err := os.WriteFile(filepath.Join(units, u), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(analyze, "verify", filepath.Join(units, "cote.service"), filepath.Join(units, "cote.socket"))
	// verify also checks that the Documentation= man pages exist.
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dest, "usr/share/man"), "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if r := run(t, "", need(t, "systemd-sysusers", "systemd"), "--root="+root, filepath.Join(dest, "usr/lib/sysusers.d/cote.conf")); r.code != 0 {
		t.Errorf("systemd-sysusers: %+v", r)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	for _, u := range []string{"cote:", "cotenull:", "coteauth:"} {
		if !strings.Contains(string(passwd), "\n"+u) && !strings.HasPrefix(string(passwd), u) {
			t.Errorf("sysusers.d file does not create %s\n%s", strings.TrimSuffix(u, ":"), passwd)
		}
	}
	if r := run(t, "", need(t, "systemd-tmpfiles", "systemd"), "--root="+root, "--create", filepath.Join(dest, "usr/lib/tmpfiles.d/cote.conf")); r.code != 0 {
		t.Errorf("systemd-tmpfiles: %+v", r)
	}
	for _, d := range []string{"run/cote/empty", "var/lib/cote", "var/log/cote"} {
		if st, err := os.Stat(filepath.Join(root, d)); err != nil || !st.IsDir() {
			t.Errorf("tmpfiles.d file does not create /%s: %v", d, err)
		}
	}
}

func TestLogrotate(t *testing.T) {
	lr := need(t, "logrotate", "logrotate")
	dest := install(t)
	state := filepath.Join(t.TempDir(), "state")
	r := run(t, "", lr, "--debug", "--state", state, filepath.Join(dest, "etc/logrotate.d/cote"))
	if r.code != 0 || strings.Contains(r.stderr, "error") {
		t.Errorf("logrotate --debug: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestCoteManCoversFlags checks that cote(8) documents every flag the cote
// binary has (the page is written by hand in the generator, unlike
// cote.conf(5)).
func TestCoteManCoversFlags(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(repo, "packaging/man/cote.8"))
	if err != nil {
		t.Fatal(err)
	}
	r := cote(t, "-h")
	flags := regexp.MustCompile(`(?m)^  -(\w+)`).FindAllStringSubmatch(r.stdout+r.stderr, -1)
	if len(flags) < 4 {
		t.Fatalf("cote -h lists %d flags:\n%s%s", len(flags), r.stdout, r.stderr)
	}
	for _, f := range flags {
		roff := `\fB\-` + f[1] + `\fR`
		if len(f[1]) > 1 {
			roff = `\fB\-\-` + f[1] + `\fR`
		}
		if !strings.Contains(string(page), roff) {
			t.Errorf("cote(8) does not document -%s", f[1])
		}
	}
}
