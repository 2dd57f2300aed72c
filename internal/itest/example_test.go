package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cote/auth/scheme"
	"cote/master"
)

// TestExampleConfigStarts runs packaging/cote.conf, the example a package
// ships as /etc/cote/cote.conf, with only its paths moved into a temporary
// directory, its ports made free, and its system users given as numeric
// ids (the test does not add users to this machine's database).
func TestExampleConfigStarts(t *testing.T) {
	example, err := os.ReadFile("../../packaging/cote.conf")
	must(t, err)
	dir, err := os.MkdirTemp("", "cote-example-")
	must(t, err)
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, err = master.SetupDev(dir) // certificate and layout only
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(dir, "ssl"), 0o755))

	uid := os.Getuid()
	users := map[string]string{"cote": "#50001", "cotenull": "#50002", "coteauth": "#50003"}
	if uid != 0 {
		for k := range users {
			users[k] = fmt.Sprintf("#%d", uid)
		}
	}
	text := strings.ReplaceAll(string(example), "/etc/cote", dir)
	for name, id := range users {
		text = strings.ReplaceAll(text, "= "+name+"\n", "= "+id+"\n")
	}
	mailUID := 50100
	if uid != 0 {
		mailUID = uid
	}
	text = strings.ReplaceAll(text, "first_valid_uid = 1000", fmt.Sprintf("first_valid_uid = %d", min(mailUID, 1000)))
	imapPort, imapsPort := freePort(t), freePort(t)
	text += fmt.Sprintf(`
listen = 127.0.0.1
base_dir = %s/run
state_dir = %s/state
service imap-login {
  inet_listener imap {
    port = %d
  }
  inet_listener imaps {
    port = %d
  }
}
`, dir, dir, imapPort, imapsPort)
	conf := filepath.Join(dir, "cote.conf")
	must(t, os.WriteFile(conf, []byte(text), 0o644))

	hash, err := scheme.Generate("SHA512-CRYPT", "s3cret")
	must(t, err)
	home := filepath.Join(dir, "home", "mia")
	must(t, os.MkdirAll(home, 0o700))
	if uid == 0 {
		must(t, os.Chown(home, mailUID, mailUID))
	}
	must(t, os.WriteFile(filepath.Join(dir, "users"),
		fmt.Appendf(nil, "mia:%s:%d:%d::%s::\n", hash, mailUID, mailUID, home), 0o644))

	if out, err := exec.Command(binPath, "-c", conf, "-n").CombinedOutput(); err != nil {
		t.Fatalf("cote -n on the example: %v\n%s", err, out)
	}
	s := &server{t: t, dir: dir, conf: conf, log: &syncBuffer{}, ports: map[string]int{"imap": imapPort, "imaps": imapsPort}, uid: uid}
	t.Cleanup(s.stop)
	cmd := exec.Command(binPath, "-c", conf)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	must(t, cmd.Start())
	s.cmd = cmd
	s.waitListening("imap")
	for _, how := range []string{"starttls", "tls"} {
		c := dial(t, s, how)
		if err := c.Login("mia", "s3cret").Wait(); err != nil {
			t.Fatalf("LOGIN over %s with the example config: %v\n%s", how, err, s.log.String())
		}
		appendMsg(t, c, "INBOX", "example config")
		c.Logout().Wait()
	}
}
