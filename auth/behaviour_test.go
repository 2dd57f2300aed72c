package auth

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/auth/scheme"
)

const behaviourUsers = `demo:{PLAIN}demo:1000:1000::/home/demo::
netuser:{PLAIN}pw:1000:1000::/h::allow_nets=192.0.2.0/24,2001:db8::1
localuser:{PLAIN}pw:1000:1000::/h::allow_nets=local
closed:{PLAIN}pw:1000:1000::/h::nologin reason=Maintenance
proxied:{PLAIN}pw:1000:1000::/h::proxy host=10.0.0.2 port=143
proxypass:{PLAIN}pw:1000:1000::/h::proxy host=10.0.0.3 pass=backendpw
rel@example.org:{PLAIN}pw:1000:1000::/h::
renamed:{PLAIN}pw:1000:1000::/h::user=newname
scram:{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:1000:1000::/h::
anonymous::1005:1005::/h::
`

const masterUsers = "admin:{PLAIN}masterpw\n"

// startBehaviour runs a server with behaviourUsers and a master passdb.
func startBehaviour(t *testing.T, mod ...func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	masters := filepath.Join(dir, "masters")
	os.WriteFile(users, []byte(behaviourUsers), 0o600)
	os.WriteFile(masters, []byte(masterUsers), 0o600)
	env := startServer(t, -1, append([]func(*Options){func(o *Options) {
		o.Passdbs = []DBConfig{
			{Driver: "passwd-file", Args: "scheme=PLAIN " + users},
			{Driver: "passwd-file", Args: "scheme=PLAIN " + masters, Master: true, Pass: true},
		}
		o.Userdbs = []DBConfig{{Driver: "passwd-file", Args: users}}
		o.Mechanisms = []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "EXTERNAL", "ANONYMOUS"}
		o.MasterUserSeparator = "*"
		o.DefaultRealm = ""
	}}, mod...)...)
	env.usersFile = users
	return env
}

// handshakeAny reads the greeting whatever the mechanisms and returns
// the MECH lines.
func (w *wire) handshakeAny(cpid int) []string {
	w.t.Helper()
	w.send("VERSION\t1\t2")
	w.send(fmt.Sprintf("CPID\t%d", cpid))
	var mechs []string
	for {
		l := w.expect("*")
		if strings.HasPrefix(l, "MECH\t") {
			mechs = append(mechs, l)
		}
		if l == "DONE" {
			return mechs
		}
	}
}

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPassdbFieldsAndMasterUsers(t *testing.T) {
	env := startBehaviour(t)
	tests := []struct {
		name, params, resp, want string
	}{
		{"plain", "rip=192.0.2.9", plainResp("demo", "demo"), "OK\t1\tuser=demo"},
		{"allow_nets in", "rip=192.0.2.9", plainResp("netuser", "pw"), "OK\t1\tuser=netuser"},
		{"allow_nets v6", "rip=2001:db8::1", plainResp("netuser", "pw"), "OK\t1\tuser=netuser"},
		{"allow_nets out", "rip=198.51.100.1", plainResp("netuser", "pw"), "FAIL\t1\tuser=netuser"},
		{"allow_nets no ip", "", plainResp("netuser", "pw"), "FAIL\t1\tuser=netuser"},
		{"allow_nets local", "", plainResp("localuser", "pw"), "OK\t1\tuser=localuser"},
		{"allow_nets local remote", "rip=192.0.2.9", plainResp("localuser", "pw"), "FAIL\t1\tuser=localuser"},
		{"nologin reason", "", plainResp("closed", "pw"), "OK\t1\tuser=closed\tnologin\treason=Maintenance"},
		{"nologin wrong password", "", plainResp("closed", "x"), "FAIL\t1\tuser=closed\treason=Maintenance"},
		{"proxy passes the password", "", plainResp("proxied", "pw"), "OK\t1\tuser=proxied\tproxy\thost=10.0.0.2\tport=143\tpass=pw"},
		{"proxy with passdb pass", "", plainResp("proxypass", "pw"), "OK\t1\tuser=proxypass\tproxy\thost=10.0.0.3\tpass=backendpw"},
		{"renamed", "", plainResp("renamed", "pw"), "OK\t1\tuser=newname\toriginal_user=renamed"},
		{"master separator", "", plainResp("demo*admin", "masterpw"), "OK\t1\tuser=demo\tauth_user=admin"},
		{"master authzid", "", b64s("demo\x00admin\x00masterpw"), "OK\t1\tuser=demo\tauth_user=admin"},
		{"master wrong password", "", plainResp("demo*admin", "demo"), "FAIL\t1\tuser=admin"},
		{"master unknown target", "", plainResp("nobody*admin", "masterpw"), "FAIL\t1\tuser=nobody\tcode=authz_fail\treason=Authorization denied"},
		// demo is no master user: the master passdbs do not know it.
		{"not a master", "", b64s("admin\x00demo\x00demo"), "FAIL\t1\tuser=demo"},
		{"separator and authzid", "", b64s("x\x00demo*admin\x00masterpw"), "FAIL\t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := dial(t, env.clientPath)
			w.handshakeAny(1)
			p := "service=imap"
			if tt.params != "" {
				p += "\t" + tt.params
			}
			w.send("AUTH\t1\tPLAIN\t" + p + "\tresp=" + tt.resp)
			w.expect(tt.want)
		})
	}
}

