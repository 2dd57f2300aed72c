package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"cote/auth/dbconf"
)

// Config is a parsed dovecot-ldap.conf.ext.
type Config struct {
	// URLs are the servers to try in order: uris as given, or hosts as
	// ldap://host:port.
	URLs     []string
	DN       string // bind DN for lookups; "" binds anonymously
	DNPass   string
	AuthBind bool
	// AuthBindUserDN, when set, is the DN to bind as for a login, with no
	// search first.
	AuthBindUserDN Template
	StartTLS       bool // tls = yes
	TLS            *tls.Config
	Deref          int
	Scope          int
	Base           Template

	UserAttrs, PassAttrs, IterateAttrs    AttrMap
	UserFilter, PassFilter, IterateFilter Template

	DefaultPassScheme string
	// Timeout bounds a connect and each request (cote's own setting).
	Timeout time.Duration
	// MaxConnections bounds each connection pool (cote's own setting).
	MaxConnections int
}

// Template is a dbconf template in an LDAP file.
type Template = dbconf.Template

// Dovecot's defaults (src/auth/db-ldap.c).
const (
	DefaultUserAttrs     = "homeDirectory=home,uidNumber=uid,gidNumber=gid"
	DefaultUserFilter    = "(&(objectClass=posixAccount)(uid=%u))"
	DefaultPassAttrs     = "userPassword=password"
	DefaultPassFilter    = "(&(objectClass=posixAccount)(uid=%u))"
	DefaultIterateAttrs  = "uid=user"
	DefaultIterateFilter = "(objectClass=posixAccount)"
	DefaultPassScheme    = "CRYPT"
	DefaultTimeout       = 10 * time.Second
	DefaultMaxConns      = 4
)

// LoadConfig reads and checks the file at path.
func LoadConfig(path string) (*Config, error) {
	settings, err := dbconf.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(settings)
}

type rawConfig struct {
	hosts, uris                                   string
	caFile, caDir, certFile, keyFile, requireCert string
	userAttrs, passAttrs, iterateAttrs            string
	userFilter, passFilter, iterateFilter         string
	base, userDN                                  string
	deref, scope                                  string
}

