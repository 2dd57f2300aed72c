package itest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// SASL mechanisms through real IMAP logins (issue 7): SCRAM-SHA-256 with
// and without channel binding, OAUTHBEARER with a locally checked JWT,
// and EXTERNAL with a TLS client certificate.

// scramClient is a SCRAM-SHA-256(-PLUS) client (RFC 5802, 7677). With
// cbind set it is the -PLUS variant binding to tls-exporter (RFC 9266)
// data cbind; it checks the server's signature.
type scramClient struct {
	user, pass string
	cbind      []byte // tls-exporter data; nil: SCRAM-SHA-256 with "n"

	step            int
	nonce, gs2      string
	clientFirstBare string
	serverSig       []byte
	verified        bool
}

func (c *scramClient) Start() (string, []byte, error) {
	b := make([]byte, 18)
	rand.Read(b)
	c.nonce = base64.RawStdEncoding.EncodeToString(b)
	mech := "SCRAM-SHA-256"
	c.gs2 = "n,,"
	if c.cbind != nil {
		mech += "-PLUS"
		c.gs2 = "p=tls-exporter,,"
	}
	c.clientFirstBare = "n=" + c.user + ",r=" + c.nonce
	return mech, []byte(c.gs2 + c.clientFirstBare), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func scramAttrs(msg string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Split(msg, ",") {
		if len(f) >= 2 && f[1] == '=' {
			m[f[:1]] = f[2:]
		}
	}
	return m
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		serverFirst := string(challenge)
		a := scramAttrs(serverFirst)
		if !strings.HasPrefix(a["r"], c.nonce) || len(a["r"]) == len(c.nonce) {
			return nil, fmt.Errorf("scram: server nonce %q does not extend ours", a["r"])
		}
		salt, err := base64.StdEncoding.DecodeString(a["s"])
		if err != nil {
			return nil, fmt.Errorf("scram: salt: %v", err)
		}
		iter, err := strconv.Atoi(a["i"])
		if err != nil || iter < 1 {
			return nil, fmt.Errorf("scram: iteration count %q", a["i"])
		}
		salted, err := pbkdf2.Key(sha256.New, c.pass, salt, iter, sha256.Size)
		if err != nil {
			return nil, err
		}
		cbin := append([]byte(c.gs2), c.cbind...)
		withoutProof := "c=" + base64.StdEncoding.EncodeToString(cbin) + ",r=" + a["r"]
		authMsg := c.clientFirstBare + "," + serverFirst + "," + withoutProof
		clientKey := hmacSHA256(salted, "Client Key")
		stored := sha256.Sum256(clientKey)
		sig := hmacSHA256(stored[:], authMsg)
		proof := make([]byte, len(clientKey))
		for i := range proof {
			proof[i] = clientKey[i] ^ sig[i]
		}
		c.serverSig = hmacSHA256(hmacSHA256(salted, "Server Key"), authMsg)
		return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
	case 2:
		a := scramAttrs(string(challenge))
		if e, ok := a["e"]; ok {
			return nil, fmt.Errorf("scram: server error %q", e)
		}
		v, err := base64.StdEncoding.DecodeString(a["v"])
		if err != nil || !hmac.Equal(v, c.serverSig) {
			return nil, fmt.Errorf("scram: bad server signature %q", a["v"])
		}
		c.verified = true
		return []byte{}, nil
	}
	return nil, errors.New("scram: unexpected challenge")
}

// exporter is a TLS connection's tls-exporter channel-binding data.
func exporter(t *testing.T, st tls.ConnectionState) []byte {
	t.Helper()
	ekm, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	must(t, err)
	return ekm
}

// dialTLSConn opens an imaps connection with cfg and returns the
// client with the connection's TLS state.
func dialTLSConn(t *testing.T, s *server, cfg *tls.Config) (*imapclient.Client, tls.ConnectionState) {
	t.Helper()
	conn, err := tls.Dial("tcp", s.addr("imaps"), cfg)
	if err != nil {
		t.Fatalf("dial imaps: %v", err)
	}
	c := imapclient.New(conn, nil)
	t.Cleanup(func() { c.Close() })
	if err := c.WaitGreeting(); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return c, conn.ConnectionState()
}

