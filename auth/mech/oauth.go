package mech

import (
	"bytes"
	"context"
	"errors"
	"strings"
)

// OAuthFailureJSON is the error status OAUTHBEARER sends before FAIL
// (RFC 7628 section 3.2.2).
const OAuthFailureJSON = `{"status":"invalid_token","schemes":"bearer"}`

// XOAuth2FailureJSON is XOAUTH2's equivalent (Google's, as Dovecot
// sends it).
const XOAuth2FailureJSON = `{"status":"401","schemes":"bearer"}`

// OAuthBearerMessage is a parsed OAUTHBEARER client response.
type OAuthBearerMessage struct {
	Authzid string
	Token   string
	Host    string
	Port    string
}

// ParseOAuthBearer parses the client's response (RFC 7628 section 3.1):
// gs2-header kvsep *(key=value kvsep) kvsep, with kvsep = 0x01. Channel
// binding ("p=") is not defined for OAUTHBEARER and refused.
func ParseOAuthBearer(msg []byte) (OAuthBearerMessage, error) {
	flag, _, authzid, rest, ok := parseGS2Header(string(msg))
	if !ok || flag == 'p' {
		return OAuthBearerMessage{}, ErrMalformed
	}
	kv, err := parseKVPairs(rest)
	if err != nil {
		return OAuthBearerMessage{}, err
	}
	m := OAuthBearerMessage{Authzid: authzid, Host: kv["host"], Port: kv["port"]}
	if m.Token, err = bearerToken(kv["auth"]); err != nil {
		return OAuthBearerMessage{}, err
	}
	return m, nil
}

// parseKVPairs reads "\x01key=value\x01...\x01\x01". Keys are letters;
// values printable or whitespace (RFC 7628 section 3.1).
func parseKVPairs(s string) (map[string]string, error) {
	body, ok := strings.CutPrefix(s, "\x01")
	if !ok {
		return nil, ErrMalformed
	}
	body, ok = strings.CutSuffix(body, "\x01\x01")
	if !ok && body != "\x01" {
		return nil, ErrMalformed
	}
	kv := map[string]string{}
	if !ok {
		return kv, nil
	}
	for pair := range strings.SplitSeq(body, "\x01") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, ErrMalformed
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return nil, ErrMalformed
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
				return nil, ErrMalformed
			}
		}
		if _, dup := kv[k]; dup {
			return nil, ErrMalformed
		}
		kv[k] = v
	}
	return kv, nil
}

// bearerToken takes the token out of "Bearer TOKEN" (RFC 6750 section
// 2.1; the scheme name is case-insensitive).
func bearerToken(auth string) (string, error) {
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return "", ErrMalformed
	}
	tok := strings.TrimLeft(auth[7:], " ")
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", ErrMalformed
	}
	return tok, nil
}

// ParseXOAuth2 parses "user=USER\x01auth=Bearer TOKEN\x01\x01".
func ParseXOAuth2(msg []byte) (user, token string, err error) {
	kv, err := parseKVPairs("\x01" + string(msg))
	if err != nil {
		return "", "", err
	}
	user = kv["user"]
	if user == "" || bytes.IndexByte([]byte(user), 0) >= 0 {
		return "", "", ErrMalformed
	}
	if token, err = bearerToken(kv["auth"]); err != nil {
		return "", "", err
	}
	return user, token, nil
}

// oauthStep is the shared shape of OAUTHBEARER and XOAUTH2: verify the
// token as the user's password; on refusal send the error status and
// fail once the client acknowledges it.
type oauthStep struct {
	started bool
	failed  error // set after the error status was sent
}

func (o *oauthStep) step(ctx context.Context, v Verifier, resp []byte, errJSON string, parse func([]byte) (Identity, string, error)) ([]byte, bool, error) {
	if o.failed != nil {
		// RFC 7628 section 3.2.3: the client's dummy response ends it.
		return nil, true, o.failed
	}
	if resp == nil && !o.started {
		o.started = true
		return []byte{}, false, nil
	}
	id, token, err := parse(resp)
	if err != nil {
		return nil, true, err
	}
	err = v.VerifyPlain(ctx, id, token)
	var f *Failure
	if errors.As(err, &f) {
		o.failed = err
		return []byte(errJSON), false, nil
	}
	return nil, true, err
}

// oauthBearer is OAUTHBEARER, RFC 7628. The authorization identity (a=)
// names the user; the bearer token is checked by the passdbs as a
// password (the oauth2 passdb validates it).
type oauthBearer struct {
	v Verifier
	oauthStep
}

func (o *oauthBearer) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	return o.step(ctx, o.v, resp, OAuthFailureJSON, func(b []byte) (Identity, string, error) {
		m, err := ParseOAuthBearer(b)
		if err != nil {
			return Identity{}, "", err
		}
		if m.Authzid == "" {
			return Identity{}, "", &Failure{Reason: "Missing username"}
		}
		return Identity{Authcid: m.Authzid}, m.Token, nil
	})
}

// xoauth2 is Google's XOAUTH2.
type xoauth2 struct {
	v Verifier
	oauthStep
}

func (x *xoauth2) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	return x.step(ctx, x.v, resp, XOAuth2FailureJSON, func(b []byte) (Identity, string, error) {
		u, tok, err := ParseXOAuth2(b)
		return Identity{Authcid: u}, tok, err
	})
}
