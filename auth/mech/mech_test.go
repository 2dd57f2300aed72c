package mech

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"cote/auth/scheme"
)

// fakeVerifier knows plaintext passwords and, per scheme, stored
// credentials.
type fakeVerifier struct {
	users  map[string]string
	creds  map[string][]byte // scheme -> credentials of every user
	req    Request
	got    []Identity
	anon   []string
	looked []Identity
}

func newFake() *fakeVerifier {
	return &fakeVerifier{users: map[string]string{"demo": "secret"}}
}

func (f *fakeVerifier) VerifyPlain(_ context.Context, id Identity, pass string) error {
	f.got = append(f.got, id)
	if id.Authzid != "" && id.Authzid != id.Authcid {
		return &Failure{Code: CodeAuthzFail, Reason: "Authorization denied"}
	}
	if p, ok := f.users[id.Authcid]; ok && p == pass {
		return nil
	}
	return &Failure{Reason: "bad"}
}

func (f *fakeVerifier) Credentials(_ context.Context, id Identity, s string) ([]byte, error) {
	f.got = append(f.got, id)
	if c, ok := f.creds[s]; ok {
		return c, nil
	}
	p, ok := f.users[id.Authcid]
	if !ok {
		return nil, &Failure{}
	}
	return scheme.Credentials("{PLAIN}"+p, "", s)
}

func (f *fakeVerifier) LookupUser(_ context.Context, id Identity) error {
	f.looked = append(f.looked, id)
	if id.Authzid != "" && id.Authzid != id.Authcid {
		return &Failure{Code: CodeAuthzFail}
	}
	if _, ok := f.users[id.Authcid]; !ok {
		return &Failure{}
	}
	return nil
}

func (f *fakeVerifier) Anonymous(_ context.Context, trace string) error {
	f.anon = append(f.anon, trace)
	return nil
}

func (f *fakeVerifier) Request() Request { return f.req }

// run feeds the responses; nil is "no initial response".
func run(t *testing.T, name string, resps ...[]byte) (challenges []string, err error) {
	t.Helper()
	m, ok := Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q) failed", name)
	}
	s := m.New(newFake())
	for _, r := range resps {
		c, done, err := s.Step(context.Background(), r)
		if done {
			return challenges, err
		}
		challenges = append(challenges, string(c))
	}
	t.Fatalf("%s: exchange did not finish after %d steps (challenges %q)", name, len(resps), challenges)
	return nil, nil
}

func code(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return "fail:" + f.Code
	}
	if err != nil {
		return "error"
	}
	return "ok"
}

