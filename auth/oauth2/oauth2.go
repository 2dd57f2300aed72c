// Package oauth2 is the oauth2 passdb: it checks OAuth 2.0 bearer tokens
// (sent by OAUTHBEARER, RFC 7628, and XOAUTH2, or as a password) by
// token introspection (RFC 7662) or locally, as a JWT (RFC 7519) signed
// with a key from a JWKS file (RFC 7517; RS256, RS384, RS512, PS256,
// ES256, ES384). Its args name a file in the form of Dovecot's
// dovecot-oauth2.conf.ext (src/auth/db-oauth2.c).
package oauth2

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"cote/auth/passdb"
	"cote/auth/varexpand"
)

// Config is the oauth2 configuration file.
type Config struct {
	// IntrospectionURL is the RFC 7662 endpoint; IntrospectionMode
	// is post (RFC 7662: POST token=..., the default), get (the token
	// appended to the URL) or auth (GET with the token as bearer).
	IntrospectionURL, IntrospectionMode string
	// ClientID and ClientSecret authenticate cote to the introspection
	// endpoint (HTTP basic); ClientID, when set, must also be in a
	// JWT's aud.
	ClientID, ClientSecret string
	// LocalValidationJWKS is a JWKS file: tokens that are JWTs are
	// checked against it without asking the server.
	LocalValidationJWKS string
	// UsernameAttribute is the claim that names the user (default
	// email); it must equal the login name.
	UsernameAttribute string
	// ActiveAttribute and ActiveValue: the claim that says the token
	// is valid (introspection: active = true).
	ActiveAttribute, ActiveValue string
	// Issuers, when set, are the accepted iss values; Scope the scopes
	// a token must have (space-separated).
	Issuers, Scope []string
	Timeout        time.Duration
}

// ParseConfig reads "key = value" lines; # starts a comment.
func ParseConfig(r io.Reader, name string) (Config, error) {
	c := Config{IntrospectionMode: "post", UsernameAttribute: "email", ActiveAttribute: "active", ActiveValue: "true", Timeout: 10 * time.Second}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Config{}, fmt.Errorf("%s:%d: not key = value", name, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "introspection_url":
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
				return Config{}, fmt.Errorf("%s:%d: introspection_url %q is not an http(s) URL", name, n, v)
			}
			c.IntrospectionURL = v
		case "introspection_mode":
			if v != "post" && v != "get" && v != "auth" {
				return Config{}, fmt.Errorf("%s:%d: introspection_mode %q: want post, get or auth", name, n, v)
			}
			c.IntrospectionMode = v
		case "client_id":
			c.ClientID = v
		case "client_secret":
			c.ClientSecret = v
		case "local_validation_jwks":
			c.LocalValidationJWKS = v
		case "username_attribute":
			c.UsernameAttribute = v
		case "active_attribute":
			c.ActiveAttribute = v
		case "active_value":
			c.ActiveValue = v
		case "issuers":
			c.Issuers = strings.Fields(v)
		case "scope":
			c.Scope = strings.Fields(v)
		case "timeout_msecs":
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return Config{}, fmt.Errorf("%s:%d: timeout_msecs %q", name, n, v)
			}
			c.Timeout = time.Duration(ms) * time.Millisecond
		case "tokeninfo_url", "grant_url", "client_secret_file", "tls_ca_cert_file", "debug", "pass_attrs", "rawlog_dir":
			// Accepted for compatibility, unused.
		default:
			return Config{}, fmt.Errorf("%s:%d: unknown setting %q", name, n, k)
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, err
	}
	if c.IntrospectionURL == "" && c.LocalValidationJWKS == "" {
		return Config{}, fmt.Errorf("%s: neither introspection_url nor local_validation_jwks is set", name)
	}
	return c, nil
}

// Passdb is the oauth2 passdb.
type Passdb struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client
	keys *jwks
	now  func() time.Time
}

// Open reads the configuration file named by args.
func Open(args string, log *slog.Logger) (*Passdb, error) {
	path := strings.TrimSpace(args)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := ParseConfig(f, path)
	if err != nil {
		return nil, err
	}
	return New(cfg, log)
}

