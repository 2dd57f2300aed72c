package lmtp_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The lmtp process never opens a user's mail: it links no storage, no
// worker-side delivery, no Sieve, no protocol engine and not the auth
// server (only its client).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "cote/lmtp").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"cote/storage", "cote/lmtp/deliver", "cote/sieve", "cote/imap", "cote/pop3", "cote/worker", "cote/master", "cote/config", "cote/auth"}
	allowed := map[string]bool{"cote/auth/masterclient": true}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if (dep == f || strings.HasPrefix(dep, f+"/")) && !allowed[dep] {
				t.Errorf("lmtp links %s", dep)
			}
		}
	}
}