func TestMechanisms(t *testing.T) {
	tests := []struct {
		name  string
		mech  string
		resps [][]byte
		chals []string
		want  string
	}{
		{"plain ir", "PLAIN", [][]byte{[]byte("\x00demo\x00secret")}, nil, "ok"},
		{"plain authzid same", "plain", [][]byte{[]byte("demo\x00demo\x00secret")}, nil, "ok"},
		{"plain authzid other", "PLAIN", [][]byte{[]byte("root\x00demo\x00secret")}, nil, "fail:authz_fail"},
		{"plain no ir", "PLAIN", [][]byte{nil, []byte("\x00demo\x00secret")}, []string{""}, "ok"},
		{"plain empty ir", "PLAIN", [][]byte{{}}, nil, "fail:"},
		{"plain wrong", "PLAIN", [][]byte{[]byte("\x00demo\x00secreT")}, nil, "fail:"},
		{"plain two nuls missing", "PLAIN", [][]byte{[]byte("demo\x00secret")}, nil, "fail:"},
		{"plain extra nul", "PLAIN", [][]byte{[]byte("\x00demo\x00sec\x00ret")}, nil, "fail:"},
		{"plain empty authcid", "PLAIN", [][]byte{[]byte("\x00\x00secret")}, nil, "fail:"},
		{"login", "LOGIN", [][]byte{nil, []byte("demo"), []byte("secret")}, []string{"Username:", "Password:"}, "ok"},
		{"login ir", "LOGIN", [][]byte{[]byte("demo"), []byte("secret")}, []string{"Password:"}, "ok"},
		{"login wrong", "LOGIN", [][]byte{nil, []byte("demo"), []byte("x")}, []string{"Username:", "Password:"}, "fail:"},
		{"login nul user", "LOGIN", [][]byte{nil, []byte("de\x00mo")}, []string{"Username:"}, "fail:"},
		{"login empty user", "LOGIN", [][]byte{nil, {}}, []string{"Username:"}, "fail:"},
		{"cram with ir", "CRAM-MD5", [][]byte{[]byte("demo")}, nil, "fail:"},
		{"cram garbage", "CRAM-MD5", [][]byte{nil, []byte("demo 1234")}, []string{"*"}, "fail:"},
		{"external without cert", "EXTERNAL", [][]byte{{}}, nil, "fail:"},
		{"anonymous", "ANONYMOUS", [][]byte{[]byte("me@example.org")}, nil, "ok"},
		{"anonymous no ir", "ANONYMOUS", [][]byte{nil, {}}, []string{""}, "ok"},
		{"anonymous too long", "ANONYMOUS", [][]byte{[]byte(strings.Repeat("x", 256))}, nil, "fail:"},
		{"xoauth2 malformed", "XOAUTH2", [][]byte{[]byte("user=demo\x01auth=secret\x01\x01")}, nil, "fail:"},
		{"xoauth2 bad token", "XOAUTH2", [][]byte{[]byte("user=demo\x01auth=Bearer nope\x01\x01"), {}}, []string{XOAuth2FailureJSON}, "fail:"},
		{"xoauth2", "XOAUTH2", [][]byte{[]byte("user=demo\x01auth=Bearer secret\x01\x01")}, nil, "ok"},
		{"oauthbearer no user", "OAUTHBEARER", [][]byte{[]byte("n,,\x01auth=Bearer secret\x01\x01")}, nil, "fail:"},
		{"oauthbearer binding", "OAUTHBEARER", [][]byte{[]byte("p=tls-exporter,a=demo,\x01auth=Bearer secret\x01\x01")}, nil, "fail:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chals, err := run(t, tt.mech, tt.resps...)
			if got := code(err); got != tt.want {
				t.Errorf("%s exchange = %s (%v), want %s", tt.mech, got, err, tt.want)
			}
			if len(chals) != len(tt.chals) {
				t.Fatalf("challenges = %q, want %q", chals, tt.chals)
			}
			for i := range chals {
				if chals[i] != tt.chals[i] && tt.chals[i] != "*" {
					t.Errorf("challenge %d = %q, want %q", i, chals[i], tt.chals[i])
				}
			}
		})
	}
}

func TestLookup(t *testing.T) {
	if _, ok := Lookup("NTLM"); ok {
		t.Error("Lookup(NTLM) succeeded")
	}
	if m, ok := Lookup("login"); !ok || m.Name != "LOGIN" || m.Flags[0] != FlagPlaintext {
		t.Errorf("Lookup(login) = %+v, %v", m, ok)
	}
	if m, _ := Lookup("SCRAM-SHA-256-PLUS"); !m.ChannelBinding() {
		t.Error("SCRAM-SHA-256-PLUS does not bind to the channel")
	}
	if m, _ := Lookup("SCRAM-SHA-256"); m.ChannelBinding() {
		t.Error("SCRAM-SHA-256 binds to the channel")
	}
}

// saslRun drives a server mechanism with a go-sasl client.
func saslRun(t *testing.T, c sasl.Client, v *fakeVerifier) error {
	t.Helper()
	name, ir, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := Lookup(name)
	if !ok {
		t.Fatalf("no mechanism %s", name)
	}
	s := m.New(v)
	resp := ir
	for range 5 {
		chal, done, err := s.Step(context.Background(), resp)
		if done {
			return err
		}
		if resp, err = c.Next(chal); err != nil {
			// go-sasl's OAUTHBEARER client reports the server's error
			// status as an error; the dummy response ends the exchange.
			resp = []byte{1}
		}
	}
	t.Fatal("exchange did not finish")
	return nil
}

