package login_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Login processes link no storage, protocol engine, auth server, sieve
// or config code: they get plain options.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "cote/login", "cote/imap-login").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"cote/storage", "cote/imap", "cote/auth", "cote/sieve", "cote/config", "cote/worker", "cote/master"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("login links %s", dep)
			}
		}
	}
}