func TestDefaultRealm(t *testing.T) {
	env := startBehaviour(t, func(o *Options) { o.DefaultRealm = "example.org" })
	w := dial(t, env.clientPath)
	w.handshakeAny(1)
	w.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("rel", "pw"))
	w.expect("OK\t1\tuser=rel@example.org")
	w.send("AUTH\t2\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w.expect("FAIL\t2\tuser=demo@example.org")
}

// TestMasterUserRequest: the master redeems a master user login and
// learns who logged in for whom; nologin and proxy logins cannot be
// redeemed at all.
func TestMasterUserRequest(t *testing.T) {
	env := startBehaviour(t)
	w := dial(t, env.loginPath)
	w.handshakeAny(77)
	w.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo*admin", "masterpw"))
	w.expect("OK\t1\tuser=demo\tauth_user=admin")
	w.send("AUTH\t2\tPLAIN\tservice=imap\tresp=" + plainResp("closed", "pw"))
	w.expect("OK\t2\tuser=closed\tnologin*")
	w.send("AUTH\t3\tPLAIN\tservice=imap\tresp=" + plainResp("proxied", "pw"))
	w.expect("OK\t3\tuser=proxied\tproxy*")
	cookie := ""
	m := dial(t, env.masterPath)
	m.expect("VERSION*")
	m.expect("SPID*")
	m.send("VERSION\t1\t1")
	// Find the cookie from a fresh handshake on the same connection is
	// not possible; ask with the real one through a second login.
	_ = cookie
	w2 := dial(t, env.loginPath)
	w2.send("VERSION\t1\t2")
	w2.send("CPID\t78")
	for {
		l := w2.expect("*")
		if c, ok := strings.CutPrefix(l, "COOKIE\t"); ok {
			cookie = c
		}
		if l == "DONE" {
			break
		}
	}
	w2.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo*admin", "masterpw"))
	w2.expect("OK\t1\t*")
	w2.send("AUTH\t2\tPLAIN\tservice=imap\tresp=" + plainResp("closed", "pw"))
	w2.expect("OK\t2\t*")
	m.send("REQUEST\t1\t78\t1\t" + cookie)
	m.expect("USER\t1\tdemo\tuid=1000\tgid=1000\thome=/home/demo\tauth_mech=PLAIN\tmaster_user=admin\tauth_user=admin")
	m.send("REQUEST\t2\t78\t2\t" + cookie)
	m.expect("NOTFOUND\t2")
}