func TestGoSASLClients(t *testing.T) {
	cert := newFake()
	cert.req = Request{ValidClientCert: true, CertUsername: "demo"}
	tests := []struct {
		name string
		c    sasl.Client
		v    *fakeVerifier
		want string
	}{
		{"plain", sasl.NewPlainClient("", "demo", "secret"), newFake(), "ok"},
		{"plain wrong", sasl.NewPlainClient("", "demo", "x"), newFake(), "fail:"},
		{"login", sasl.NewLoginClient("demo", "secret"), newFake(), "ok"},
		{"external", sasl.NewExternalClient(""), cert, "ok"},
		{"external same authzid", sasl.NewExternalClient("demo"), cert, "ok"},
		{"external other authzid", sasl.NewExternalClient("root"), cert, "fail:authz_fail"},
		{"external no cert", sasl.NewExternalClient(""), newFake(), "fail:"},
		{"anonymous", sasl.NewAnonymousClient("trace"), newFake(), "ok"},
		{"oauthbearer", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "demo", Token: "secret", Host: "imap.example.org", Port: 993}), newFake(), "ok"},
		{"oauthbearer bad token", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "demo", Token: "nope"}), newFake(), "fail:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(saslRun(t, tt.c, tt.v)); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
}

// TestCRAMMD5RFC2195 is the example of RFC 2195 section 2, against a
// plaintext password and against the stored CRAM-MD5 context.
func TestCRAMMD5RFC2195(t *testing.T) {
	const chal = "<1896.697170952@postoffice.reston.mci.net>"
	ctxStored, err := scheme.Generate("CRAM-MD5", "tanstaaftanstaaf")
	if err != nil {
		t.Fatal(err)
	}
	credsOnly, err := scheme.Credentials(ctxStored, "", "CRAM-MD5")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*fakeVerifier{
		{users: map[string]string{"tim": "tanstaaftanstaaf"}},
		{users: map[string]string{"tim": "unused"}, creds: map[string][]byte{"CRAM-MD5": credsOnly}},
	} {
		c := newCRAMMD5(v)
		c.chal = []byte(chal)
		_, done, err := c.Step(context.Background(), []byte("tim b913a602c7eda7a495b4e6e7334d3890"))
		if !done || err != nil {
			t.Errorf("CRAM-MD5 RFC 2195 example = %v, %v, want success", done, err)
		}
		c = newCRAMMD5(v)
		c.chal = []byte(chal)
		if _, _, err := c.Step(context.Background(), []byte("tim b913a602c7eda7a495b4e6e7334d3891")); code(err) != "fail:" {
			t.Errorf("CRAM-MD5 with a wrong digest = %v, want failure", err)
		}
	}
	if u, d, err := ParseCRAMMD5([]byte("tim smith b913a602c7eda7a495b4e6e7334d3890")); err != nil || u != "tim smith" || len(d) != 16 {
		t.Errorf("ParseCRAMMD5(name with space) = %q, %x, %v", u, d, err)
	}
}