// New makes a passdb from a parsed configuration.
func New(cfg Config, log *slog.Logger) (*Passdb, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Passdb{cfg: cfg, log: log.With("passdb", "oauth2"), http: &http.Client{Timeout: cfg.Timeout}, now: time.Now}
	if cfg.LocalValidationJWKS != "" {
		p.keys = &jwks{path: cfg.LocalValidationJWKS}
		if _, err := p.keys.load(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Lookup cannot work: a token is needed.
func (p *Passdb) Lookup(context.Context, varexpand.Values) (passdb.Result, error) {
	return passdb.Result{}, passdb.ErrNoLookup
}

// errInvalid is a token that is not good for the user.
type errInvalid string

func (e errInvalid) Error() string { return "invalid token: " + string(e) }

// VerifyPlain checks the token (the password) for the user. The token is
// never logged.
func (p *Passdb) VerifyPlain(ctx context.Context, v varexpand.Values, token string) (passdb.Result, error) {
	var claims map[string]any
	var err error
	if p.keys != nil && strings.Count(token, ".") == 2 {
		claims, err = p.verifyJWT(token)
	} else if p.cfg.IntrospectionURL != "" {
		claims, err = p.introspect(ctx, token)
	} else {
		err = errInvalid("not a JWT and no introspection_url")
	}
	if err == nil {
		err = p.check(claims, v.User)
	}
	var inv errInvalid
	if errors.As(err, &inv) {
		p.log.Info("token refused", "user", v.User, "why", string(inv))
		return passdb.Result{User: v.User}, passdb.ErrMismatch
	}
	if err != nil {
		return passdb.Result{}, fmt.Errorf("oauth2: %w", err)
	}
	return passdb.Result{User: v.User}, nil
}

// check applies the claims: active, exp, nbf, iss, scope, and the user.
func (p *Passdb) check(claims map[string]any, user string) error {
	now := p.now()
	if a := p.cfg.ActiveAttribute; a != "" {
		if val, ok := claims[a]; ok || p.keys == nil {
			if fmt.Sprint(val) != p.cfg.ActiveValue {
				return errInvalid(a + " is not " + p.cfg.ActiveValue)
			}
		}
	}
	const leeway = 30 * time.Second
	if exp, ok := numClaim(claims, "exp"); ok && now.After(time.Unix(exp, 0).Add(leeway)) {
		return errInvalid("expired")
	}
	if nbf, ok := numClaim(claims, "nbf"); ok && now.Add(leeway).Before(time.Unix(nbf, 0)) {
		return errInvalid("not valid yet")
	}
	if len(p.cfg.Issuers) > 0 {
		iss, _ := claims["iss"].(string)
		if !slices.Contains(p.cfg.Issuers, iss) {
			return errInvalid("issuer not accepted")
		}
	}
	if len(p.cfg.Scope) > 0 {
		s, _ := claims["scope"].(string)
		have := strings.Fields(s)
		for _, want := range p.cfg.Scope {
			if !slices.Contains(have, want) {
				return errInvalid("scope " + want + " missing")
			}
		}
	}
	name, _ := claims[p.cfg.UsernameAttribute].(string)
	if name == "" || !strings.EqualFold(name, user) {
		return errInvalid("token is for another user")
	}
	return nil
}

func numClaim(c map[string]any, k string) (int64, bool) {
	switch v := c[k].(type) {
	case float64:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	}
	return 0, false
}

// introspect asks the introspection endpoint (RFC 7662 section 2).
func (p *Passdb) introspect(ctx context.Context, token string) (map[string]any, error) {
	var req *http.Request
	var err error
	switch p.cfg.IntrospectionMode {
	case "get":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.IntrospectionURL+url.QueryEscape(token), nil)
	case "auth":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.IntrospectionURL, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	default:
		form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.IntrospectionURL, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if p.cfg.ClientID != "" && p.cfg.IntrospectionMode != "auth" {
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	resp, err := p.http.Do(req)
	if err != nil {
		// The URL may hold the token (mode get): say only the host.
		return nil, fmt.Errorf("introspection request to %s failed", req.URL.Host)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("introspection response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if p.cfg.IntrospectionMode == "auth" {
			return nil, errInvalid("introspection refused the token")
		}
		return nil, fmt.Errorf("introspection endpoint refused our credentials: %s", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("introspection endpoint answered %s", resp.Status)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, fmt.Errorf("introspection response is not a JSON object: %w", err)
	}
	return claims, nil
}