func TestPenaltyTable(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	p := newPenaltyTable(clock)
	const a, b = "198.51.100.7", "203.0.113.9"
	var delays []time.Duration
	for i := range 20 {
		delays = append(delays, p.Delay(a))
		p.Failure(a, penaltyChecksum(fmt.Sprintf("guess%d", i), "demo"))
	}
	want := []time.Duration{0, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second}
	for i, w := range want {
		if delays[i] != w {
			t.Errorf("delay before attempt %d = %v, want %v (all: %v)", i+1, delays[i], w, delays)
		}
	}
	if d := p.Delay(a); d != 15*time.Second {
		t.Errorf("after 20 failures Delay(%s) = %v, want the 15s cap", a, d)
	}
	if d := p.Delay(b); d != 0 {
		t.Errorf("Delay(%s), an innocent address, = %v, want 0", b, d)
	}
	// Time passing since the last failure shortens the wait.
	now = now.Add(10 * time.Second)
	if d := p.Delay(a); d != 5*time.Second {
		t.Errorf("10s later Delay = %v, want 5s", d)
	}
	// The same wrong password again does not raise the penalty.
	p.Success(b)
	for range 5 {
		p.Failure(b, penaltyChecksum("typo", "demo"))
	}
	if got := p.Penalty(b); got != 1 {
		t.Errorf("penalty after one wrong password repeated 5 times = %d, want 1", got)
	}
	// A success resets.
	p.Success(a)
	if d := p.Delay(a); d != 0 {
		t.Errorf("after a success Delay = %v, want 0", d)
	}
	// IPv6 is tracked per /48; IPv4-mapped addresses as IPv4.
	p.Failure("2001:db8:1:2::1", 0)
	if d := p.Delay("2001:db8:1:ffff::99"); d == 0 {
		t.Error("another address in the same IPv6 /48 has no penalty")
	}
	if d := p.Delay("2001:db8:2::1"); d != 0 {
		t.Errorf("another /48 has penalty %v", d)
	}
	p.Failure("::ffff:192.0.2.1", 0)
	if p.Penalty("192.0.2.1") != 1 {
		t.Error("IPv4-mapped address not counted as IPv4")
	}
	// Entries are forgotten after the timeout.
	now = now.Add(penaltyTimeout + time.Second)
	if p.Penalty("192.0.2.1") != 0 || p.Delay("2001:db8:1::") != 0 {
		t.Error("penalty not forgotten after the timeout")
	}
	if p.Delay("") != 0 || p.Delay("not-an-ip") != 0 {
		t.Error("a request without a remote IP is delayed")
	}
}

// TestPenaltyOverSocket: failures from one address slow that address's
// next requests, not another's; a success resets it; no-penalty requests
// are exempt.
func TestPenaltyOverSocket(t *testing.T) {
	env := startBehaviour(t)
	env.s.penalty.init, env.s.penalty.max = 60*time.Millisecond, 400*time.Millisecond
	w := dial(t, env.clientPath)
	w.handshakeAny(1)
	const bad, good = "rip=198.51.100.7", "rip=203.0.113.9"
	// Pipelined, so that the test does not wait out each penalty.
	for i := 1; i <= 20; i++ {
		w.send(fmt.Sprintf("AUTH\t%d\tPLAIN\tservice=imap\t%s\tresp=%s", i, bad, plainResp("demo", fmt.Sprintf("guess%d", i))))
	}
	for i := 1; i <= 20; i++ {
		w.expect("FAIL\t*")
	}
	if p := env.s.penalty.Penalty("198.51.100.7"); p != penaltyMaxSteps {
		t.Errorf("penalty after 20 failures = %d, want %d", p, penaltyMaxSteps)
	}
	timed := func(id int, params, user, pass string) time.Duration {
		start := time.Now()
		w.send(fmt.Sprintf("AUTH\t%d\tPLAIN\tservice=imap\t%s\tresp=%s", id, params, plainResp(user, pass)))
		w.expect(fmt.Sprintf("OK\t%d\t*", id))
		return time.Since(start)
	}
	if d := timed(100, good, "demo", "demo"); d > 150*time.Millisecond {
		t.Errorf("another address waited %v", d)
	}
	if d := timed(101, bad+"\tno-penalty", "demo", "demo"); d > 150*time.Millisecond {
		t.Errorf("a no-penalty request waited %v", d)
	}
	if d := timed(102, bad, "demo", "demo"); d < 300*time.Millisecond {
		t.Errorf("the attacking address waited only %v, want about the 400ms cap", d)
	}
	if d := timed(103, bad, "demo", "demo"); d > 150*time.Millisecond {
		t.Errorf("after a success the address still waits %v", d)
	}
}

