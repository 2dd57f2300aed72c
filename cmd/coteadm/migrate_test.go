package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateAuthDrivers: a PAM passdb without a service name keeps
// Dovecot's (args = dovecot); one with a service keeps it; the passwd
// userdb is carried; drivers cote's auth process does not serve are left
// out and named, so that the check fails instead of the auth process.
func TestMigrateAuthDrivers(t *testing.T) {
	tests := []struct {
		name, conf string
		code       int
		out, notes []string // substrings of the result and of the notes
		notOut     []string
	}{
		{"pam default service", "passdb {\n  driver = pam\n}\nuserdb {\n  driver = passwd\n}\n", 0,
			[]string{"driver = pam\n  args = dovecot\n}", "driver = passwd\n"}, []string{"dovecot.conf:2: passdb pam: args name the PAM service dovecot"}, nil},
		{"pam session only", "passdb {\n  driver = pam\n  args = session=yes\n}\nuserdb {\n  driver = passwd\n}\n", 0,
			[]string{"args = session=yes dovecot\n"}, []string{"dovecot.conf:4: passdb pam"}, nil},
		{"pam named service", "passdb {\n  driver = pam\n  args = session=yes %s\n}\nuserdb {\n  driver = passwd\n}\n", 0,
			[]string{"args = session=yes %s\n"}, nil, []string{"%s dovecot"}},
		{"unserved", "passdb {\n  driver = checkpassword\n  args = /usr/bin/checkpw\n}\nuserdb {\n  driver = passwd\n}\n", 1,
			nil, []string{"dovecot.conf:2: not carried: passdb { } (cote's configuration knows the passdb driver checkpassword"}, []string{"driver = checkpassword"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dovecot.conf")
			if err := os.WriteFile(path, []byte("ssl = no\n"+tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			out, notes, code := runCmd(t, "", "migrate", "dovecot", path)
			if code != tc.code {
				t.Errorf("migrate dovecot %q: exit %d, want %d\n%s", tc.conf, code, tc.code, notes)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("migrate dovecot %q = %q, want %q in it", tc.conf, out, w)
				}
			}
			for _, w := range tc.notOut {
				if strings.Contains(out, w) {
					t.Errorf("migrate dovecot %q = %q, want no %q", tc.conf, out, w)
				}
			}
			for _, w := range tc.notes {
				if !strings.Contains(notes, w) {
					t.Errorf("migrate dovecot %q notes = %q, want %q in them", tc.conf, notes, w)
				}
			}
		})
	}
}
