package oauth2

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// jwks is a JWKS file (RFC 7517 section 5), read again when it changes.
type jwks struct {
	path string

	mu    sync.Mutex // guards keys and mtime
	keys  []jwk
	mtime time.Time
	size  int64
}

type jwk struct {
	kid, alg string
	pub      crypto.PublicKey
}

type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// ParseJWKS decodes the RSA and EC public keys of a JWKS document.
func ParseJWKS(data []byte) ([]jwk, error) {
	var doc struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var out []jwk
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := b64url(k.N)
			e, err2 := b64url(k.E)
			if err1 != nil || err2 != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("jwks: key %d: bad RSA key (at least 2048 bits)", i)
			}
			exp := 0
			for _, b := range e {
				exp = exp<<8 | int(b)
			}
			out = append(out, jwk{kid: k.Kid, alg: k.Alg, pub: &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}})
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			default:
				return nil, fmt.Errorf("jwks: key %d: curve %q not supported", i, k.Crv)
			}
			x, err1 := b64url(k.X)
			y, err2 := b64url(k.Y)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("jwks: key %d: bad EC key", i)
			}
			size := (curve.Params().BitSize + 7) / 8
			raw := append([]byte{4}, append(leftPad(x, size), leftPad(y, size)...)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
			if err != nil {
				return nil, fmt.Errorf("jwks: key %d: %w", i, err)
			}
			out = append(out, jwk{kid: k.Kid, alg: k.Alg, pub: pub})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("jwks: no usable signing keys")
	}
	return out, nil
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

// load returns the keys, reading the file again when its mtime or size
// changed.
func (j *jwks) load() ([]jwk, error) {
	st, err := os.Stat(j.path)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.keys != nil && st.ModTime().Equal(j.mtime) && st.Size() == j.size {
		return j.keys, nil
	}
	data, err := os.ReadFile(j.path)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.path, err)
	}
	j.keys, j.mtime, j.size = keys, st.ModTime(), st.Size()
	return keys, nil
}

// SplitJWT decodes a compact JWS (RFC 7515 section 7.1): header and
// claims as JSON, the signature, and the signed input.
func SplitJWT(token string) (header map[string]any, claims map[string]any, sig []byte, signed string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, nil, "", errInvalid("not a compact JWS")
	}
	h, err1 := b64url(parts[0])
	c, err2 := b64url(parts[1])
	sig, err3 := b64url(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, nil, nil, "", errInvalid("bad base64url")
	}
	dec := func(b []byte, v *map[string]any) error {
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		return d.Decode(v)
	}
	if dec(h, &header) != nil || dec(c, &claims) != nil || header == nil || claims == nil {
		return nil, nil, nil, "", errInvalid("bad JSON")
	}
	return header, claims, sig, parts[0] + "." + parts[1], nil
}

// verifyJWT checks the signature against the JWKS and returns the
// claims; aud must hold client_id when that is set.
func (p *Passdb) verifyJWT(token string) (map[string]any, error) {
	header, claims, sig, signed, err := SplitJWT(token)
	if err != nil {
		return nil, err
	}
	alg, _ := header["alg"].(string)
	kid, _ := header["kid"].(string)
	keys, err := p.keys.load()
	if err != nil {
		return nil, err
	}
	ok := false
	for _, k := range keys {
		if kid != "" && k.kid != kid || k.alg != "" && k.alg != alg {
			continue
		}
		if verifySig(alg, k.pub, signed, sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, errInvalid("signature (alg " + alg + ") does not verify with any key")
	}
	if p.cfg.ClientID != "" {
		switch aud := claims["aud"].(type) {
		case string:
			ok = aud == p.cfg.ClientID
		case []any:
			ok = slices.ContainsFunc(aud, func(a any) bool { return a == p.cfg.ClientID })
		default:
			ok = false
		}
		if !ok {
			return nil, errInvalid("audience")
		}
	}
	if _, has := claims["exp"]; !has {
		return nil, errInvalid("no exp")
	}
	return claims, nil
}

// verifySig checks a JWS signature (RFC 7518 section 3); "none" and the
// HMAC algorithms never verify.
func verifySig(alg string, pub crypto.PublicKey, signed string, sig []byte) bool {
	var h crypto.Hash
	switch alg {
	case "RS256", "PS256", "ES256":
		h = crypto.SHA256
	case "RS384", "ES384":
		h = crypto.SHA384
	case "RS512":
		h = crypto.SHA512
	default:
		return false
	}
	var digest []byte
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256([]byte(signed))
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384([]byte(signed))
		digest = d[:]
	default:
		d := sha512.Sum512([]byte(signed))
		digest = d[:]
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case "PS":
			return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if alg[:2] != "ES" || len(sig) != 2*size || (alg == "ES256") != (size == 32) {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}
