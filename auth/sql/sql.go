// Package sql is cote's SQL passdb and userdb, configured like Dovecot's
// (src/auth/db-sql.c, passdb-sql.c, userdb-sql.c): the driver args are the
// path of a dovecot-sql.conf.ext file with driver (sqlite or pgsql),
// connect, default_pass_scheme, password_query, user_query and
// iterate_query.
//
// Unlike Dovecot, which escapes values and writes them into the query
// text, every %-variable in a query becomes a bound parameter (see
// Rewrite). SQLite is embedded (modernc.org/sqlite) and opened read-only;
// PostgreSQL goes through a pgx connection pool. Every query is bounded by
// QueryTimeout.
package sql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"cote/auth/dbconf"
	"cote/auth/passdb"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

// DB is one configured SQL source; the passdb and the userdb share its
// type.
type DB struct {
	Config *Config
	log    *slog.Logger
	be     backend
}

// Open reads the dovecot-sql.conf.ext file named by args and connects.
// A PostgreSQL pool connects lazily, so a database that is down at start
// fails lookups (temporary failures) rather than the auth process.
func Open(args string, log *slog.Logger) (*DB, error) {
	path := strings.TrimSpace(args)
	if path == "" {
		return nil, errors.New("sql: args must name a dovecot-sql.conf.ext file")
	}
	c, err := LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	return OpenConfig(c, log)
}

// OpenConfig connects with a parsed configuration.
func OpenConfig(c *Config, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	be, err := openBackend(c)
	if err != nil {
		return nil, err
	}
	return &DB{Config: c, log: log, be: be}, nil
}

// Close releases the connections.
func (db *DB) Close() error { return db.be.close() }

func (db *DB) run(ctx context.Context, name string, q Query, v varexpand.Values, max int) ([][]column, error) {
	args, err := q.Args(dbconf.Std(v))
	if err != nil {
		return nil, fmt.Errorf("sql %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	rows, err := db.be.query(ctx, q.Text, args, max)
	if err != nil {
		return nil, fmt.Errorf("sql %s: %w", name, err)
	}
	return rows, nil
}

// one runs a lookup query that must find at most one row.
func (db *DB) one(ctx context.Context, name string, q Query, v varexpand.Values) ([]column, error) {
	rows, err := db.run(ctx, name, q, v, 2)
	if err != nil {
		return nil, err
	}
	switch len(rows) {
	case 0:
		return nil, errNotFound
	case 1:
		return rows[0], nil
	}
	return nil, fmt.Errorf("sql %s: more than one row for user %q", name, v.User)
}

var errNotFound = errors.New("no row")

// flags are the fields Dovecot treats as bare flags: any non-NULL value
// sets them, except a false-looking one.
var flags = map[string]bool{
	"nopassword": true, "nodelay": true, "nologin": true, "proxy": true,
	"proxy_maybe": true, "noauthenticate": true,
}

func isFalse(v string) bool {
	switch strings.ToLower(v) {
	case "", "n", "no", "0", "f", "false":
		return true
	}
	return false
}

// userFrom applies the user, username and domain columns to the user
// name; ok is false when none is set.
func userFrom(cols []column, user string) (string, bool) {
	changed := false
	for _, c := range cols {
		switch c.name {
		case "user":
			user, changed = c.value, true
		case "username":
			_, d, hasDomain := strings.Cut(user, "@")
			user, changed = c.value, true
			if hasDomain && !strings.Contains(c.value, "@") {
				user += "@" + d
			}
		case "domain":
			n, _, _ := strings.Cut(user, "@")
			if c.value != "" {
				user, changed = n+"@"+c.value, true
			}
		}
	}
	return user, changed
}

// Lookup is the passdb lookup (password_query). The password column is
// the stored password ({SCHEME} prefixed, or in default_pass_scheme);
// user/username/domain change the user name; every other non-NULL
// column is an extra field, userdb_* ones for the userdb.
func (db *DB) Lookup(ctx context.Context, v varexpand.Values) (passdb.Result, error) {
	cols, err := db.one(ctx, "password_query", db.Config.PasswordQuery, v)
	if errors.Is(err, errNotFound) {
		return passdb.Result{}, passdb.ErrNotFound
	}
	if err != nil {
		return passdb.Result{}, err
	}
	r := passdb.Result{User: v.User, DefaultScheme: db.Config.DefaultPassScheme}
	if u, ok := userFrom(cols, v.User); ok && u != v.User {
		r.Fields = append(r.Fields, "user="+u)
	}
	for _, c := range cols {
		switch c.name {
		case "user", "username", "domain":
		case "password":
			r.Password = c.value
		case "password_noscheme":
			r.Password = "{" + db.Config.DefaultPassScheme + "}" + c.value
		default:
			if _, ok := flags[c.name]; ok {
				if !isFalse(c.value) {
					r.Fields = append(r.Fields, c.name)
				}
				continue
			}
			r.Fields = append(r.Fields, c.name+"="+c.value)
		}
	}
	return r, nil
}

// UserDB is the userdb view of a DB: user_query and iterate_query.
type UserDB struct{ *DB }

// OpenUserDB opens a SQL userdb.
func OpenUserDB(args string, log *slog.Logger) (*UserDB, error) {
	db, err := Open(args, log)
	if err != nil {
		return nil, err
	}
	return &UserDB{db}, nil
}

// Lookup is the userdb lookup (user_query): every non-NULL column is a
// userdb field (uid, gid, home, mail, quota_rule, ...); user, username
// and domain change the user name.
func (u *UserDB) Lookup(ctx context.Context, v varexpand.Values) (userdb.Result, error) {
	cols, err := u.one(ctx, "user_query", u.Config.UserQuery, v)
	if errors.Is(err, errNotFound) {
		return userdb.Result{}, userdb.ErrNotFound
	}
	if err != nil {
		return userdb.Result{}, err
	}
	r := userdb.Result{User: v.User}
	r.User, _ = userFrom(cols, v.User)
	for _, c := range cols {
		switch c.name {
		case "user", "username", "domain":
		default:
			name := strings.TrimPrefix(c.name, "userdb_")
			if _, ok := flags[name]; ok {
				if !isFalse(c.value) {
					r.Fields = append(r.Fields, name)
				}
				continue
			}
			r.Fields = append(r.Fields, name+"="+c.value)
		}
	}
	return r, nil
}

// List runs iterate_query: each row's user column, or username and
// domain, names one user.
func (u *UserDB) List(ctx context.Context) ([]string, error) {
	rows, err := u.run(ctx, "iterate_query", u.Config.IterateQuery, varexpand.Values{}, 0)
	if err != nil {
		return nil, err
	}
	users := make([]string, 0, len(rows))
	for _, cols := range rows {
		name, ok := userFrom(cols, "")
		if !ok || name == "" || strings.HasPrefix(name, "@") {
			return nil, errors.New("sql iterate_query: a row has no user (or username) column")
		}
		users = append(users, name)
	}
	return users, nil
}