// TestAuthCache: positive and negative TTLs, the changed-password rule,
// and CACHE-FLUSH.
func TestAuthCache(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	env := startBehaviour(t, func(o *Options) {
		o.CacheSize = 1 << 20
		o.CacheTTL = time.Hour
		o.CacheNegativeTTL = 10 * time.Minute
		o.Now = clock
	})
	w := dial(t, env.clientPath)
	w.handshakeAny(1)
	id := 0
	try := func(user, pass, want string) {
		t.Helper()
		id++
		w.send(fmt.Sprintf("AUTH\t%d\tPLAIN\tservice=imap\tresp=%s", id, plainResp(user, pass)))
		w.expect(fmt.Sprintf("%s\t%d\t*", want, id))
	}
	rewrite := func(content string) {
		t.Helper()
		if err := os.WriteFile(env.usersFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Duration(id) * time.Minute)
		os.Chtimes(env.usersFile, later, later)
	}
	try("demo", "demo", "OK")
	try("ghost", "boo", "FAIL")
	rewrite(strings.Replace(behaviourUsers, "{PLAIN}demo:", "{PLAIN}changed:", 1) + "ghost:{PLAIN}boo:1000:1000::/h::\n")
	// The old password still works from the cache within the TTL.
	try("demo", "demo", "OK")
	// The new one fails against the cached entry, whose last check
	// succeeded: the passdb is asked, and it works.
	try("demo", "changed", "OK")
	try("demo", "demo", "FAIL")
	// The unknown user stays unknown until the negative TTL passes.
	try("ghost", "boo", "FAIL")
	advance(11 * time.Minute)
	try("ghost", "boo", "OK")
	hits, _, entries := env.s.cache.stats()
	if hits == 0 || entries == 0 {
		t.Errorf("cache hits %d, entries %d: the cache was not used", hits, entries)
	}
	m := dial(t, env.masterPath)
	m.expect("VERSION*")
	m.expect("SPID*")
	m.send("VERSION\t1\t1")
	m.send("CACHE-FLUSH\t1\tDemo")
	m.expect("OK\t1\t1")
	m.send("CACHE-FLUSH\t2")
	m.expect("OK\t2\t*")
	if _, _, n := env.s.cache.stats(); n != 0 {
		t.Errorf("%d entries after a full flush", n)
	}
	// Expired positive entries are not used, the file is.
	try("demo", "changed", "OK")
	advance(2 * time.Hour)
	rewrite(behaviourUsers)
	try("demo", "demo", "OK")
}

// scramSocketClient runs SCRAM-SHA-256 over the auth socket.
func scramExchange(t *testing.T, w *wire, id int, mechName, params, gs2 string, cb []byte, user, pass string) string {
	t.Helper()
	bare := "n=" + user + ",r=abcdefghijklmnop"
	w.send(fmt.Sprintf("AUTH\t%d\t%s\tservice=imap\t%s\tresp=%s", id, mechName, params, b64s(gs2+bare)))
	l := w.expect("*")
	chal, ok := strings.CutPrefix(l, fmt.Sprintf("CONT\t%d\t", id))
	if !ok {
		return l
	}
	sf, _ := base64.StdEncoding.DecodeString(chal)
	var nonce, salt string
	iter := 0
	for _, a := range strings.Split(string(sf), ",") {
		switch a[:2] {
		case "r=":
			nonce = a[2:]
		case "s=":
			salt = a[2:]
		case "i=":
			fmt.Sscan(a[2:], &iter)
		}
	}
	s, _ := base64.StdEncoding.DecodeString(salt)
	keys, _ := scheme.SCRAMFromPassword("SHA-256", pass, s, iter)
	without := "c=" + base64.StdEncoding.EncodeToString(append([]byte(gs2), cb...)) + ",r=" + nonce
	authMsg := bare + "," + string(sf) + "," + without
	// ClientKey from the salted password, proof = ClientKey XOR sig.
	salted := pbkdf2SHA256(pass, s, iter)
	ck := hmac.New(sha256.New, salted)
	ck.Write([]byte("Client Key"))
	clientKey := ck.Sum(nil)
	sigm := hmac.New(sha256.New, keys.StoredKey)
	sigm.Write([]byte(authMsg))
	sig := sigm.Sum(nil)
	for i := range sig {
		sig[i] ^= clientKey[i]
	}
	w.send(fmt.Sprintf("CONT\t%d\t%s", id, b64s(without+",p="+base64.StdEncoding.EncodeToString(sig))))
	l = w.expect("*")
	if final, ok := strings.CutPrefix(l, fmt.Sprintf("CONT\t%d\t", id)); ok {
		v, _ := base64.StdEncoding.DecodeString(final)
		sm := hmac.New(sha256.New, keys.ServerKey)
		sm.Write([]byte(authMsg))
		if string(v) != "v="+base64.StdEncoding.EncodeToString(sm.Sum(nil)) {
			t.Errorf("server-final %q does not prove the server knows the key", v)
		}
		w.send(fmt.Sprintf("CONT\t%d\t", id))
		l = w.expect("*")
	}
	return l
}

