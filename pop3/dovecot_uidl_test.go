package pop3

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cote/storage/maildir"
)

// dovecotPOP3 runs Debian's Dovecot on a private configuration: doveadm
// for saving, and Dovecot's own pop3 binary in its preauthenticated
// standalone mode (the user from $USER, commands on stdin), as nobody.
// It needs root and the dovecot-core and dovecot-pop3d packages.
type dovecotPOP3 struct {
	t    *testing.T
	dir  string
	home string
}

const dovecotPOP3Binary = "/usr/lib/dovecot/pop3"

func newDovecotPOP3(t *testing.T) *dovecotPOP3 {
	t.Helper()
	if _, err := exec.LookPath("doveadm"); err != nil {
		t.Fatalf("doveadm not found (%v): this test needs Debian's dovecot-core", err)
	}
	if _, err := os.Stat(dovecotPOP3Binary); err != nil {
		t.Fatalf("%s not found (%v): this test needs Debian's dovecot-pop3d", dovecotPOP3Binary, err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the Dovecot UIDL test runs Dovecot as nobody and needs root (CI runs as root)")
	}
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // nobody must reach the home
	}
	d := &dovecotPOP3{t: t, dir: dir, home: filepath.Join(dir, "home")}
	for _, sub := range []string{"run", "state", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d.chown()
	return d
}

// conf writes a configuration with the given pop3 settings and returns
// its path.
func (d *dovecotPOP3) conf(uidlFormat string, saveUIDL bool) string {
	d.t.Helper()
	save := "no"
	if saveUIDL {
		save = "yes"
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
protocols = pop3
ssl = no
pop3_uidl_format = %[2]s
pop3_save_uidl = %[3]s
`, d.dir, uidlFormat, save)
	path := filepath.Join(d.dir, "dovecot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return path
}

func (d *dovecotPOP3) chown() {
	d.t.Helper()
	if out, err := exec.Command("chown", "-R", "nobody:nogroup", d.home).CombinedOutput(); err != nil {
		d.t.Fatalf("chown: %v: %s", err, out)
	}
}

func (d *dovecotPOP3) command(name string, stdin string, args ...string) string {
	d.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "HOME="+d.home, "USER=test")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (d *dovecotPOP3) save(msg string) {
	d.t.Helper()
	d.command("doveadm", msg, "-c", d.conf(DefaultUIDLFormat, false), "save")
}

// uidl runs Dovecot's pop3 with the format and returns its UIDL lines
// ("1 <uidl>", ...).
func (d *dovecotPOP3) uidl(format string, saveUIDL bool) []string {
	d.t.Helper()
	out := d.command(dovecotPOP3Binary, "UIDL\r\nQUIT\r\n", "-c", d.conf(format, saveUIDL))
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	// +OK (greeting), +OK, the listing, ".", +OK Logging out.
	start := slices.Index(lines, "+OK")
	end := slices.Index(lines, ".")
	if start < 0 || end < start {
		d.t.Fatalf("Dovecot's pop3 UIDL output:\n%s", out)
	}
	return lines[start+1 : end]
}

func (d *dovecotPOP3) uidlist() string { return filepath.Join(d.home, "Maildir", "dovecot-uidlist") }

// editUidlist changes the records of the uidlist by UID.
func (d *dovecotPOP3) editUidlist(edit func(uid, fields string) string) {
	d.t.Helper()
	data, err := os.ReadFile(d.uidlist())
	if err != nil {
		d.t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines[1:] {
		uid, rest, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		fields, name, _ := strings.Cut(rest, ":")
		lines[i+1] = uid + " " + edit(uid, strings.TrimSpace(fields)) + ":" + name
		lines[i+1] = strings.Replace(lines[i+1], "  :", " :", 1)
	}
	if err := os.WriteFile(d.uidlist(), []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		d.t.Fatal(err)
	}
	d.chown()
}

// coteUIDL opens the Maildir with cote and returns the UIDL listing of a
// pop3 session with the format; the tree is given back to nobody after.
func (d *dovecotPOP3) coteUIDL(format string) []string {
	d.t.Helper()
	defer d.chown()
	st, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: d.home, User: "test", PollInterval: -1})
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	c := start(d.t, Options{Store: st, User: "test", UIDLFormat: format})
	c.want("+OK Logged in.")
	c.send("UIDL").want("+OK")
	got := c.multi()
	c.send("QUIT").wantPrefix("+OK")
	c.wait()
	return got
}

// TestDovecotUIDL: for a Maildir where Dovecot's pop3 saved UIDLs
// (pop3_save_uidl=yes writes dovecot-uidlist P fields), cote's UIDL
// listing equals what Dovecot's pop3 shows, for the stored UIDLs, %f, %g
// (the G field, or the base file name) and the default format.
func TestDovecotUIDL(t *testing.T) {
	d := newDovecotPOP3(t)
	for i := 1; i <= 3; i++ {
		d.save(fmt.Sprintf("From: a@example.com\nSubject: m%d\n\nbody %d\n", i, i))
	}
	// Dovecot's default format, saved as P fields.
	first := d.uidl(DefaultUIDLFormat, true)
	if len(first) != 3 || !regexp.MustCompile(`^1 00000001[0-9a-f]{8}$`).MatchString(first[0]) {
		t.Fatalf("Dovecot's default UIDLs = %q", first)
	}
	for i := 4; i <= 8; i++ {
		d.save(fmt.Sprintf("From: b@example.com\nSubject: m%d\n\nbody %d\n", i, i))
	}
	// %f saved: Dovecot writes an empty P (the UIDL is the file name).
	d.uidl("%f", true)
	d.editUidlist(func(uid, fields string) string {
		switch uid {
		case "6": // a UIDL from elsewhere, e.g. a migration
			return "Pmigrated-uidl-6 "
		case "7": // a message GUID
			return "G0123456789abcdef0123456789abcdef "
		case "8":
			return ""
		}
		return fields + " "
	})
	data, _ := os.ReadFile(d.uidlist())
	t.Logf("dovecot-uidlist:\n%s", data)
	if !strings.Contains(string(data), "4 P :") && !strings.Contains(string(data), " P :") {
		t.Errorf("Dovecot did not save an empty P field for %%f UIDLs:\n%s", data)
	}
	for _, format := range []string{"%g", "%f", "%u.%v"} {
		want := d.uidl(format, false)
		got := d.coteUIDL(format)
		if !slices.Equal(got, want) {
			t.Errorf("pop3_uidl_format=%s: cote UIDL\n%q\nDovecot\n%q", format, got, want)
		}
		if !slices.Equal(got[:3], first) {
			t.Errorf("pop3_uidl_format=%s: stored UIDLs %q, want Dovecot's %q", format, got[:3], first)
		}
	}

	// Without stored UIDLs the formats themselves must agree.
	d.editUidlist(func(uid, fields string) string {
		var keep []string
		for _, f := range strings.Fields(fields) {
			if f[0] != 'P' {
				keep = append(keep, f)
			}
		}
		if len(keep) == 0 {
			return ""
		}
		return strings.Join(keep, " ") + " "
	})
	for _, format := range []string{DefaultUIDLFormat, "%g", "%f", "%08Xv-%Xu"} {
		want := d.uidl(format, false)
		got := d.coteUIDL(format)
		if !slices.Equal(got, want) {
			t.Errorf("pop3_uidl_format=%s without P fields: cote UIDL\n%q\nDovecot\n%q", format, got, want)
		}
	}
	if got := d.coteUIDL(DefaultUIDLFormat); !slices.Equal(got[:3], first) {
		t.Errorf("default-format UIDLs %q, want Dovecot's first ones %q", got[:3], first)
	}
	// cote's own store sees the same UIDs Dovecot gave.
	st, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: d.home, User: "test", PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.chown()
	defer st.Close()
	if s, err := st.Status("INBOX"); err != nil || s.Messages != 8 || s.UIDNext != 9 {
		t.Errorf("Status = %+v, %v; want 8 messages, UIDNEXT 9", s, err)
	}
}
