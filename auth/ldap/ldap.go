// Package ldap is cote's LDAP passdb and userdb through
// github.com/go-ldap/ldap/v3, configured like Dovecot's
// (src/auth/db-ldap.c): the driver args are the path of a
// dovecot-ldap.conf.ext file.
//
// The passdb either reads the stored password (pass_attrs
// userPassword=password, with {SCHEME} prefixes and default_pass_scheme)
// or, with auth_bind = yes, checks the password by binding as the user:
// the DN comes from auth_bind_userdn, or from a pass_filter search. The
// userdb maps user_attrs to fields; iterate_filter and iterate_attrs list
// the users.
//
// Every value that goes into a filter is escaped with ldap.EscapeFilter,
// into a DN with ldap.EscapeDN. Connections are pooled (one pool bound as
// dn for searches, one for the users' binds), a dropped connection is
// replaced with back-off between failed attempts, and every connect and
// request is bounded by the timeout setting.
package ldap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"cote/auth/passdb"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

// DB is one configured LDAP source.
type DB struct {
	Config *Config
	log    *slog.Logger
	search *pool // bound as dn
	binds  *pool // for auth binds; only ever used to bind
}

// Open reads the dovecot-ldap.conf.ext file named by args. It does not
// connect: the first lookup does, so that a server that is down at start
// gives temporary failures rather than stopping the auth process.
func Open(args string, log *slog.Logger) (*DB, error) {
	path := strings.TrimSpace(args)
	if path == "" {
		return nil, errors.New("ldap: args must name a dovecot-ldap.conf.ext file")
	}
	c, err := LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	return OpenConfig(c, log), nil
}

// OpenConfig makes a DB from a parsed configuration.
func OpenConfig(c *Config, log *slog.Logger) *DB {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{Config: c, log: log, search: newPool(c, c.DN, c.DNPass)}
	if c.AuthBind {
		db.binds = newPool(c, "", "")
	}
	return db
}

// Close drops the idle connections; requests in flight finish.
func (db *DB) Close() error {
	db.search.close()
	if db.binds != nil {
		db.binds.close()
	}
	return nil
}

func (db *DB) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.Config.Timeout)
}

// find runs one search that must match at most one entry.
func (db *DB) find(ctx context.Context, filter Template, attrs []string, v varexpand.Values) (*goldap.Entry, error) {
	std := stdLookup(v)
	base, err := db.Config.Base.Expand(std, goldap.EscapeDN)
	if err != nil {
		return nil, fmt.Errorf("ldap base: %w", err)
	}
	f, err := filter.Expand(std, goldap.EscapeFilter)
	if err != nil {
		return nil, fmt.Errorf("ldap filter: %w", err)
	}
	req := goldap.NewSearchRequest(base, db.Config.Scope, db.Config.Deref, 2, int(db.Config.Timeout.Seconds()), false, f, attrs, nil)
	var res *goldap.SearchResult
	err = db.search.do(ctx, func(c *goldap.Conn) error {
		var err error
		res, err = c.Search(req)
		return err
	})
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, errNoEntry
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		return nil, fmt.Errorf("ldap: filter %s matches more than one entry", f)
	}
	if err != nil {
		return nil, fmt.Errorf("ldap search: %w", err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, errNoEntry
	case 1:
		return res.Entries[0], nil
	}
	return nil, fmt.Errorf("ldap: filter %s matches more than one entry", f)
}

var errNoEntry = errors.New("no entry")

func stdLookup(v varexpand.Values) func(string) (string, bool) {
	return func(name string) (string, bool) {
		switch name {
		case "user":
			return v.User, true
		case "username":
			n, _, _ := strings.Cut(v.User, "@")
			return n, true
		case "domain":
			_, d, _ := strings.Cut(v.User, "@")
			return d, true
		case "service":
			return v.Service, true
		case "lip":
			return v.LocalIP, true
		case "rip":
			return v.RemoteIP, true
		}
		return "", false
	}
}

