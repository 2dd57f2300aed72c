package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docExample is one ```conf block of the documentation.
type docExample struct {
	name string // file:line
	text string
}

// docExamples returns the configuration examples the admin guide shows:
// every ```conf block of docs/admin and every ```conf complete block of
// docs (the same set internal/pkgtest parses).
func docExamples(t *testing.T) []docExample {
	t.Helper()
	admin, _ := filepath.Glob("../../docs/admin/*.md")
	others, _ := filepath.Glob("../../docs/*.md")
	var out []docExample
	for _, f := range append(admin, others...) {
		b, err := os.ReadFile(f)
		must(t, err)
		inAdmin := filepath.Base(filepath.Dir(f)) == "admin"
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			tag := strings.TrimSpace(lines[i])
			if tag != "```conf complete" && (tag != "```conf" || !inAdmin) {
				continue
			}
			start := i + 1
			var block []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				block = append(block, lines[i])
			}
			out = append(out, docExample{filepath.Base(f) + ":" + strconv.Itoa(start), strings.Join(block, "\n") + "\n"})
		}
	}
	return out
}

// TestDocsExamplesStart starts the real cote with each configuration
// example of the admin guide added to the development default (free
// ports, a temporary directory), and logs in over IMAP with it. Only the
// machine's places are moved: /etc/cote, Postfix's spool, /var/vmail and
// the certificate paths into the test's directory; the LDAP and SQL
// examples' files get a server address nothing listens on (the auth
// process connects when a lookup needs it).
func TestDocsExamplesStart(t *testing.T) {
	examples := docExamples(t)
	if len(examples) < 10 {
		t.Fatalf("found only %d configuration examples", len(examples))
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			var conf string
			s := startServer(t, serverOpts{edit: func(text string) string {
				m := regexp.MustCompile(`(?m)^base_dir = (.*)/run$`).FindStringSubmatch(text)
				if m == nil {
					t.Fatalf("no base_dir in the development default:\n%s", text)
				}
				conf = placeExample(t, m[1], ex.text)
				return text + "\n# " + ex.name + "\n" + conf
			}})
			if out, err := exec.Command(binPath, "-c", s.conf, "-n").CombinedOutput(); err != nil {
				t.Fatalf("cote -n with %s: %v\n%s\n%s", ex.name, err, out, conf)
			}
			c := dial(t, s, "plain")
			if err := c.Login("demo", "demo").Wait(); err != nil {
				t.Fatalf("LOGIN with %s: %v\n%s", ex.name, err, conf)
			}
			appendMsg(t, c, "INBOX", "docs example")
			c.Logout().Wait()
		})
	}
}

// placeExample moves an example's paths into dir and makes the files it
// names.
func placeExample(t *testing.T, dir, text string) string {
	t.Helper()
	cert, key := filepath.Join(dir, "ssl/cert.pem"), filepath.Join(dir, "ssl/key.pem")
	for _, d := range []string{"etc", "postfix", "vmail"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	text = strings.NewReplacer(
		"/etc/cote/users", filepath.Join(dir, "users"),
		"/etc/cote/ssl/client-ca.pem", cert,
		"/etc/cote/", filepath.Join(dir, "etc")+"/",
		"/var/spool/postfix/private/", filepath.Join(dir, "postfix")+"/",
		"/var/vmail", filepath.Join(dir, "vmail"),
		"/etc/letsencrypt/live/mail.example.com/fullchain.pem", cert,
		"/etc/letsencrypt/live/mail.example.com/privkey.pem", key,
	).Replace(text)
	must(t, os.WriteFile(filepath.Join(dir, "etc/cote-ldap.conf.ext"),
		[]byte("uris = ldap://127.0.0.1:1\nbase = dc=example,dc=org\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "etc/cote-sql.conf.ext"),
		fmt.Appendf(nil, "driver = pgsql\nconnect = host=127.0.0.1 port=1 dbname=mail user=cote\n"+
			"password_query = SELECT password FROM users WHERE userid = '%%u'\n"+
			"user_query = SELECT home, uid, gid FROM users WHERE userid = '%%u'\n"), 0o644))
	return text
}
