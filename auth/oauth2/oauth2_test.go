package oauth2

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cote/auth/passdb"
	"cote/auth/varexpand"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signJWT makes a compact JWS with RS256 or ES256.
func signJWT(t *testing.T, alg, kid string, key crypto.Signer, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	signed := b64(h) + "." + b64(c)
	d := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, d[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64(sig)
}

func TestJWTLocalValidation(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPub, _ := ecKey.PublicKey.Bytes()
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"r1","alg":"RS256","use":"sig","n":%q,"e":%q},{"kty":"EC","kid":"e1","crv":"P-256","x":%q,"y":%q}]}`,
		b64(rsaKey.N.Bytes()), b64(big.NewInt(int64(rsaKey.E)).Bytes()), b64(ecPub[1:33]), b64(ecPub[33:]))
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{LocalValidationJWKS: path, UsernameAttribute: "email", ActiveAttribute: "active", ActiveValue: "true",
		Issuers: []string{"https://idp.example"}, ClientID: "cote", Scope: []string{"mail"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://idp.example", "aud": "cote", "email": "Alice@Example.org", "exp": now.Add(time.Hour).Unix(), "scope": "openid mail"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"rs256", signJWT(t, "RS256", "r1", rsaKey, claims(nil)), "ok"},
		{"es256", signJWT(t, "ES256", "e1", ecKey, claims(nil)), "ok"},
		{"es256 without kid", signJWT(t, "ES256", "", ecKey, claims(nil)), "ok"},
		{"wrong key", signJWT(t, "ES256", "e1", otherKey, claims(nil)), "mismatch"},
		{"alg confusion", signJWT(t, "ES256", "r1", ecKey, claims(nil)), "mismatch"},
		{"expired", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), "mismatch"},
		{"other user", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["email"] = "bob@example.org" })), "mismatch"},
		{"other issuer", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["iss"] = "https://evil" })), "mismatch"},
		{"other audience", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["aud"] = []any{"x", "y"} })), "mismatch"},
		{"audience list", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["aud"] = []any{"x", "cote"} })), "ok"},
		{"no scope", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["scope"] = "openid" })), "mismatch"},
		{"inactive", signJWT(t, "RS256", "r1", rsaKey, claims(func(c map[string]any) { c["active"] = false })), "mismatch"},
		{"alg none", b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"email":"alice@example.org"}`)) + ".", "mismatch"},
		{"tampered", strings.Replace(signJWT(t, "RS256", "r1", rsaKey, claims(nil)), ".", ".x", 1), "mismatch"},
		{"not a jwt, no introspection", "opaque-token", "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.VerifyPlain(context.Background(), varexpand.Values{User: "alice@example.org"}, tt.token)
			got := "ok"
			if errors.Is(err, passdb.ErrMismatch) {
				got = "mismatch"
			} else if err != nil {
				got = "error: " + err.Error()
			}
			if got != tt.want {
				t.Errorf("VerifyPlain(%s) = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
}

func TestIntrospection(t *testing.T) {
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, pw, _ := r.BasicAuth()
		gotAuth = append(gotAuth, u+":"+pw)
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		switch r.PostForm.Get("token") {
		case "good":
			fmt.Fprintf(w, `{"active":true,"username":"demo","scope":"mail","exp":%d}`, time.Now().Add(time.Hour).Unix())
		case "revoked":
			fmt.Fprint(w, `{"active":false}`)
		case "boom":
			http.Error(w, "down", http.StatusInternalServerError)
		default:
			fmt.Fprint(w, `{"active":true,"username":"someone-else"}`)
		}
	}))
	defer srv.Close()
	conf := fmt.Sprintf("# test\nintrospection_url = %s\nintrospection_mode = post\nusername_attribute = username\nclient_id = cote\nclient_secret = s3cret\n", srv.URL)
	path := filepath.Join(t.TempDir(), "oauth2.conf")
	os.WriteFile(path, []byte(conf), 0o600)
	p, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ token, want string }{{"good", "ok"}, {"revoked", "mismatch"}, {"other", "mismatch"}, {"boom", "temp"}} {
		_, err := p.VerifyPlain(context.Background(), varexpand.Values{User: "demo"}, tt.token)
		got := "ok"
		switch {
		case errors.Is(err, passdb.ErrMismatch):
			got = "mismatch"
		case err != nil:
			got = "temp"
			if strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q shows the token", err)
			}
		}
		if got != tt.want {
			t.Errorf("introspect %q = %s (%v), want %s", tt.token, got, err, tt.want)
		}
	}
	if len(gotAuth) == 0 || gotAuth[0] != "cote:s3cret" {
		t.Errorf("introspection basic auth = %q, want cote:s3cret", gotAuth)
	}
	if _, err := p.Lookup(context.Background(), varexpand.Values{User: "demo"}); !errors.Is(err, passdb.ErrNoLookup) {
		t.Errorf("Lookup = %v, want ErrNoLookup", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, in := range []string{"", "introspection_url = ftp://x", "bogus = 1", "introspection_url = http://x\nintrospection_mode = put", "novalue"} {
		if _, err := ParseConfig(strings.NewReader(in), "t"); err == nil {
			t.Errorf("ParseConfig(%q) succeeded", in)
		}
	}
}

func FuzzJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		SplitJWT(s)
		ParseJWKS([]byte(s))
	})
}