func attrValues(e *goldap.Entry) entryValues {
	m := make(map[string][]string, len(e.Attributes))
	for _, a := range e.Attributes {
		m[a.Name] = a.Values
	}
	return newEntryValues(m)
}

// flags are fields Dovecot treats as bare flags.
var flags = map[string]bool{
	"nopassword": true, "nodelay": true, "nologin": true, "proxy": true,
	"proxy_maybe": true, "noauthenticate": true,
}

func isFalse(v string) bool {
	switch strings.ToLower(v) {
	case "", "n", "no", "0", "f", "false", "FALSE":
		return true
	}
	return false
}

// passResult turns mapped pass_attrs into a passdb result.
func (db *DB) passResult(fields []field, v varexpand.Values) passdb.Result {
	r := passdb.Result{User: v.User, DefaultScheme: db.Config.DefaultPassScheme}
	for _, f := range fields {
		switch {
		case f.name == "password":
			r.Password = f.value
		case f.name == "password_noscheme":
			r.Password = "{" + db.Config.DefaultPassScheme + "}" + f.value
		case flags[f.name]:
			if !isFalse(f.value) {
				r.Fields = append(r.Fields, f.name)
			}
		default:
			r.Fields = append(r.Fields, f.name+"="+f.value)
		}
	}
	return r
}

// Lookup is the passdb lookup with pass_filter and pass_attrs: the stored
// password and the extra fields, or passdb.ErrNotFound. With auth_bind it
// answers without a password (a credentials lookup is not possible); the
// login goes through VerifyPassword.
func (db *DB) Lookup(ctx context.Context, v varexpand.Values) (passdb.Result, error) {
	ctx, cancel := db.withTimeout(ctx)
	defer cancel()
	e, err := db.find(ctx, db.Config.PassFilter, db.Config.PassAttrs.Fetch, v)
	if errors.Is(err, errNoEntry) {
		return passdb.Result{}, passdb.ErrNotFound
	}
	if err != nil {
		return passdb.Result{}, err
	}
	fields, err := db.Config.PassAttrs.Apply(attrValues(e), v)
	if err != nil {
		return passdb.Result{}, fmt.Errorf("ldap pass_attrs: %w", err)
	}
	r := db.passResult(fields, v)
	if db.Config.AuthBind {
		r.Password = ""
	}
	return r, nil
}

// PassDB is what OpenPassDB returns: a *DB, or with auth_bind = yes an
// *AuthBindDB that also checks passwords itself.
type PassDB interface {
	Lookup(ctx context.Context, v varexpand.Values) (passdb.Result, error)
	Close() error
}

// OpenPassDB opens an LDAP passdb.
func OpenPassDB(args string, log *slog.Logger) (PassDB, error) {
	db, err := Open(args, log)
	if err != nil {
		return nil, err
	}
	if db.Config.AuthBind {
		return &AuthBindDB{db}, nil
	}
	return db, nil
}

// AuthBindDB is an auth_bind = yes passdb.
type AuthBindDB struct{ *DB }

