package managesievelogin_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The ManageSieve login process links no storage, Sieve, auth server,
// config or worker code: the SIEVE capability comes in Options.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "cote/managesieve-login").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"cote/storage", "cote/imap", "cote/pop3", "cote/auth", "cote/sieve", "cote/config", "cote/worker", "cote/master"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("managesieve-login links %s", dep)
			}
		}
	}
}
