package ldap

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"cote/auth/passdb"
	"cote/auth/scheme"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

const suffix = "dc=example,dc=org"

// slapd is a real OpenLDAP server (Debian's slapd package) on free
// loopback ports, with a self-signed CA made by the test.
type slapd struct {
	dir                 string
	port, tlsPort       int
	caFile              string
	cmd                 *exec.Cmd
	bin, confFile, urls string
}

func need(t *testing.T, prog, pkg string) string {
	t.Helper()
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(dir, prog)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(prog); err == nil {
		return p
	}
	t.Fatalf("%s not found: install Debian's %s package (scripts/test-deps.sh does)", prog, pkg)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startSlapd(t *testing.T) *slapd {
	t.Helper()
	s := &slapd{bin: need(t, "slapd", "slapd"), dir: t.TempDir(), port: freePort(t), tlsPort: freePort(t)}
	ldapadd := need(t, "ldapadd", "ldap-utils")
	s.caFile = writeCerts(t, s.dir)
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server.key
database mdb
maxsize 10485760
suffix "%[2]s"
rootdn "cn=admin,%[2]s"
rootpw adminpw
directory %[1]s/db
access to attrs=userPassword by dn.exact="cn=reader,%[2]s" read by anonymous auth by * none
access to * by * read
`, s.dir, suffix)
	s.confFile = filepath.Join(s.dir, "slapd.conf")
	if err := os.WriteFile(s.confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.urls = fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.port, s.tlsPort)
	s.start(t)
	t.Cleanup(func() { s.stop() })
	ssha, err := scheme.Generate("SSHA", "alicepw")
	if err != nil {
		t.Fatal(err)
	}
	ldif := fmt.Sprintf(`dn: %[1]s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: cn=reader,%[1]s
objectClass: person
cn: reader
sn: reader
userPassword: readerpw

dn: uid=alice,ou=people,%[1]s
objectClass: inetOrgPerson
objectClass: posixAccount
cn: Alice
sn: A
uid: alice
uidNumber: 1001
gidNumber: 1001
homeDirectory: /home/alice
userPassword: %[2]s
description: 2048

dn: uid=bob,ou=people,%[1]s
objectClass: inetOrgPerson
objectClass: posixAccount
cn: Bob
sn: B
uid: bob
uidNumber: 1002
gidNumber: 1002
homeDirectory: /home/bob
userPassword: bobpw

dn: uid=x*)(uid=*,ou=people,%[1]s
objectClass: inetOrgPerson
objectClass: posixAccount
cn: Star
sn: S
uid: x*)(uid=*
uidNumber: 1003
gidNumber: 1003
homeDirectory: /home/star
userPassword: starpw
`, suffix, ssha)
	add := exec.Command(ldapadd, "-x", "-H", fmt.Sprintf("ldap://127.0.0.1:%d", s.port), "-D", "cn=admin,"+suffix, "-w", "adminpw")
	add.Stdin = strings.NewReader(ldif)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
	return s
}

func (s *slapd) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "-d", "0", "-f", s.confFile, "-h", s.urls)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var log strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &log, &log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("slapd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("slapd did not start: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills slapd at once, as a crash would.
func (s *slapd) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, and returns the CA file.
func writeCerts(t *testing.T, dir string) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cote test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", der)
	write("server.key", "PRIVATE KEY", keyDER)
	// A second CA that signed nothing, to check that verification fails.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &otherKey.PublicKey, otherKey)
	write("other-ca.pem", "CERTIFICATE", otherDER)
	return filepath.Join(dir, "ca.pem")
}

func (s *slapd) conf(t *testing.T, lines string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dovecot-ldap.conf.ext")
	body := fmt.Sprintf("base = ou=people,%s\ntimeout = 3\n", suffix) + lines
	body = strings.NewReplacer("PORT", fmt.Sprint(s.port), "TLSPORT", fmt.Sprint(s.tlsPort), "DIR", s.dir).Replace(body)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func check(t *testing.T, db passwordChecker, user, pw string) (bool, error) {
	t.Helper()
	return db.check(context.Background(), varexpand.Values{User: user, Service: "imap"}, pw)
}

// passwordChecker runs a login the way the auth server does: an auth
// bind passdb checks the password itself, any other returns the stored
// one.
type passwordChecker struct{ PassDB }

func (p passwordChecker) check(ctx context.Context, v varexpand.Values, pw string) (bool, error) {
	if ab, ok := p.PassDB.(*AuthBindDB); ok {
		_, ok, err := ab.VerifyPassword(ctx, v, pw)
		return ok, err
	}
	r, err := p.Lookup(ctx, v)
	if err != nil {
		return false, err
	}
	return scheme.Verify(r.Password, pw, r.DefaultScheme)
}

func openPass(t *testing.T, conf string) passwordChecker {
	t.Helper()
	db, err := OpenPassDB(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return passwordChecker{db}
}

func TestLDAP(t *testing.T) {
	s := startSlapd(t)
	lookup := "dn = cn=reader," + suffix + "\ndnpass = readerpw\n"
	transports := []struct{ name, conf string }{
		{"plain", "hosts = 127.0.0.1:PORT\n"},
		{"ldaps", "uris = ldaps://127.0.0.1:TLSPORT\ntls_ca_cert_file = DIR/ca.pem\n"},
		{"starttls", "uris = ldap://127.0.0.1:PORT\ntls = yes\ntls_ca_cert_file = DIR/ca.pem\n"},
	}
	logins := []struct {
		user, pw string
		ok       bool
		err      error
	}{
		{"alice", "alicepw", true, nil},
		{"alice", "wrong", false, nil},
		{"alice", "", false, nil},
		{"bob", "bobpw", true, nil},
		{"nobody", "x", false, passdb.ErrNotFound},
		// A filter injection must not match alice or anyone else.
		{"*", "alicepw", false, passdb.ErrNotFound},
		{"x*)(uid=*", "starpw", true, nil},
	}
	for _, tr := range transports {
		for _, mode := range []struct{ name, conf string }{
			{"lookup", lookup + "pass_attrs = userPassword=password, =nodelay=%{ldap:nodelayAttr}\ndefault_pass_scheme = PLAIN\n"},
			{"authbind", "auth_bind = yes\n"},
			{"authbind_userdn", "auth_bind = yes\nauth_bind_userdn = uid=%u,ou=people," + suffix + "\n"},
		} {
			t.Run(tr.name+"/"+mode.name, func(t *testing.T) {
				db := openPass(t, s.conf(t, tr.conf+mode.conf))
				for _, l := range logins {
					if mode.name == "authbind_userdn" && l.err != nil {
						// Without a search there is no "unknown user":
						// the bind fails like a wrong password.
						l.err = nil
					}
					ok, err := check(t, db, l.user, l.pw)
					if ok != l.ok || !errors.Is(err, l.err) {
						t.Errorf("login %q/%q = %v, %v, want %v, %v", l.user, l.pw, ok, err, l.ok, l.err)
					}
				}
			})
		}
	}

	t.Run("userdb", func(t *testing.T) {
		conf := s.conf(t, "hosts = 127.0.0.1:PORT\nuser_attrs = uidNumber=uid, gidNumber=gid, homeDirectory=home, "+
			"=mail=maildir:%{ldap:homeDirectory}/Maildir, =quota_rule=*:bytes=%{ldap:description:0}, uid=user=%$@example.org, cn=\n")
		db, err := OpenUserDB(conf, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r, err := db.Lookup(context.Background(), varexpand.Values{User: "alice"})
		want := userdb.Result{User: "alice@example.org", Fields: []string{"uid=1001", "gid=1001", "home=/home/alice", "mail=maildir:/home/alice/Maildir", "quota_rule=*:bytes=2048"}}
		if err != nil || !reflect.DeepEqual(r, want) {
			t.Errorf("userdb Lookup(alice) = %+v, %v, want %+v", r, err, want)
		}
		r, err = db.Lookup(context.Background(), varexpand.Values{User: "bob"})
		if err != nil || !slices.Contains(r.Fields, "quota_rule=*:bytes=0") {
			t.Errorf("userdb Lookup(bob) = %+v, %v, want the default quota", r, err)
		}
		if _, err := db.Lookup(context.Background(), varexpand.Values{User: "nobody"}); !errors.Is(err, userdb.ErrNotFound) {
			t.Errorf("userdb Lookup(nobody) error = %v, want ErrNotFound", err)
		}
		users, err := db.List(context.Background())
		slices.Sort(users)
		if w := []string{"alice", "bob", "x*)(uid=*"}; err != nil || !reflect.DeepEqual(users, w) {
			t.Errorf("List = %q, %v, want %q", users, err, w)
		}
	})

	t.Run("untrusted_ca", func(t *testing.T) {
		for _, tr := range transports[1:] {
			conf := strings.Replace(tr.conf, "ca.pem", "other-ca.pem", 1)
			db := openPass(t, s.conf(t, conf+"auth_bind = yes\n"))
			if ok, err := check(t, db, "alice", "alicepw"); ok || err == nil || errors.Is(err, passdb.ErrNotFound) {
				t.Errorf("%s with an untrusted CA: login = %v, %v, want a temporary error", tr.name, ok, err)
			}
		}
	})

	t.Run("restart", func(t *testing.T) {
		db := openPass(t, s.conf(t, "hosts = 127.0.0.1:PORT\nauth_bind = yes\n"))
		if ok, err := check(t, db, "alice", "alicepw"); !ok || err != nil {
			t.Fatalf("login before restart = %v, %v", ok, err)
		}
		s.stop()
		if ok, err := check(t, db, "alice", "alicepw"); ok || err == nil {
			t.Errorf("login with slapd down = %v, %v, want a temporary error", ok, err)
		}
		s.start(t)
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := check(t, db, "alice", "alicepw")
			if ok && err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("login after restart = %v, %v", ok, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ src, want string }{
		{"base = dc=x\n", "no uris or hosts"},
		{"hosts = h\n", "no base"},
		{"hosts = h\nbase = dc=x\nscope = sub\n", "scope"},
		{"hosts = h\nbase = dc=x\nuser_filter = (uid=%u\n", "user_filter"},
		{"hosts = h\nbase = dc=x\nsasl_bind = yes\n", "SASL"},
		{"hosts = h\nbase = dc=x\nfoo = bar\n", ":3: foo: unknown setting"},
		{"uris = http://h\nbase = dc=x\n", "bad URI"},
		{"hosts = h\nbase = dc=x\nuser_attrs = =mail\n", "user_attrs"},
		{"hosts = h\nbase = dc=x\ntls_ca_cert_file = /nonexistent\n", "tls_ca_cert_file"},
	} {
		p := filepath.Join(dir, "c.conf")
		if err := os.WriteFile(p, []byte(tc.src), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error with %q", tc.src, err, tc.want)
		}
	}
}

func TestAttrMap(t *testing.T) {
	m, err := ParseAttrMap("uidNumber=uid, homeDirectory=home, =quota_rule=*:bytes=%{ldap:quota}, mailAttr=mail=maildir:%$, cn, x=")
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{"uidNumber", "homeDirectory", "quota", "mailAttr", "cn", "x"}; !reflect.DeepEqual(m.Fetch, w) {
		t.Errorf("Fetch = %q, want %q", m.Fetch, w)
	}
	got, err := m.Apply(newEntryValues(map[string][]string{"UIDNUMBER": {"5"}, "mailattr": {"/m"}, "cn": {"C", "D"}}), varexpand.Values{User: "u"})
	want := []field{{"uid", "5"}, {"quota_rule", "*:bytes="}, {"mail", "maildir:/m"}, {"cn", "C"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %+v, %v, want %+v", got, err, want)
	}
}
