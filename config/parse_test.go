package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// valid is the smallest text that validates; tests append to it.
const valid = "ssl = no\npassdb {\n  driver = static\n}\nuserdb {\n  driver = static\n}\n"

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustParse(t *testing.T, text string) *Settings {
	t.Helper()
	s, err := ParseString("test.conf", valid+text)
	if err != nil {
		t.Fatalf("ParseString(%q) = %v, want no error", text, err)
	}
	return s
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name, text string
		check      func(*Settings) any
		want       any
	}{
		{"list commas", "listen = 127.0.0.1,::1", func(s *Settings) any { return strings.Join(s.Listen, "|") }, "127.0.0.1|::1"},
		{"list spaces", "protocols = imap  lmtp", func(s *Settings) any { return strings.Join(s.Protocols, "|") }, "imap|lmtp"},
		{"mechanisms upper", "auth_mechanisms = plain Login", func(s *Settings) any { return strings.Join(s.AuthMechanisms, " ") }, "PLAIN LOGIN"},
		{"bool true", "auth_debug = true", func(s *Settings) any { return s.AuthDebug }, true},
		{"bool 0", "shutdown_clients = 0", func(s *Settings) any { return s.ShutdownClients }, false},
		{"duration", "auth_failure_delay = 100ms", func(s *Settings) any { return s.AuthFailureDelay }, 100 * time.Millisecond},
		{"size", "imap_max_line_length = 1G", func(s *Settings) any { return s.ImapMaxLineLength }, uint64(1 << 30)},
		{"no spaces", "login_greeting=hi", func(s *Settings) any { return s.LoginGreeting }, "hi"},
		{"empty", "login_greeting =", func(s *Settings) any { return s.LoginGreeting }, ""},
		{"quoted", `login_greeting = "a \"b\" \\ c # d"`, func(s *Settings) any { return s.LoginGreeting }, `a "b" \ c # d`},
		{"single quoted", `login_greeting = 'x y '`, func(s *Settings) any { return s.LoginGreeting }, "x y "},
		{"comment", "login_greeting = hello # world", func(s *Settings) any { return s.LoginGreeting }, "hello"},
		{"hash in word", "login_greeting = a#b", func(s *Settings) any { return s.LoginGreeting }, "a#b"},
		{"numeric id", "default_internal_user = #123", func(s *Settings) any { return s.DefaultInternalUser }, "#123"},
		{"apostrophe", "login_greeting = Bob's server # c", func(s *Settings) any { return s.LoginGreeting }, "Bob's server"},
		{"enum case", "ssl_min_protocol = tlsv1.3", func(s *Settings) any { return s.SSLMinProtocol }, "TLSv1.3"},
		{"later wins", "mail_fsync = never\nmail_fsync = always", func(s *Settings) any { return s.MailFsync }, "always"},
		{"continuation", "login_trusted_networks = 10.0.0.0/8 \\\n  192.168.0.0/16", func(s *Settings) any { return strings.Join(s.LoginTrustedNetworks, " ") }, "10.0.0.0/8 192.168.0.0/16"},
		{"crlf", "login_greeting = x\r\n", func(s *Settings) any { return s.LoginGreeting }, "x"},
		{"var", "default_internal_user = vmail\nservice lmtp {\n user = $default_internal_user\n}",
			func(s *Settings) any { return s.Service("lmtp").User }, "vmail"},
		{"var current value", "mail_plugins = a\nmail_plugins = $mail_plugins b\nmail_plugins = $mail_plugins c",
			func(s *Settings) any { return strings.Join(s.MailPlugins, " ") }, "a b c"},
		{"var quoted is literal", `login_greeting = "$hostname"`, func(s *Settings) any { return s.LoginGreeting }, "$hostname"},
		{"crypt hash not a var", "passdb x {\n driver = static\n args = password=$6$salt$hash\n}",
			func(s *Settings) any { return s.Passdbs[1].Args }, "password=$6$salt$hash"},
		{"default user resolved late", "default_login_user = nobody2",
			func(s *Settings) any { return s.Service("imap-login").User }, "nobody2"},
		{"listen into listeners", "listen = 192.0.2.7",
			func(s *Settings) any { return s.Service("pop3-login").InetListeners[0].Address }, "192.0.2.7"},
		{"named passdb merges", "passdb p {\n driver = pam\n}\npassdb p {\n args = x\n}",
			func(s *Settings) any {
				return len(s.Passdbs) == 2 && s.Passdbs[1].Driver == "pam" && s.Passdbs[1].Args == "x"
			}, true},
		{"unnamed passdbs append", "passdb {\n driver = pam\n}",
			func(s *Settings) any { return len(s.Passdbs) }, 2},
		{"db defaults", "", func(s *Settings) any { return s.Passdbs[0].ResultSuccess + " " + s.Userdbs[0].Skip }, "return-ok never"},
		{"service override keeps rest", "service imap-login {\n inet_listener imaps {\n port = 1993\n }\n}",
			func(s *Settings) any {
				l := s.Service("imap-login").InetListeners[1]
				return l.Name + " " + FormatSize(uint64(l.Port)) + " " + map[bool]string{true: "ssl"}[l.SSL]
			}, "imaps 1993 ssl"},
		{"new service", "service stats {\n process_limit = 1\n unix_listener stats-writer {\n }\n}",
			func(s *Settings) any {
				svc := s.Service("stats")
				return svc != nil && svc.ProcessLimit == 1 && svc.UnixListeners[0].Mode == 0o600
			}, true},
		{"new inet listener", "service lmtp {\n inet_listener lmtp {\n port = 24\n }\n}",
			func(s *Settings) any { return s.Service("lmtp").InetListeners[0].Address }, "*, ::"},
		{"plugin", "plugin {\n quota = maildir\n}\nplugin {\n x = y\n}",
			func(s *Settings) any { return s.Plugin["quota"] + s.Plugin["x"] }, "maildiry"},
		{"quoted block name", "namespace inbox {\n mailbox \"Sent Items\" {\n  special_use = \\Sent\n }\n}",
			func(s *Settings) any {
				return s.Namespaces[0].Mailboxes[0].Name + s.Namespaces[0].Mailboxes[0].SpecialUse[0]
			}, `Sent Items\Sent`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.text)
			if got := tt.check(s); got != tt.want {
				t.Errorf("Parse(%q): got %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"unknown key", "bogus = 1", `test.conf:8: unknown setting "bogus"`},
		{"unknown in service", "service auth {\n bogus = 1\n}", `test.conf:9: unknown setting "bogus" in service block`},
		{"section as key", "service = x", `test.conf:8: "service" is a block: write service { ... }`},
		{"key as section", "ssl {\n}", `test.conf:8: "ssl" is a setting: write ssl = value`},
		{"bad mode", "service auth {\n unix_listener x {\n  mode = 999\n }\n}", `test.conf:10: mode: invalid octal number "999"`},
		{"junk after quote", `login_greeting = "a" b`, `test.conf:8: login_greeting: unexpected "b" after quoted value`},
		{"bad key", "a*b = 1", `test.conf:8: invalid setting name "a*b"`},
		{"name with space", "service a b {\n}", `test.conf:8: invalid block name "a b" (quote names with spaces)`},
		{"protocol without name", "protocol {\n}", `test.conf:8: protocol block needs a name`},
		{"nested in protocol", "protocol imap {\n plugin {\n }\n}", `test.conf:9: plugin block not allowed inside protocol block`},
		{"empty <", "ssl_cert = <", `test.conf:8: ssl_cert: missing file name after <`},
		{"missing brace", "service auth {", `test.conf:8: missing } at end of file`},
		{"negative", "first_valid_uid = -5", `test.conf:8: first_valid_uid must not be negative`},
		{"userdb master", "userdb {\n driver = static\n master = yes\n}", `test.conf:10: master is a passdb setting, not valid in a userdb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseString("test.conf", valid+tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want error containing %q", tt.text, err, tt.want)
			}
		})
	}
}

func TestErrorsCollected(t *testing.T) {
	_, err := ParseString("x.conf", "a = 1\nb = 2\nssl = maybe\n")
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("error %T, want ErrorList", err)
	}
	// 3 parse errors, then: ssl needs cert, no passdb, no userdb.
	if len(list) != 6 {
		t.Fatalf("got %d errors, want 6:\n%v", len(list), err)
	}
	if list[2].Pos != (Pos{"x.conf", 3}) {
		t.Errorf("third error at %v, want x.conf:3", list[2].Pos)
	}
}

func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cote.conf": valid + "!include conf.d/*.conf\n!include_try missing.conf\n!include_try none/*.conf\n" +
			"service imap-login {\n  !include svc.inc\n}\n",
		"conf.d/10-a.conf":  "login_greeting = first\nmail_plugins = a\n",
		"conf.d/20-b.conf":  "login_greeting = second\nmail_plugins = $mail_plugins b\n!include ../deeper/x.conf\n",
		"conf.d/skip.txt":   "bogus = 1\n",
		"deeper/x.conf":     "ssl_cert = <../cert.txt\n",
		"cert.txt":          "CERT",
		"svc.inc":           "process_min_avail = 7\n",
		"loop/loop.conf":    "!include loop.conf\n",
		"unbalanced.conf":   "service auth {\n",
		"closes-outer.conf": "}\n",
	})
	s, err := ParseFile(filepath.Join(dir, "cote.conf"))
	if err != nil {
		t.Fatalf("ParseFile = %v", err)
	}
	if s.LoginGreeting != "second" || strings.Join(s.MailPlugins, " ") != "a b" {
		t.Errorf("greeting %q plugins %q, want second, a b", s.LoginGreeting, s.MailPlugins)
	}
	if s.SSLCert != "CERT" || s.SSLCertPath != filepath.Join(dir, "cert.txt") {
		t.Errorf("ssl_cert %q from %q", s.SSLCert, s.SSLCertPath)
	}
	if got := s.Service("imap-login").ProcessMinAvail; got != 7 {
		t.Errorf("process_min_avail %d, want 7 (include inside a block)", got)
	}
	if p, _ := s.Pos("login_greeting"); p != (Pos{filepath.Join(dir, "conf.d/20-b.conf"), 1}) {
		t.Errorf("Pos(login_greeting) = %v", p)
	}

	for _, tt := range []struct{ name, text, want string }{
		{"missing", "!include nope.conf", "!include nope.conf: no such file"},
		{"no glob match", "!include nope/*.conf", "!include nope/*.conf: no such file"},
		{"loop", "!include loop/loop.conf", "includes nested too deeply"},
		{"unbalanced", "!include unbalanced.conf", "unbalanced.conf:1: missing } at end of file"},
		{"closes outer", "service auth {\n!include closes-outer.conf\n}", "closes-outer.conf:1: unexpected }"},
		{"bad pattern", "!include [", "syntax error in pattern"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "t.conf")
			if err := os.WriteFile(p, []byte(valid+tt.text+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ParseFile(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFile(%q) = %v, want error containing %q", tt.text, err, tt.want)
			}
		})
	}

	if _, err := ParseFile(filepath.Join(dir, "absent.conf")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("ParseFile(absent) = %v, want not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestFileValue(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cote.conf": "ssl_cert = <ssl/cert.pem\nssl_key = </ABS\nplugin {\n  sieve_global = <sieve.txt\n}\nprotocol imap {\n  login_greeting = <greet.txt\n}\n",
	})
	for _, f := range []string{"cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join("testdata/ssl", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "ssl"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ssl", f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(dir, "ssl", "key.pem")
	text := strings.Replace(readFile(t, filepath.Join(dir, "cote.conf")), "/ABS", abs, 1) +
		"passdb {\n driver = static\n}\nuserdb {\n driver = static\n}\n"
	writeFiles2(t, dir, map[string]string{"cote.conf": text, "sieve.txt": "SIEVE", "greet.txt": "HELLO\n"})

	s, err := ParseFile(filepath.Join(dir, "cote.conf"))
	if err != nil {
		t.Fatalf("ParseFile = %v", err)
	}
	if !strings.HasPrefix(s.SSLCert, "-----BEGIN CERTIFICATE") || s.SSLKeyPath != abs {
		t.Errorf("cert %.20q key path %q", s.SSLCert, s.SSLKeyPath)
	}
	if s.Plugin["sieve_global"] != "SIEVE" {
		t.Errorf("plugin value %q", s.Plugin["sieve_global"])
	}
	if got := s.ForProtocol("imap").LoginGreeting; got != "HELLO\n" {
		t.Errorf("protocol imap greeting %q", got)
	}
	var b bytes.Buffer
	if err := s.WriteNonDefault(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ssl_cert = <" + filepath.Join(dir, "ssl/cert.pem") + "\n",
		"ssl_key = <" + abs + "\n",
		"sieve_global = <" + filepath.Join(dir, "sieve.txt") + "\n",
		"login_greeting = <" + filepath.Join(dir, "greet.txt") + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteNonDefault output lacks %q:\n%s", want, b.String())
		}
	}
	if ws := s.WithoutSecrets(); ws.SSLKey != "" || ws.SSLCert == "" || s.SSLKey == "" {
		t.Errorf("WithoutSecrets: key %q cert empty %v; original key empty %v", ws.SSLKey, ws.SSLCert == "", s.SSLKey == "")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFiles2(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestForProtocol(t *testing.T) {
	s := mustParse(t, "mail_plugins = quota\nprotocol imap {\n  mail_plugins = $mail_plugins imap_quota\n  imap_idle_notify_interval = 5 mins\n}\nprotocol lmtp {\n  mail_plugins = $mail_plugins sieve\n}\nprotocol imap {\n  mail_debug = yes\n}\n")
	imap := s.ForProtocol("imap")
	if got := strings.Join(imap.MailPlugins, " "); got != "quota imap_quota" {
		t.Errorf("imap mail_plugins = %q", got)
	}
	if imap.ImapIdleNotifyInterval != 5*time.Minute || !imap.MailDebug {
		t.Errorf("imap overrides not applied: %v %v", imap.ImapIdleNotifyInterval, imap.MailDebug)
	}
	if got := strings.Join(s.ForProtocol("lmtp").MailPlugins, " "); got != "quota sieve" {
		t.Errorf("lmtp mail_plugins = %q", got)
	}
	if got := strings.Join(s.MailPlugins, " "); got != "quota" {
		t.Errorf("global mail_plugins changed to %q", got)
	}
	if got := s.ForProtocol("pop3"); !equalSettings(got, s) {
		t.Errorf("ForProtocol(pop3) differs from the global settings")
	}
	if p, _ := imap.Pos("mail_debug"); p.Line != 17 {
		t.Errorf("imap Pos(mail_debug) = %v, want line 17", p)
	}
}

func TestDefaultServices(t *testing.T) {
	d := Defaults()
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"auth user", d.Service("auth").User, "coteauth"},
		{"auth process_limit", d.Service("auth").ProcessLimit, 1},
		{"auth listeners", len(d.Service("auth").UnixListeners), 4},
		{"auth-userdb mode", d.Service("auth").UnixListeners[3].Mode, uint32(0o666)},
		{"imap-login user", d.Service("imap-login").User, "cotenull"},
		{"imap-login chroot", d.RuntimePath(d.Service("imap-login").Chroot), "/run/cote/empty"},
		{"imap-login client_limit", d.Service("imap-login").ClientLimit, 1000},
		{"imaps", d.Service("imap-login").InetListeners[1], InetListener{Name: "imaps", Address: "*, ::", Port: 993, SSL: true}},
		{"pop3s port", d.Service("pop3-login").InetListeners[1].Port, 995},
		{"sieve port", d.Service("managesieve-login").InetListeners[0].Port, 4190},
		{"worker vsz", d.Service("worker").VszLimit, uint64(256 << 20)},
		{"worker idle", d.Service("worker").IdleKill, 10 * time.Second},
		{"worker max_procs", d.Service("worker").MaxProcs, 1},
		{"imap-login max_procs", d.Service("imap-login").MaxProcs, 0},
		{"lmtp max_procs", d.Service("lmtp").MaxProcs, 1},
		{"worker effective clients", d.Effective(*d.Service("worker")).ClientLimit, 0},
		{"lmtp effective clients", d.Effective(*d.Service("lmtp")).ClientLimit, 1000},
		{"lmtp effective processes", d.Effective(*d.Service("lmtp")).ProcessLimit, 100},
		{"lmtp user", d.Service("lmtp").User, "cote"},
		{"lmtp socket", d.RuntimePath(d.Service("lmtp").UnixListeners[0].Path), "/run/cote/lmtp"},
		{"none", d.Service("nope") == nil, true},
		{"sieve disabled", d.ServiceEnabled(d.Service("managesieve-login")), false},
		{"imap enabled", d.ServiceEnabled(d.Service("imap-login")), true},
		{"imaps with ssl", d.ListenerEnabled(d.Service("imap-login").InetListeners[1]), true},
		{"addresses", strings.Join(d.Service("imap-login").InetListeners[0].Addresses(), "|"), "*|::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
	s := mustParse(t, "")
	if s.ListenerEnabled(s.Service("imap-login").InetListeners[1]) {
		t.Errorf("imaps enabled with ssl = no")
	}
}

// TestTableComplete checks that every setting field has a table row and
// every row a field, for each block kind.
func TestTableComplete(t *testing.T) {
	d := Defaults()
	types := map[string]any{"": *d, "service": Service{}, "inet_listener": InetListener{}, "unix_listener": UnixListener{},
		"passdb": DB{}, "userdb": DB{}, "namespace": Namespace{}, "mailbox": Mailbox{}}
	for _, kind := range sectionKinds {
		rows := map[string]bool{}
		for _, r := range table(kind) {
			if rows[r.key] {
				t.Errorf("%s: duplicate row %s", kind, r.key)
			}
			rows[r.key] = true
			if r.doc == "" {
				t.Errorf("%s/%s: no documentation", kind, r.key)
			}
		}
		for _, k := range sortedKeys(reflect.TypeOf(types[kind])) {
			if !rows[k] {
				t.Errorf("%s/%s: field without table row", kind, k)
			}
		}
	}
}
