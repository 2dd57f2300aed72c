// Package passdb holds the password databases the auth service checks
// logins against. Each driver returns the stored password and the passdb
// extra fields; the auth server verifies the password (package scheme) and
// acts on the fields (nodelay, nopassword, ...).
package passdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"cote/auth/passwdfile"
	"cote/auth/varexpand"
)

// ErrNotFound reports an unknown user.
var ErrNotFound = errors.New("passdb: user unknown")

// Result is a passdb entry.
type Result struct {
	User string
	// Password is the stored password; "" when the entry has none.
	Password string
	// DefaultScheme applies to a Password without a {SCHEME} prefix.
	DefaultScheme string
	// Fields are the extra fields, "key=value" or bare "key".
	Fields []string
}

// PasswdFile is the passwd-file passdb.
type PasswdFile struct {
	db *passwdfile.DB
}

// OpenPasswdFile opens a passwd-file passdb with Dovecot's args
// ("scheme=X username_format=%u PATH").
func OpenPasswdFile(args string, log *slog.Logger) (*PasswdFile, error) {
	db, err := passwdfile.Open(args, log)
	if err != nil {
		return nil, err
	}
	return &PasswdFile{db: db}, nil
}

// Lookup finds the user in the file.
func (p *PasswdFile) Lookup(_ context.Context, v varexpand.Values) (Result, error) {
	e, err := p.db.Lookup(v)
	if errors.Is(err, passwdfile.ErrNotFound) {
		return Result{}, ErrNotFound
	}
	if err != nil {
		return Result{}, fmt.Errorf("passdb passwd-file: %w", err)
	}
	return Result{User: v.User, Password: e.Password, DefaultScheme: p.db.Args.Scheme, Fields: e.PassFields}, nil
}
