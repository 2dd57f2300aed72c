package login

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"
)

func selfSigned(t *testing.T, cn string, client bool) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, leaf
}

// TestChannelBindingParams: the data the login process sends to auth is
// what the client computes on its side of the same TLS connection, and
// differs on another connection.
func TestChannelBindingParams(t *testing.T) {
	srvCert, srvLeaf := selfSigned(t, "imap.example.org", false)
	cliCert, cliLeaf := selfSigned(t, "alice", true)
	pool := x509.NewCertPool()
	pool.AddCert(srvLeaf)
	cliPool := x509.NewCertPool()
	cliPool.AddCert(cliLeaf)
	srvConf := &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: cliPool}
	connect := func(withCert bool) (server, client tls.ConnectionState) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		cc := &tls.Config{RootCAs: pool, ServerName: "imap.example.org"}
		if withCert {
			cc.Certificates = []tls.Certificate{cliCert}
		}
		s, c := tls.Server(a, srvConf), tls.Client(b, cc)
		done := make(chan error, 1)
		go func() { done <- s.Handshake() }()
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return s.ConnectionState(), c.ConnectionState()
	}
	st, ct := connect(false)
	params := channelBindingParams(st, serverCert(srvConf, st))
	ekm, _ := ct.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	sum := sha256.Sum256(ct.PeerCertificates[0].Raw)
	want := []string{"cbind_exporter=" + base64.StdEncoding.EncodeToString(ekm), "cbind_endpoint=" + base64.StdEncoding.EncodeToString(sum[:])}
	if !slices.Equal(params, want) {
		t.Errorf("channelBindingParams = %q, want %q", params, want)
	}
	st2, _ := connect(false)
	if p2 := channelBindingParams(st2, serverCert(srvConf, st2)); p2[0] == params[0] || p2[1] != params[1] {
		t.Errorf("second connection: exporter must differ, endpoint stay: %q vs %q", p2, params)
	}
	if p := clientCertParams(st); p != nil {
		t.Errorf("clientCertParams without a client certificate = %q", p)
	}
	st3, _ := connect(true)
	if p := clientCertParams(st3); !slices.Equal(p, []string{"valid-client-cert", "cert_username=alice"}) {
		t.Errorf("clientCertParams = %q", p)
	}
}

func TestHandshakeChannelBindingFlag(t *testing.T) {
	var h handshake
	l, err := parseServerLine("MECH\tSCRAM-SHA-256-PLUS\tmutual-auth\tchannel-binding")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.add(l); err != nil || len(h.mechs) != 1 || !h.mechs[0].ChannelBinding || h.mechs[0].Plaintext {
		t.Errorf("MECH with channel-binding = %+v, %v", h.mechs, err)
	}
}