// VerifyPassword checks a login by binding as the user: ok tells whether
// the server accepted the password. The DN comes from auth_bind_userdn,
// or from a pass_filter search (which also gives the pass_attrs fields).
// An empty password never binds (LDAP would take it as an anonymous
// bind).
func (db *AuthBindDB) VerifyPassword(ctx context.Context, v varexpand.Values, password string) (passdb.Result, bool, error) {
	ctx, cancel := db.withTimeout(ctx)
	defer cancel()
	var dn string
	r := passdb.Result{User: v.User, DefaultScheme: db.Config.DefaultPassScheme}
	if db.Config.AuthBindUserDN != nil {
		var err error
		dn, err = db.Config.AuthBindUserDN.Expand(stdLookup(v), goldap.EscapeDN)
		if err != nil {
			return passdb.Result{}, false, fmt.Errorf("ldap auth_bind_userdn: %w", err)
		}
	} else {
		e, err := db.find(ctx, db.Config.PassFilter, db.Config.PassAttrs.Fetch, v)
		if errors.Is(err, errNoEntry) {
			return passdb.Result{}, false, passdb.ErrNotFound
		}
		if err != nil {
			return passdb.Result{}, false, err
		}
		dn = e.DN
		fields, err := db.Config.PassAttrs.Apply(attrValues(e), v)
		if err != nil {
			return passdb.Result{}, false, fmt.Errorf("ldap pass_attrs: %w", err)
		}
		r = db.passResult(fields, v)
		r.Password = ""
	}
	if password == "" {
		return r, false, nil
	}
	err := db.binds.do(ctx, func(c *goldap.Conn) error { return c.Bind(dn, password) })
	switch {
	case err == nil:
		return r, true, nil
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInappropriateAuthentication):
		return r, false, nil
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultNoSuchObject, goldap.LDAPResultInvalidDNSyntax):
		return passdb.Result{}, false, passdb.ErrNotFound
	}
	return passdb.Result{}, false, fmt.Errorf("ldap auth bind: %w", err)
}

// UserDB is the userdb view of a DB.
type UserDB struct{ *DB }

// OpenUserDB opens an LDAP userdb.
func OpenUserDB(args string, log *slog.Logger) (*UserDB, error) {
	db, err := Open(args, log)
	if err != nil {
		return nil, err
	}
	return &UserDB{db}, nil
}

// Lookup searches user_filter and maps user_attrs to userdb fields; a
// user field changes the user name.
func (u *UserDB) Lookup(ctx context.Context, v varexpand.Values) (userdb.Result, error) {
	ctx, cancel := u.withTimeout(ctx)
	defer cancel()
	e, err := u.find(ctx, u.Config.UserFilter, u.Config.UserAttrs.Fetch, v)
	if errors.Is(err, errNoEntry) {
		return userdb.Result{}, userdb.ErrNotFound
	}
	if err != nil {
		return userdb.Result{}, err
	}
	fields, err := u.Config.UserAttrs.Apply(attrValues(e), v)
	if err != nil {
		return userdb.Result{}, fmt.Errorf("ldap user_attrs: %w", err)
	}
	r := userdb.Result{User: v.User}
	for _, f := range fields {
		name := strings.TrimPrefix(f.name, "userdb_")
		switch {
		case name == "user":
			r.User = f.value
		case flags[name]:
			if !isFalse(f.value) {
				r.Fields = append(r.Fields, name)
			}
		default:
			r.Fields = append(r.Fields, name+"="+f.value)
		}
	}
	return r, nil
}

// List searches iterate_filter (paged) and returns each entry's user
// field from iterate_attrs.
func (u *UserDB) List(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 6*u.Config.Timeout)
	defer cancel()
	base, err := u.Config.Base.Expand(stdLookup(varexpand.Values{}), goldap.EscapeDN)
	if err != nil {
		return nil, fmt.Errorf("ldap base: %w", err)
	}
	f, err := u.Config.IterateFilter.Expand(stdLookup(varexpand.Values{}), goldap.EscapeFilter)
	if err != nil {
		return nil, fmt.Errorf("ldap iterate_filter: %w", err)
	}
	req := goldap.NewSearchRequest(base, u.Config.Scope, u.Config.Deref, 0, 0, false, f, u.Config.IterateAttrs.Fetch, nil)
	var res *goldap.SearchResult
	err = u.search.do(ctx, func(c *goldap.Conn) error {
		var err error
		res, err = c.SearchWithPaging(req, 500)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ldap iterate: %w", err)
	}
	var users []string
	for _, e := range res.Entries {
		fields, err := u.Config.IterateAttrs.Apply(attrValues(e), varexpand.Values{})
		if err != nil {
			return nil, fmt.Errorf("ldap iterate_attrs: %w", err)
		}
		for _, fl := range fields {
			if fl.name == "user" && fl.value != "" {
				users = append(users, fl.value)
				break
			}
		}
	}
	return users, nil
}
