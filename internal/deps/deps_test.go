// Package deps enforces the dependency direction between cote's packages
// (STYLE.md habit 3): login roles link no storage, mail engine or auth
// server; the master links no protocol engine; proto links only the
// standard library and x/sys.
package deps

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestDependencyDirection(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string // import path prefixes ("cote/auth" matches only itself and its exact subpackages listed)
		onlyAllow []string // when set, every non-standard dependency must have one of these prefixes
	}{
		{pkg: "cote/proto", onlyAllow: []string{"cote/proto", "golang.org/x/sys/"}},
		{pkg: "cote/login", forbidden: []string{"cote/storage", "cote/imap", "cote/auth", "cote/config", "cote/sieve", "cote/worker", "cote/master"}},
		{pkg: "cote/imap-login", forbidden: []string{"cote/storage", "cote/imap", "cote/auth", "cote/config", "cote/sieve", "cote/worker", "cote/master"}},
		{pkg: "cote/master", forbidden: []string{"cote/imap", "cote/login", "cote/imap-login", "cote/storage", "cote/worker", "cote/sieve", "cote/pop3", "cote/lmtp", "github.com/emersion/"}},
		{pkg: "cote/auth/masterclient", forbidden: []string{"cote/auth/passdb", "cote/auth/userdb", "cote/auth/scheme", "cote/storage"}},
		{pkg: "cote/imap", forbidden: []string{"cote/master", "cote/login", "cote/auth"}},
		{pkg: "cote/imap-hibernate", forbidden: []string{"cote/storage", "cote/imap", "cote/auth", "cote/config", "cote/sieve", "cote/worker", "cote/master", "cote/login"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			for _, d := range deps(t, tt.pkg) {
				if d == tt.pkg {
					continue
				}
				for _, f := range tt.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
						t.Errorf("%s depends on %s, which it must not link", tt.pkg, d)
					}
				}
				if tt.onlyAllow != nil {
					ok := false
					for _, a := range tt.onlyAllow {
						if strings.HasPrefix(d, a) {
							ok = true
						}
					}
					if !ok {
						t.Errorf("%s depends on %s; it may link only the standard library and x/sys", tt.pkg, d)
					}
				}
			}
		})
	}
}
