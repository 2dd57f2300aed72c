package dbconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cote/auth/varexpand"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inc.conf"), []byte("dnpass = 'se cret'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.conf")
	src := "# comment\n\nhosts = a b\r\nuser_attrs = uid=user, \\\n  homeDirectory=home\n" +
		"dn = \"cn=x,\\\"q\\\"\"\n!include inc.conf\n!include_try missing.conf\nempty =\n"
	if err := os.WriteFile(main, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ParseFile(main)
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{"hosts", "a b", main, 3},
		{"user_attrs", "uid=user,   homeDirectory=home", main, 4},
		{"dn", `cn=x,"q"`, main, 6},
		{"dnpass", "se cret", filepath.Join(dir, "inc.conf"), 1},
		{"empty", "", main, 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseFile = %+v, want %+v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"novalue\n",
		"= x\n",
		"a b = c\n",
		"k = \"unterminated\n",
		"k = 'x\n",
		"!include\n",
		"!include /nonexistent/file\n",
		"k = v \\\n",
		"k = \"a\"b\"\n",
	} {
		if _, err := Parse(strings.NewReader(src), "t.conf"); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", src)
		} else if !strings.HasPrefix(err.Error(), "t.conf:") {
			t.Errorf("Parse(%q) error %q does not start with file:line", src, err)
		}
	}
}

func TestApplyDuplicate(t *testing.T) {
	s, err := Parse(strings.NewReader("a = 1\nb = 2\na = 3\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	err = Apply(s, func(k, v string) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "f:3") {
		t.Errorf("Apply with a duplicate = %v, want an error at f:3", err)
	}
}

func TestTemplate(t *testing.T) {
	extra := func(n string) bool { return strings.HasPrefix(n, "ldap:") || n == "$" }
	for _, tc := range []struct {
		in, want string
		esc      func(string) string
	}{
		{"uid=%u", "uid=Jo*e@Example.org", nil},
		{"%n|%d|%Ln|%Ud|%%|%{user}|%{domain}|%s|%l|%r", "Jo*e|Example.org|jo*e|EXAMPLE.ORG|%|Jo*e@Example.org|Example.org|imap|127.0.0.1|10.0.0.1", nil},
		{"(uid=%u)", "(uid=[Jo*e@Example.org])", func(s string) string { return "[" + s + "]" }},
		{"%{ldap:quota}/%$", "LDAP(ldap:quota)/LDAP($)", nil},
	} {
		tmpl, err := ParseTemplate(tc.in, extra)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tc.in, err)
			continue
		}
		std := Std(varexpandValues())
		got, err := tmpl.Expand(func(n string) (string, bool) {
			if v, ok := std(n); ok {
				return v, true
			}
			return "LDAP(" + n + ")", true
		}, tc.esc)
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%", "%q", "%{nope}", "%{user", "%L"} {
		if _, err := ParseTemplate(bad, nil); err == nil {
			t.Errorf("ParseTemplate(%q) = nil error, want one", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"hosts = ldap.example.org\nbase = dc=example,dc=org\n",
		"password_query = SELECT password FROM users WHERE userid = '%u'\n",
		"k = \"a\\\"b\"\n# c\nx = 'y'\n",
		"a = b \\\n c\n",
		"!include_try nothing\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := Parse(strings.NewReader(s), filepath.Join(t.TempDir(), "f"))
		if err != nil {
			return
		}
		for _, x := range set {
			if x.Key == "" || strings.ContainsAny(x.Key, " \t") || x.Line < 1 {
				t.Fatalf("Parse(%q) gave a bad setting %+v", s, x)
			}
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"(&(objectClass=posixAccount)(uid=%u))", "%Ln@%Ld", "%{ldap:a:b}", "100%%", "%{user}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s, func(n string) bool { return strings.HasPrefix(n, "ldap:") })
		if err != nil {
			return
		}
		// With every variable empty, the output is the literal text.
		var lit strings.Builder
		for _, seg := range tmpl {
			lit.WriteString(seg.Lit)
		}
		got, err := tmpl.Expand(func(string) (string, bool) { return "", true }, nil)
		if err != nil || got != lit.String() {
			t.Fatalf("Expand(%q) = %q, %v; want %q", s, got, err, lit.String())
		}
	})
}

func varexpandValues() varexpand.Values {
	return varexpand.Values{User: "Jo*e@Example.org", Service: "imap", LocalIP: "127.0.0.1", RemoteIP: "10.0.0.1"}
}