func pbkdf2SHA256(pass string, salt []byte, iter int) []byte {
	m := hmac.New(sha256.New, []byte(pass))
	m.Write(salt)
	m.Write([]byte{0, 0, 0, 1})
	u := m.Sum(nil)
	out := append([]byte(nil), u...)
	for i := 1; i < iter; i++ {
		m = hmac.New(sha256.New, []byte(pass))
		m.Write(u)
		u = m.Sum(nil)
		for j := range out {
			out[j] ^= u[j]
		}
	}
	return out
}

func TestMechanismsOverSocket(t *testing.T) {
	token := "tok-" + strings.Repeat("x", 20)
	idp := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("token") == token {
			fmt.Fprint(rw, `{"active":true,"username":"demo"}`)
			return
		}
		fmt.Fprint(rw, `{"active":false}`)
	}))
	defer idp.Close()
	conf := filepath.Join(t.TempDir(), "oauth2.conf")
	os.WriteFile(conf, []byte("introspection_url = "+idp.URL+"\nusername_attribute = username\n"), 0o600)
	env := startBehaviour(t, func(o *Options) {
		o.Passdbs = append(o.Passdbs, DBConfig{Driver: "oauth2", Args: conf})
		o.Mechanisms = append(o.Mechanisms, "OAUTHBEARER", "XOAUTH2")
	})
	// -PLUS is only for cote's login processes.
	c := dial(t, env.clientPath)
	for _, m := range c.handshakeAny(1) {
		if strings.Contains(m, "PLUS") {
			t.Errorf("auth-client socket announces %q", m)
		}
	}
	c.send("AUTH\t1\tSCRAM-SHA-256-PLUS\tservice=smtp")
	c.expect("FAIL\t1\treason=Unsupported authentication mechanism")

	w := dial(t, env.loginPath)
	mechs := w.handshakeAny(2)
	for _, want := range []string{"MECH\tCRAM-MD5\tdictionary\tactive", "MECH\tSCRAM-SHA-256\tmutual-auth", "MECH\tSCRAM-SHA-256-PLUS\tmutual-auth\tchannel-binding", "MECH\tEXTERNAL", "MECH\tANONYMOUS\tanonymous", "MECH\tOAUTHBEARER\tplaintext"} {
		if !strings.Contains(strings.Join(mechs, "\n")+"\n", want+"\n") {
			t.Errorf("login handshake lacks %q:\n%s", want, strings.Join(mechs, "\n"))
		}
	}
	exporter := []byte("exporter-of-this-tls-connection!")
	cbParam := "cbind_exporter=" + base64.StdEncoding.EncodeToString(exporter) + "\tcbind_endpoint=" + base64.StdEncoding.EncodeToString([]byte("endpoint-hash"))

	// CRAM-MD5 against a plaintext password.
	w.send("AUTH\t1\tCRAM-MD5\tservice=imap")
	l := w.expect("CONT\t1\t*")
	chal, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(l, "CONT\t1\t"))
	mac := hmac.New(md5.New, []byte("demo"))
	mac.Write(chal)
	w.send("CONT\t1\t" + b64s("demo "+hex.EncodeToString(mac.Sum(nil))))
	w.expect("OK\t1\tuser=demo")

	// SCRAM with stored keys (RFC 7677's, password pencil) and with a
	// plaintext password; -PLUS bound to the TLS channel.
	if l := scramExchange(t, w, 2, "SCRAM-SHA-256", "", "n,,", nil, "scram", "pencil"); l != "OK\t2\tuser=scram" {
		t.Errorf("SCRAM-SHA-256 with stored keys: %q", l)
	}
	if l := scramExchange(t, w, 3, "SCRAM-SHA-256", "", "n,,", nil, "demo", "demo"); l != "OK\t3\tuser=demo" {
		t.Errorf("SCRAM-SHA-256 with a plaintext password: %q", l)
	}
	if l := scramExchange(t, w, 4, "SCRAM-SHA-256", "", "n,,", nil, "demo", "wrong"); !strings.HasPrefix(l, "FAIL\t4") {
		t.Errorf("SCRAM-SHA-256 with a wrong password: %q", l)
	}
	if l := scramExchange(t, w, 5, "SCRAM-SHA-256-PLUS", cbParam, "p=tls-exporter,,", exporter, "demo", "demo"); l != "OK\t5\tuser=demo" {
		t.Errorf("SCRAM-SHA-256-PLUS: %q", l)
	}
	if l := scramExchange(t, w, 6, "SCRAM-SHA-256-PLUS", cbParam, "p=tls-exporter,,", []byte("exporter-of-another-connection!!"), "demo", "demo"); !strings.HasPrefix(l, "FAIL\t6") {
		t.Errorf("SCRAM-SHA-256-PLUS over another channel: %q", l)
	}
	if l := scramExchange(t, w, 7, "SCRAM-SHA-256", cbParam, "y,,", nil, "demo", "demo"); !strings.HasPrefix(l, "FAIL\t7") {
		t.Errorf("SCRAM downgrade (y while -PLUS is offered): %q", l)
	}
	// final-resp-ok: the server-final message comes in the OK.
	w.send("AUTH\t8\tSCRAM-SHA-256\tservice=imap\tfinal-resp-ok\tresp=" + b64s("n,,n=demo,r=abc"))
	w.expect("CONT\t8\t*")
	w.send("CANCEL\t8")

	// EXTERNAL with a verified client certificate.
	w.send("AUTH\t9\tEXTERNAL\tservice=imap\tvalid-client-cert\tcert_username=demo\tresp=")
	w.expect("OK\t9\tuser=demo")
	w.send("AUTH\t10\tEXTERNAL\tservice=imap\tcert_username=demo\tresp=")
	w.expect("FAIL\t10*")
	// ANONYMOUS.
	w.send("AUTH\t11\tANONYMOUS\tservice=imap\tresp=" + b64s("someone@example.org"))
	w.expect("OK\t11\tuser=anonymous\tanonymous")
	// OAUTHBEARER and XOAUTH2 through the oauth2 passdb.
	w.send("AUTH\t12\tOAUTHBEARER\tservice=imap\tresp=" + b64s("n,a=demo,\x01auth=Bearer "+token+"\x01\x01"))
	w.expect("OK\t12\tuser=demo")
	w.send("AUTH\t13\tOAUTHBEARER\tservice=imap\tresp=" + b64s("n,a=demo,\x01auth=Bearer revoked\x01\x01"))
	w.expect("CONT\t13\t" + b64s(`{"status":"invalid_token","schemes":"bearer"}`))
	w.send("CONT\t13\tAQ==")
	w.expect("FAIL\t13\tuser=demo")
	w.send("AUTH\t14\tXOAUTH2\tservice=imap\tresp=" + b64s("user=demo\x01auth=Bearer "+token+"\x01\x01"))
	w.expect("OK\t14\tuser=demo")

	logs := env.logs.String()
	for _, secret := range []string{token, "pencil", b64s("demo")} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains secret %q", secret)
		}
	}
}

func TestNewOptionErrors(t *testing.T) {
	_, err := New(Options{Passdbs: []DBConfig{{Driver: "pam", Args: "session=maybe"}}, Userdbs: []DBConfig{{Driver: "static", Args: "uid=1 gid=1"}}})
	if err == nil || !strings.Contains(err.Error(), "passdb pam") {
		t.Errorf("New(bad pam args) = %v", err)
	}
	_, err = New(Options{Passdbs: []DBConfig{{Driver: "oauth2", Args: "/nonexistent"}}, Userdbs: []DBConfig{{Driver: "static", Args: "uid=1 gid=1"}}})
	if err == nil || !strings.Contains(err.Error(), "passdb oauth2") {
		t.Errorf("New(missing oauth2 file) = %v", err)
	}
	_ = context.Background
}
