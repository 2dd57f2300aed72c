package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// devDir makes a --dev directory with the certificate the master would
// create.
func devDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dev dir") // a space, on purpose
	if err := os.MkdirAll(filepath.Join(dir, "ssl"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cert.pem", "key.pem"} {
		writeFiles2(t, filepath.Join(dir, "ssl"), map[string]string{f: readFile(t, filepath.Join("testdata/ssl", f))})
	}
	return dir
}

func TestDevText(t *testing.T) {
	dir := devDir(t)
	tests := []struct {
		name string
		ids  DevIDs
		want map[string]any
	}{
		{"root", DevIDs{Root: true}, map[string]any{
			"internal user": "#50001", "internal group": "#50001", "login user": "#50002", "auth user": "#50003",
			"first uid": 50100, "imap-login user": "#50002", "chroot": "empty", "lmtp user": "#50001",
		}},
		{"user", DevIDs{UID: 1000, GID: 1001}, map[string]any{
			"internal user": "#1000", "internal group": "#1001", "login user": "#1000", "auth user": "#1000",
			"first uid": 1000, "imap-login user": "#1000", "chroot": "", "lmtp user": "#1000",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := DevText(dir, tt.ids)
			s, err := ParseString("dev", text)
			if err != nil {
				t.Fatalf("DevText does not parse: %v\n%s", err, text)
			}
			got := map[string]any{
				"internal user": s.DefaultInternalUser, "internal group": s.DefaultInternalGroup,
				"login user": s.DefaultLoginUser, "auth user": s.Service("auth").User,
				"first uid": s.FirstValidUID, "imap-login user": s.Service("imap-login").User,
				"chroot": s.Service("pop3-login").Chroot, "lmtp user": s.Service("lmtp").User,
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %v, want %v", k, got[k], want)
				}
			}
			ports := map[string]int{}
			for _, svc := range s.Services {
				for _, l := range svc.InetListeners {
					ports[l.Name] = l.Port
					if !strings.HasPrefix(l.Address, "127.0.0.1") {
						t.Errorf("listener %s address %q, want loopback", l.Name, l.Address)
					}
				}
			}
			for name, port := range map[string]int{"imap": 10143, "imaps": 10993, "pop3": 10110, "pop3s": 10995, "sieve": 14190, "lmtp": 10024} {
				if ports[name] != port {
					t.Errorf("port of %s = %d, want %d", name, ports[name], port)
				}
			}
			if s.BaseDir != filepath.Join(dir, "run") || s.StateDir != filepath.Join(dir, "state") || s.LogPath != "/dev/stderr" {
				t.Errorf("base_dir %q state_dir %q log_path %q", s.BaseDir, s.StateDir, s.LogPath)
			}
			if s.SSLCertPath != filepath.Join(dir, "ssl/cert.pem") || !s.DisablePlaintextAuth {
				t.Errorf("ssl_cert path %q, disable_plaintext_auth %v", s.SSLCertPath, s.DisablePlaintextAuth)
			}
			wantArgs := "scheme=CRYPT username_format=%u " + filepath.Join(dir, "users")
			if s.Passdbs[0].Driver != "passwd-file" || s.Passdbs[0].Args != wantArgs || s.Userdbs[0].Args != wantArgs {
				t.Errorf("passdb %+v", s.Passdbs[0])
			}
			if s.MailLocation != "maildir:~/Maildir" {
				t.Errorf("mail_location %q", s.MailLocation)
			}
			// `cote --dev DIR -a` prints it; that parses back.
			var b bytes.Buffer
			if err := s.WriteAll(&b); err != nil {
				t.Fatal(err)
			}
			s2, err := ParseString("all", b.String())
			if err != nil || !equalSettings(s, s2) {
				t.Errorf("WriteAll of the dev config does not round-trip: %v", err)
			}
		})
	}
}