// TestSCRAMVectors are the examples of RFC 5802 section 5 and RFC 7677
// section 3, against stored keys (no plaintext).
func TestSCRAMVectors(t *testing.T) {
	tests := []struct {
		mech, hash, salt, snonce string
		msgs                     [4]string
	}{
		{"SCRAM-SHA-1", "SHA-1", "QSXCR+Q6sek8bf92", "3rfcNHYJY1ZVvWVs7j", [4]string{
			"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		}},
		{"SCRAM-SHA-256", "SHA-256", "W22ZaJ0SNY7soEsUEjb6gQ==", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", [4]string{
			"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mech, func(t *testing.T) {
			salt, _ := base64.StdEncoding.DecodeString(tt.salt)
			keys, err := scheme.SCRAMFromPassword(tt.hash, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			v := &fakeVerifier{users: map[string]string{"user": "not-the-password"}, creds: map[string][]byte{tt.mech: []byte(keys.String())}}
			m, _ := Lookup(tt.mech)
			s := m.New(v).(*scram)
			s.snonce = tt.snonce
			chal, done, err := s.Step(context.Background(), []byte(tt.msgs[0]))
			if done || string(chal) != tt.msgs[1] {
				t.Fatalf("server-first = %q, %v, %v, want %q", chal, done, err, tt.msgs[1])
			}
			chal, done, err = s.Step(context.Background(), []byte(tt.msgs[2]))
			if !done || err != nil || string(chal) != tt.msgs[3] {
				t.Fatalf("server-final = %q, %v, %v, want %q", chal, done, err, tt.msgs[3])
			}
		})
	}
}

// scramClient is a minimal RFC 5802 client for the tests.
type scramClient struct {
	h                      func() hash.Hash
	user, pass             string
	gs2, cnonce, firstBare string
	cbData                 []byte
	serverSig              []byte
}

func (c *scramClient) first() []byte {
	c.cnonce = "clientnonce123"
	c.firstBare = "n=" + strings.NewReplacer("=", "=3D", ",", "=2C").Replace(c.user) + ",r=" + c.cnonce
	return []byte(c.gs2 + c.firstBare)
}

func (c *scramClient) final(t *testing.T, serverFirst []byte, tamper bool) []byte {
	t.Helper()
	var nonce, salt string
	iter := 0
	for _, a := range strings.Split(string(serverFirst), ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			salt = a[2:]
		case strings.HasPrefix(a, "i="):
			for _, d := range a[2:] {
				iter = iter*10 + int(d-'0')
			}
		}
	}
	s, _ := base64.StdEncoding.DecodeString(salt)
	hname := "SHA-256"
	if c.h().Size() == sha1.Size {
		hname = "SHA-1"
	}
	keys, err := scheme.SCRAMFromPassword(hname, c.pass, s, iter)
	if err != nil {
		t.Fatal(err)
	}
	cb := append([]byte(c.gs2), c.cbData...)
	if tamper {
		cb = append(cb, 'x')
	}
	without := "c=" + base64.StdEncoding.EncodeToString(cb) + ",r=" + nonce
	authMsg := c.firstBare + "," + string(serverFirst) + "," + without
	mac := func(k []byte) []byte { m := hmac.New(c.h, k); m.Write([]byte(authMsg)); return m.Sum(nil) }
	// ClientKey = HMAC(SaltedPassword, "Client Key"); recover it from
	// the salted password the scheme derives.
	salted := saltedPassword(c.h, c.pass, s, iter)
	ck := hmac.New(c.h, salted)
	ck.Write([]byte("Client Key"))
	clientKey := ck.Sum(nil)
	sig := mac(keys.StoredKey)
	proof := make([]byte, len(sig))
	for i := range sig {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSig = mac(keys.ServerKey)
	return []byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof))
}

func saltedPassword(h func() hash.Hash, pass string, salt []byte, iter int) []byte {
	// PBKDF2 with one block is enough for SHA-1 and SHA-256 key sizes.
	m := hmac.New(h, []byte(pass))
	m.Write(salt)
	m.Write([]byte{0, 0, 0, 1})
	u := m.Sum(nil)
	out := append([]byte(nil), u...)
	for i := 1; i < iter; i++ {
		m = hmac.New(h, []byte(pass))
		m.Write(u)
		u = m.Sum(nil)
		for j := range out {
			out[j] ^= u[j]
		}
	}
	return out
}