// ParseConfig checks parsed settings. Unknown keys, values Dovecot would
// refuse, and features cote does not have (SASL binds) are errors.
func ParseConfig(settings []dbconf.Setting) (*Config, error) {
	c := &Config{DefaultPassScheme: DefaultPassScheme, Timeout: DefaultTimeout, MaxConnections: DefaultMaxConns}
	r := rawConfig{
		userAttrs: DefaultUserAttrs, passAttrs: DefaultPassAttrs, iterateAttrs: DefaultIterateAttrs,
		userFilter: DefaultUserFilter, passFilter: DefaultPassFilter, iterateFilter: DefaultIterateFilter,
		deref: "never", scope: "subtree", requireCert: "demand",
	}
	err := dbconf.Apply(settings, func(k, v string) error {
		var err error
		switch k {
		case "hosts":
			r.hosts = v
		case "uris":
			r.uris = v
		case "dn":
			c.DN = v
		case "dnpass":
			c.DNPass = v
		case "auth_bind":
			c.AuthBind, err = dbconf.ParseBool(v)
		case "auth_bind_userdn":
			r.userDN = v
		case "tls":
			c.StartTLS, err = dbconf.ParseBool(v)
		case "tls_ca_cert_file":
			r.caFile = v
		case "tls_ca_cert_dir":
			r.caDir = v
		case "tls_cert_file":
			r.certFile = v
		case "tls_key_file":
			r.keyFile = v
		case "tls_require_cert":
			r.requireCert = v
		case "tls_cipher_suite":
			// OpenLDAP cipher strings do not map onto Go's TLS; Go's
			// defaults apply.
		case "sasl_bind":
			var b bool
			if b, err = dbconf.ParseBool(v); err == nil && b {
				err = errors.New("SASL binds are not supported")
			}
		case "sasl_mech", "sasl_realm", "sasl_authz_id":
			if v != "" {
				err = errors.New("SASL binds are not supported")
			}
		case "deref":
			r.deref = v
		case "scope":
			r.scope = v
		case "base":
			r.base = v
		case "ldap_version":
			if v != "3" {
				err = errors.New("only LDAP version 3 is supported")
			}
		case "debug_level", "ldaprc_path", "blocking":
			// OpenLDAP library and Dovecot process details with no
			// meaning here.
		case "user_attrs":
			r.userAttrs = v
		case "user_filter":
			r.userFilter = v
		case "pass_attrs":
			r.passAttrs = v
		case "pass_filter":
			r.passFilter = v
		case "iterate_attrs":
			r.iterateAttrs = v
		case "iterate_filter":
			r.iterateFilter = v
		case "default_pass_scheme":
			c.DefaultPassScheme = strings.ToUpper(v)
		case "timeout":
			c.Timeout, err = parseSeconds(v)
		case "max_connections":
			c.MaxConnections, err = strconv.Atoi(v)
			if err == nil && (c.MaxConnections < 1 || c.MaxConnections > 256) {
				err = errors.New("must be 1 to 256")
			}
		default:
			err = errors.New("unknown setting")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := c.finish(r); err != nil {
		return nil, err
	}
	return c, nil
}

// parseSeconds reads "10", "10s", "500ms", "1m".
func parseSeconds(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		v = strconv.Itoa(n) + "s"
	}
	d, err := time.ParseDuration(strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), "secs", "s"))
	if err != nil || d <= 0 || d > 10*time.Minute {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return d, nil
}

func (c *Config) finish(r rawConfig) error {
	var err error
	switch {
	case r.uris != "" && r.hosts != "":
		return errors.New("set uris or hosts, not both")
	case r.uris != "":
		for u := range strings.FieldsSeq(r.uris) {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "ldap" && p.Scheme != "ldaps") || p.Host == "" {
				return fmt.Errorf("uris: bad URI %q (ldap://host[:port] or ldaps://host[:port])", u)
			}
			if p.Scheme == "ldaps" && c.StartTLS {
				return fmt.Errorf("uris: %q is ldaps:// and tls = yes asks for StartTLS on top of it", u)
			}
			c.URLs = append(c.URLs, u)
		}
	case r.hosts != "":
		for h := range strings.FieldsSeq(r.hosts) {
			host, port, err := net.SplitHostPort(h)
			if err != nil {
				host, port = h, "389"
			}
			c.URLs = append(c.URLs, "ldap://"+net.JoinHostPort(host, port))
		}
	}
	if len(c.URLs) == 0 {
		return errors.New("no uris or hosts set")
	}
	switch r.deref {
	case "never":
		c.Deref = goldap.NeverDerefAliases
	case "searching":
		c.Deref = goldap.DerefInSearching
	case "finding":
		c.Deref = goldap.DerefFindingBaseObj
	case "always":
		c.Deref = goldap.DerefAlways
	default:
		return fmt.Errorf("deref: %q is not never, searching, finding or always", r.deref)
	}
	switch r.scope {
	case "base":
		c.Scope = goldap.ScopeBaseObject
	case "onelevel":
		c.Scope = goldap.ScopeSingleLevel
	case "subtree":
		c.Scope = goldap.ScopeWholeSubtree
	default:
		return fmt.Errorf("scope: %q is not base, onelevel or subtree", r.scope)
	}
	if r.base == "" {
		return errors.New("no base set")
	}
	if c.Base, err = dbconf.ParseTemplate(r.base, nil); err != nil {
		return fmt.Errorf("base: %w", err)
	}
	if r.userDN != "" {
		if c.AuthBindUserDN, err = dbconf.ParseTemplate(r.userDN, nil); err != nil {
			return fmt.Errorf("auth_bind_userdn: %w", err)
		}
	}
	for _, a := range []struct {
		name, raw string
		dst       *AttrMap
	}{
		{"user_attrs", r.userAttrs, &c.UserAttrs},
		{"pass_attrs", r.passAttrs, &c.PassAttrs},
		{"iterate_attrs", r.iterateAttrs, &c.IterateAttrs},
	} {
		if *a.dst, err = ParseAttrMap(a.raw); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
	}
	for _, f := range []struct {
		name, raw string
		dst       *Template
	}{
		{"user_filter", r.userFilter, &c.UserFilter},
		{"pass_filter", r.passFilter, &c.PassFilter},
		{"iterate_filter", r.iterateFilter, &c.IterateFilter},
	} {
		t, err := dbconf.ParseTemplate(f.raw, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		// Check the filter's syntax with a sample value in every
		// variable.
		sample, _ := t.Expand(func(string) (string, bool) { return "x", true }, goldap.EscapeFilter)
		if _, err := goldap.CompileFilter(sample); err != nil {
			return fmt.Errorf("%s: %q: %w", f.name, f.raw, err)
		}
		*f.dst = t
	}
	return c.tlsConfig(r)
}

func (c *Config) tlsConfig(r rawConfig) error {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch r.requireCert {
	case "demand", "hard":
	case "never", "allow", "try":
		// OpenLDAP's allow and try go on with a bad certificate.
		tc.InsecureSkipVerify = true
	default:
		return fmt.Errorf("tls_require_cert: %q is not never, allow, try, demand or hard", r.requireCert)
	}
	if r.caFile != "" || r.caDir != "" {
		pool := x509.NewCertPool()
		if r.caFile != "" {
			pem, err := os.ReadFile(r.caFile)
			if err != nil {
				return fmt.Errorf("tls_ca_cert_file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("tls_ca_cert_file: no PEM certificate in %s", r.caFile)
			}
		}
		if r.caDir != "" {
			ents, err := os.ReadDir(r.caDir)
			if err != nil {
				return fmt.Errorf("tls_ca_cert_dir: %w", err)
			}
			for _, e := range ents {
				if pem, err := os.ReadFile(r.caDir + "/" + e.Name()); err == nil {
					pool.AppendCertsFromPEM(pem)
				}
			}
		}
		tc.RootCAs = pool
	}
	if (r.certFile == "") != (r.keyFile == "") {
		return errors.New("tls_cert_file and tls_key_file go together")
	}
	if r.certFile != "" {
		cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
		if err != nil {
			return fmt.Errorf("tls_cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	c.TLS = tc
	return nil
}
