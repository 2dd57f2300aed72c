package login

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
)

// Channel binding (RFC 5056) for the SCRAM -PLUS mechanisms. The auth
// process cannot see the TLS connection, so the login process computes
// the binding data and passes it with the AUTH request: cote's
// cbind_exporter= (tls-exporter, RFC 9266) and cbind_endpoint=
// (tls-server-end-point, RFC 5929 section 4.1), base64. See docs/auth.md.

// exporterLabel is RFC 9266 section 2's exporter label.
const exporterLabel = "EXPORTER-Channel-Binding"

// channelBindingParams returns the AUTH parameters that carry the
// channel-binding data of a TLS connection whose server certificate
// chain is cert (nil when unknown).
func channelBindingParams(st tls.ConnectionState, cert *x509.Certificate) []string {
	var params []string
	// Go refuses the exporter for TLS 1.2 without extended master
	// secret, where RFC 9266 section 3 forbids tls-exporter too.
	if ekm, err := st.ExportKeyingMaterial(exporterLabel, nil, 32); err == nil {
		params = append(params, "cbind_exporter="+base64.StdEncoding.EncodeToString(ekm))
	}
	if h := endpointHash(cert); h != nil {
		params = append(params, "cbind_endpoint="+base64.StdEncoding.EncodeToString(h))
	}
	return params
}

// endpointHash is tls-server-end-point's hash of the server certificate:
// with the hash of its signature algorithm, SHA-256 for MD5 and SHA-1
// (RFC 5929 section 4.1) and for algorithms without one (Ed25519).
func endpointHash(cert *x509.Certificate) []byte {
	if cert == nil {
		return nil
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h := sha512.Sum384(cert.Raw)
		return h[:]
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h := sha512.Sum512(cert.Raw)
		return h[:]
	}
	h := sha256.Sum256(cert.Raw)
	return h[:]
}

// serverCert finds the certificate the server presented: the one for
// the SNI name, as crypto/tls chose it.
func serverCert(cfg *tls.Config, st tls.ConnectionState) *x509.Certificate {
	if cfg == nil {
		return nil
	}
	var pick *tls.Certificate
	if cfg.GetCertificate != nil {
		if c, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: st.ServerName}); err == nil && c != nil {
			pick = c
		}
	}
	var leaves []*x509.Certificate
	if pick == nil {
		for i := range cfg.Certificates {
			c := &cfg.Certificates[i]
			leaf := leafOf(c)
			if leaf == nil {
				continue
			}
			if st.ServerName != "" && leaf.VerifyHostname(st.ServerName) == nil {
				return leaf
			}
			leaves = append(leaves, leaf)
		}
		if len(leaves) > 0 {
			return leaves[0]
		}
		return nil
	}
	return leafOf(pick)
}

func leafOf(c *tls.Certificate) *x509.Certificate {
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// clientCertParams returns valid-client-cert and cert_username= (the
// subject's common name, Dovecot's default ssl_cert_username_field) when
// the client's certificate was verified against the configured CAs.
func clientCertParams(st tls.ConnectionState) []string {
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return nil
	}
	params := []string{"valid-client-cert"}
	if cn := st.PeerCertificates[0].Subject.CommonName; cn != "" {
		params = append(params, "cert_username="+cn)
	}
	return params
}