// TestSCRAMChannelBinding: -PLUS binds to the TLS channel; a different
// channel, a missing binding and a downgrade fail.
func TestSCRAMChannelBinding(t *testing.T) {
	exporter := []byte("0123456789abcdef0123456789abcdef")
	endpoint := sha256.New().Sum(nil)
	bound := Request{ChannelBinding: map[string][]byte{CBTLSExporter: exporter, CBTLSServerEndPoint: endpoint}, PlusAdvertised: true}
	tests := []struct {
		name   string
		mech   string
		gs2    string
		cbData []byte
		req    Request
		tamper bool
		want   string
	}{
		{"plus exporter", "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", exporter, bound, false, "ok"},
		{"plus endpoint", "SCRAM-SHA-1-PLUS", "p=tls-server-end-point,,", endpoint, bound, false, "ok"},
		{"plus other channel", "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", []byte("another TLS connection's exporter"), bound, false, "fail:"},
		{"plus tampered", "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", exporter, bound, true, "fail:"},
		{"plus without binding", "SCRAM-SHA-256-PLUS", "n,,", nil, bound, false, "fail:"},
		{"plus no data", "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", exporter, Request{}, false, "fail:"},
		{"plus unknown type", "SCRAM-SHA-256-PLUS", "p=tls-unique,,", exporter, bound, false, "fail:"},
		{"binding on plain scram", "SCRAM-SHA-256", "p=tls-exporter,,", exporter, bound, false, "fail:"},
		{"downgrade", "SCRAM-SHA-256", "y,,", nil, bound, false, "fail:"},
		{"y without plus offered", "SCRAM-SHA-256", "y,,", nil, Request{}, false, "ok"},
		{"n", "SCRAM-SHA-256", "n,,", nil, bound, false, "ok"},
		{"authzid self", "SCRAM-SHA-256", "n,a=us=2Cer,", nil, Request{}, false, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sha256.New
			if strings.HasPrefix(tt.mech, "SCRAM-SHA-1") {
				h = sha1.New
			}
			v := &fakeVerifier{users: map[string]string{"us,er": "pencil"}, req: tt.req}
			c := &scramClient{h: h, user: "us,er", pass: "pencil", gs2: tt.gs2, cbData: tt.cbData}
			m, _ := Lookup(tt.mech)
			s := m.New(v)
			chal, done, err := s.Step(context.Background(), c.first())
			if done {
				if got := code(err); got != tt.want {
					t.Fatalf("client-first: %s (%v), want %s", got, err, tt.want)
				}
				return
			}
			chal, done, err = s.Step(context.Background(), c.final(t, chal, tt.tamper))
			if !done {
				t.Fatal("exchange not done after client-final")
			}
			if got := code(err); got != tt.want {
				t.Fatalf("client-final: %s (%v), want %s", got, err, tt.want)
			}
			if err == nil && string(chal) != "v="+base64.StdEncoding.EncodeToString(c.serverSig) {
				t.Errorf("server-final = %q, want the server signature", chal)
			}
		})
	}
}

// TestOAuthBearerRFC7628 parses the example of RFC 7628 section 4.1.
func TestOAuthBearerRFC7628(t *testing.T) {
	msg := "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
	m, err := ParseOAuthBearer([]byte(msg))
	want := OAuthBearerMessage{Authzid: "user@example.com", Token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", Host: "server.example.com", Port: "143"}
	if err != nil || m != want {
		t.Errorf("ParseOAuthBearer(%q) = %+v, %v, want %+v", msg, m, err, want)
	}
	// Section 4.3: a failure sends the error status; the client's
	// kvsep ends the exchange.
	v := newFake()
	s, _ := Lookup("OAUTHBEARER")
	sess := s.New(v)
	chal, done, _ := sess.Step(context.Background(), []byte(msg))
	if done || string(chal) != OAuthFailureJSON {
		t.Fatalf("bad token: challenge %q, done %v; want the error status", chal, done)
	}
	if _, done, err := sess.Step(context.Background(), []byte{1}); !done || code(err) != "fail:" {
		t.Errorf("after the dummy response: done %v, %v; want failure", done, err)
	}
}

func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00tim\x00tanstaaftanstaaf")) // RFC 4616 section 4
	f.Add([]byte("Ursel\x00Kurt\x00xipj3plmq"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, c, p, err := ParsePlain(msg)
		if err == nil && len(z)+len(c)+len(p)+2 != len(msg) {
			t.Fatalf("ParsePlain(%q) lost bytes", msg)
		}
		m, _ := Lookup("PLAIN")
		_, _, _ = m.New(newFake()).Step(context.Background(), msg)
	})
}

