package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pamWrapperLibs finds pam_wrapper (Debian's libpam-wrapper).
func pamWrapperLibs(t *testing.T) (lib, matrix string) {
	t.Helper()
	for _, d := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"} {
		l, m := filepath.Join(d, "libpam_wrapper.so"), filepath.Join(d, "pam_wrapper", "pam_matrix.so")
		if _, err := os.Stat(l); err == nil {
			if _, err := os.Stat(m); err == nil {
				return l, m
			}
		}
	}
	t.Fatal("libpam_wrapper.so and pam_matrix.so not found: install Debian's libpam-wrapper (scripts/test-deps.sh does)")
	return "", ""
}

// TestPAMLogin logs in through a PAM passdb in the real server: the auth
// process (root, as PAM needs) runs the PAM stack of service "cote"
// through pam_wrapper and pam_matrix.
func TestPAMLogin(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test needs root (CI runs as root)")
	}
	lib, matrix := pamWrapperLibs(t)
	// pam_wrapper, preloaded into every child, copies the service
	// directory when the child starts, and children other than auth
	// start as their own uids.
	dir := sharedTempDir(t)
	svc := filepath.Join(dir, "pam.d")
	must(t, os.Mkdir(svc, 0o755))
	db := filepath.Join(dir, "matrix")
	must(t, os.WriteFile(db, []byte("demo:pam-Secret:cote\n"), 0o600))
	var stack strings.Builder
	for _, kind := range []string{"auth", "account"} {
		fmt.Fprintf(&stack, "%s required %s passdb=%s\n", kind, matrix, db)
	}
	must(t, os.WriteFile(filepath.Join(svc, "cote"), []byte(stack.String()), 0o644))
	s := startServer(t, serverOpts{edit: func(conf string) string {
		// Replace the passwd-file passdb with PAM; keep its userdb.
		i := strings.Index(conf, "passdb {")
		j := i + strings.Index(conf[i:], "}")
		return conf[:i] + "passdb {\n  driver = pam\n  args = cote\n}" + conf[j+1:] +
			fmt.Sprintf("\nimport_environment = TZ LD_PRELOAD=%s PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=%s\n", lib, svc)
	}})
	c := dial(t, s, "plain")
	if err := c.Login("demo", "pam-Secret").Wait(); err != nil {
		t.Fatalf("LOGIN through PAM: %v\n%s", err, s.log.String())
	}
	c.Logout()
	rc := rawDial(t, s.addr("imap"))
	rc.send("a LOGIN demo demo\r\n")
	if line := rc.expect("a "); !strings.HasPrefix(line, "a NO [AUTHENTICATIONFAILED]") {
		t.Errorf("wrong password through PAM: %q", line)
	}
	if !strings.Contains(s.log.String(), "auth process runs as root: passdb pam") {
		t.Errorf("the master did not say why auth runs as root")
	}
}
