package sql

import (
	"errors"
	"fmt"
	"strings"

	"cote/auth/dbconf"
)

// Config is a parsed dovecot-sql.conf.ext.
type Config struct {
	Driver            string // sqlite or pgsql
	Connect           string
	DefaultPassScheme string
	PasswordQuery     Query
	UserQuery         Query
	IterateQuery      Query
	// Raw query texts, for error messages and tests.
	RawPasswordQuery, RawUserQuery, RawIterateQuery string
}

// Dovecot's defaults (src/auth/db-sql.c).
const (
	DefaultPassScheme    = "MD5"
	DefaultPasswordQuery = "SELECT username, domain, password FROM users WHERE username = '%n' AND domain = '%d'"
	DefaultUserQuery     = "SELECT home, uid, gid FROM users WHERE username = '%n' AND domain = '%d'"
	DefaultIterateQuery  = "SELECT username AS user FROM users"
)

// LoadConfig reads and checks the file at path.
func LoadConfig(path string) (*Config, error) {
	settings, err := dbconf.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(settings)
}

// ParseConfig checks parsed settings: unknown keys, a missing driver or
// connect string, and queries that cannot be rewritten are errors.
func ParseConfig(settings []dbconf.Setting) (*Config, error) {
	c := &Config{
		DefaultPassScheme: DefaultPassScheme,
		RawPasswordQuery:  DefaultPasswordQuery,
		RawUserQuery:      DefaultUserQuery,
		RawIterateQuery:   DefaultIterateQuery,
	}
	err := dbconf.Apply(settings, func(k, v string) error {
		switch k {
		case "driver":
			switch v {
			case "sqlite", "pgsql":
				c.Driver = v
			case "mysql", "cassandra":
				return fmt.Errorf("driver %q is not supported (sqlite, pgsql)", v)
			default:
				return fmt.Errorf("unknown driver %q (sqlite, pgsql)", v)
			}
		case "connect":
			c.Connect = v
		case "default_pass_scheme":
			c.DefaultPassScheme = strings.ToUpper(v)
		case "password_query":
			c.RawPasswordQuery = v
		case "user_query":
			c.RawUserQuery = v
		case "iterate_query":
			c.RawIterateQuery = v
		default:
			return errors.New("unknown setting")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.Driver == "" {
		return nil, errors.New("no driver (sqlite or pgsql) set")
	}
	if c.Connect == "" {
		return nil, errors.New("no connect string set")
	}
	d := SQLite
	if c.Driver == "pgsql" {
		d = PgSQL
	}
	for _, q := range []struct {
		name string
		raw  string
		dst  *Query
	}{
		{"password_query", c.RawPasswordQuery, &c.PasswordQuery},
		{"user_query", c.RawUserQuery, &c.UserQuery},
		{"iterate_query", c.RawIterateQuery, &c.IterateQuery},
	} {
		if *q.dst, err = Rewrite(q.raw, d); err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, err)
		}
	}
	return c, nil
}