func FuzzLogin(f *testing.F) {
	f.Add([]byte("tim"), []byte("tanstaaf"))
	f.Fuzz(func(t *testing.T, user, pass []byte) {
		m, _ := Lookup("LOGIN")
		s := m.New(newFake())
		for _, r := range [][]byte{nil, user, pass, pass} {
			if _, done, _ := s.Step(context.Background(), r); done {
				return
			}
		}
		t.Fatalf("LOGIN did not finish for %q, %q", user, pass)
	})
}

func FuzzCRAMMD5(f *testing.F) {
	f.Add([]byte("tim b913a602c7eda7a495b4e6e7334d3890")) // RFC 2195 section 2
	f.Fuzz(func(t *testing.T, msg []byte) {
		if u, d, err := ParseCRAMMD5(msg); err == nil && (len(d) != 16 || u == "") {
			t.Fatalf("ParseCRAMMD5(%q) = %q, %x", msg, u, d)
		}
		s := newCRAMMD5(newFake())
		s.Step(context.Background(), nil)
		s.Step(context.Background(), msg)
	})
}

func FuzzSCRAM(f *testing.F) {
	f.Add([]byte("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"), []byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))                     // RFC 5802
	f.Add([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"), []byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")) // RFC 7677
	f.Add([]byte("p=tls-exporter,a=demo,m=x,n=demo,r=abc,e=1"), []byte("c=cD10bHMtZXhwb3J0ZXIsLA==,r=abc,p=AAAA"))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		if m, err := ParseSCRAMClientFirst(first); err == nil && (m.User == "" || m.Nonce == "" || m.GS2Header+m.Bare != string(first)) {
			t.Fatalf("ParseSCRAMClientFirst(%q) = %+v", first, m)
		}
		if m, err := ParseSCRAMClientFinal(final); err == nil && (m.Nonce == "" || len(m.Proof) == 0) {
			t.Fatalf("ParseSCRAMClientFinal(%q) = %+v", final, m)
		}
		v := newFake()
		v.users["user"] = "pencil"
		v.req = Request{ChannelBinding: map[string][]byte{CBTLSExporter: []byte("x")}}
		for _, name := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"} {
			m, _ := Lookup(name)
			s := m.New(v)
			if _, done, _ := s.Step(context.Background(), first); !done {
				s.Step(context.Background(), final)
			}
		}
	})
}

func FuzzOAuth(f *testing.F) {
	f.Add([]byte("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")) // RFC 7628 section 4.1
	f.Add([]byte("user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\x01\x01"))                                 // Google's XOAUTH2 example
	f.Add([]byte("\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if m, err := ParseOAuthBearer(msg); err == nil && m.Token == "" {
			t.Fatalf("ParseOAuthBearer(%q) gave an empty token", msg)
		}
		if u, tok, err := ParseXOAuth2(msg); err == nil && (u == "" || tok == "") {
			t.Fatalf("ParseXOAuth2(%q) = %q, %q", msg, u, tok)
		}
		for _, name := range []string{"OAUTHBEARER", "XOAUTH2", "EXTERNAL", "ANONYMOUS"} {
			m, _ := Lookup(name)
			s := m.New(newFake())
			for _, r := range [][]byte{msg, msg, msg} {
				if _, done, _ := s.Step(context.Background(), r); done {
					break
				}
			}
		}
	})
}
