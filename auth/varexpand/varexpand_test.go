package varexpand

import "testing"

func TestExpand(t *testing.T) {
	v := Values{User: "Demo@Example.ORG", Service: "imap", RemoteIP: "192.0.2.1"}
	tests := []struct{ tmpl, want string }{
		{"%u", "Demo@Example.ORG"},
		{"%Lu", "demo@example.org"},
		{"%Uu", "DEMO@EXAMPLE.ORG"},
		{"%n", "Demo"},
		{"%Ln", "demo"},
		{"%d", "Example.ORG"},
		{"%Ld", "example.org"},
		{"/etc/mail/%Ld/passwd", "/etc/mail/example.org/passwd"},
		{"%{user}|%{domain}|%{service}|%r|%%", "Demo@Example.ORG|Example.ORG|imap|192.0.2.1|%"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got, err := Expand(tt.tmpl, v); err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v, want %q", tt.tmpl, got, err, tt.want)
		}
	}
	for _, bad := range []string{"%", "%q", "%{nope}", "%{user", "%L"} {
		if _, err := Expand(bad, v); err == nil {
			t.Errorf("Expand(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzExpand(f *testing.F) {
	f.Add("%Lu/%{domain}%%")
	f.Fuzz(func(t *testing.T, tmpl string) {
		_, _ = Expand(tmpl, Values{User: "a@b"})
	})
}