// authOK authenticates and checks the session works (SELECT INBOX).
func authOK(t *testing.T, c *imapclient.Client, sc sasl.Client, what string) {
	t.Helper()
	if err := c.Authenticate(sc); err != nil {
		t.Fatalf("%s: AUTHENTICATE: %v", what, err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("%s: SELECT after AUTHENTICATE: %v", what, err)
	}
	c.Logout().Wait()
}

func authFails(t *testing.T, c *imapclient.Client, sc sasl.Client, what string) {
	t.Helper()
	if err := c.Authenticate(sc); err == nil {
		t.Errorf("%s: AUTHENTICATE succeeded, want failure", what)
	} else {
		t.Logf("%s: failed as wanted: %v", what, err)
	}
}

// fileDir makes a directory the server's unprivileged processes can
// read.
func fileDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cote-sasl-")
	must(t, err)
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestSASLSCRAM(t *testing.T) {
	s := startServer(t, serverOpts{extra: "auth_mechanisms = plain scram-sha-256 scram-sha-256-plus"})

	t.Run("plain", func(t *testing.T) {
		c := dial(t, s, "plain")
		sc := &scramClient{user: "demo", pass: "demo"}
		authOK(t, c, sc, "SCRAM-SHA-256 over plain")
		if !sc.verified {
			t.Errorf("server signature not checked")
		}
	})
	t.Run("plain-wrong-password", func(t *testing.T) {
		authFails(t, dial(t, s, "plain"), &scramClient{user: "demo", pass: "nope"}, "SCRAM-SHA-256 with a wrong password")
	})
	t.Run("plain-no-plus", func(t *testing.T) {
		// -PLUS is offered only over TLS.
		c := dial(t, s, "plain")
		if c.Caps().Has("AUTH=SCRAM-SHA-256-PLUS") {
			t.Errorf("SCRAM-SHA-256-PLUS offered without TLS: %v", c.Caps())
		}
		if !c.Caps().Has("AUTH=SCRAM-SHA-256") {
			t.Errorf("SCRAM-SHA-256 not offered: %v", c.Caps())
		}
	})
	t.Run("tls", func(t *testing.T) {
		c, _ := dialTLSConn(t, s, tlsClientConfig())
		if !c.Caps().Has("AUTH=SCRAM-SHA-256-PLUS") {
			t.Errorf("SCRAM-SHA-256-PLUS not offered over TLS: %v", c.Caps())
		}
		sc := &scramClient{user: "demo", pass: "demo"}
		authOK(t, c, sc, "SCRAM-SHA-256 over TLS")
		if !sc.verified {
			t.Errorf("server signature not checked")
		}
	})
	t.Run("plus", func(t *testing.T) {
		c, st := dialTLSConn(t, s, tlsClientConfig())
		sc := &scramClient{user: "demo", pass: "demo", cbind: exporter(t, st)}
		authOK(t, c, sc, "SCRAM-SHA-256-PLUS with this connection's binding")
		if !sc.verified {
			t.Errorf("server signature not checked")
		}
	})
	t.Run("plus-other-connection", func(t *testing.T) {
		_, other := dialTLSConn(t, s, tlsClientConfig())
		c, st := dialTLSConn(t, s, tlsClientConfig())
		wrong := exporter(t, other)
		if string(wrong) == string(exporter(t, st)) {
			t.Fatal("two TLS connections have the same exporter data")
		}
		authFails(t, c, &scramClient{user: "demo", pass: "demo", cbind: wrong}, "SCRAM-SHA-256-PLUS with another connection's binding")
		// The same connection with its own binding then succeeds: the
		// binding data alone made the difference.
		authOK(t, c, &scramClient{user: "demo", pass: "demo", cbind: exporter(t, st)}, "SCRAM-SHA-256-PLUS retried with this connection's binding")
	})
}

// jwtES256 signs claims as a compact JWT with an ES256 key.
func jwtES256(t *testing.T, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		must(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid}) + "." + enc(claims)
	h := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, key, h[:])
	must(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestSASLOAuthBearer(t *testing.T) {
	dir := fileDir(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	x, y := make([]byte, 32), make([]byte, 32)
	key.X.FillBytes(x)
	key.Y.FillBytes(y)
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y),
	}}})
	must(t, err)
	jwksPath := filepath.Join(dir, "jwks.json")
	must(t, os.WriteFile(jwksPath, jwks, 0o644))
	confPath := filepath.Join(dir, "oauth2.conf")
	must(t, os.WriteFile(confPath, []byte("local_validation_jwks = "+jwksPath+"\nusername_attribute = sub\nissuers = https://idp.test\n"), 0o644))

	s := startServer(t, serverOpts{extra: "auth_mechanisms = plain oauthbearer\npassdb {\n  driver = oauth2\n  args = " + confPath + "\n}"})
	claims := map[string]any{"sub": "demo", "iss": "https://idp.test", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}

	t.Run("good", func(t *testing.T) {
		c := dial(t, s, "tls")
		tok := jwtES256(t, key, "k1", claims)
		authOK(t, c, sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "demo", Token: tok}), "OAUTHBEARER with a good JWT")
	})
	t.Run("wrong-signature", func(t *testing.T) {
		c := dial(t, s, "tls")
		tok := jwtES256(t, other, "k1", claims)
		authFails(t, c, sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "demo", Token: tok}), "OAUTHBEARER with a JWT signed by another key")
	})
	t.Run("other-user", func(t *testing.T) {
		// A good token for demo does not log in someone else.
		c := dial(t, s, "tls")
		tok := jwtES256(t, key, "k1", claims)
		authFails(t, c, sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "other", Token: tok}), "OAUTHBEARER as another user")
	})
	t.Run("expired", func(t *testing.T) {
		c := dial(t, s, "tls")
		old := map[string]any{"sub": "demo", "iss": "https://idp.test", "exp": time.Now().Add(-time.Hour).Unix()}
		authFails(t, c, sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "demo", Token: jwtES256(t, key, "k1", old)}), "OAUTHBEARER with an expired JWT")
	})
}

// testCA is a CA that issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a client certificate for cn.
func (ca *testCA) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestSASLExternal(t *testing.T) {
	dir := fileDir(t)
	ca := newTestCA(t, "cote test CA")
	caPath := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(caPath, ca.pem, 0o644))
	s := startServer(t, serverOpts{extra: "auth_mechanisms = plain external\nssl_ca = <" + caPath + "\nssl_verify_client_cert = yes"})

	withCert := func(cert tls.Certificate) *tls.Config {
		cfg := tlsClientConfig()
		cfg.Certificates = []tls.Certificate{cert}
		return cfg
	}
	t.Run("cert", func(t *testing.T) {
		c, st := dialTLSConn(t, s, withCert(ca.issue(t, "demo")))
		if len(st.PeerCertificates) == 0 {
			t.Fatal("no server certificate")
		}
		authOK(t, c, sasl.NewExternalClient(""), "EXTERNAL with demo's certificate")
	})
	t.Run("cert-authzid", func(t *testing.T) {
		c, _ := dialTLSConn(t, s, withCert(ca.issue(t, "demo")))
		authOK(t, c, sasl.NewExternalClient("demo"), "EXTERNAL with demo's certificate naming demo")
	})
	t.Run("no-cert", func(t *testing.T) {
		c, _ := dialTLSConn(t, s, tlsClientConfig())
		authFails(t, c, sasl.NewExternalClient(""), "EXTERNAL without a certificate")
		// PLAIN still works on that connection: the certificate is
		// optional.
		if err := c.Login("demo", "demo").Wait(); err != nil {
			t.Errorf("LOGIN without a certificate: %v", err)
		}
	})
	t.Run("unknown-user", func(t *testing.T) {
		c, _ := dialTLSConn(t, s, withCert(ca.issue(t, "nobody")))
		authFails(t, c, sasl.NewExternalClient(""), "EXTERNAL with a certificate for an unknown user")
	})
	t.Run("other-ca", func(t *testing.T) {
		// A certificate from a CA the server does not trust fails the
		// handshake.
		other := newTestCA(t, "other CA")
		conn, err := tls.Dial("tcp", s.addr("imaps"), withCert(other.issue(t, "demo")))
		if err == nil {
			c := imapclient.New(conn, nil)
			defer c.Close()
			if err = c.WaitGreeting(); err == nil {
				err = c.Authenticate(sasl.NewExternalClient(""))
			}
		}
		if err == nil {
			t.Errorf("EXTERNAL with a certificate from an untrusted CA succeeded")
		}
	})
}
