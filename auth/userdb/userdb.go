// Package userdb holds the user databases that give an authenticated user
// its uid, gid, home and mail settings: passwd-file (Dovecot's format),
// static, and passwd (the system's users).
package userdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
	"strings"

	"cote/auth/passwdfile"
	"cote/auth/varexpand"
)

// ErrNotFound reports an unknown user.
var ErrNotFound = errors.New("userdb: user unknown")

// Result is a userdb entry.
type Result struct {
	User string
	// Fields are "key=value" userdb fields: uid=, gid=, home= first when
	// known, then the rest (mail=, quota_rule=, ...).
	Fields []string
}

// PasswdFile is the passwd-file userdb.
type PasswdFile struct {
	db *passwdfile.DB
}

// OpenPasswdFile opens a passwd-file userdb ("username_format=%u PATH").
func OpenPasswdFile(args string, log *slog.Logger) (*PasswdFile, error) {
	db, err := passwdfile.Open(args, log)
	if err != nil {
		return nil, err
	}
	return &PasswdFile{db: db}, nil
}

// Lookup returns the user's fields. A line without a uid, or with uid 0,
// is an unknown user to the userdb, as in Dovecot.
func (p *PasswdFile) Lookup(_ context.Context, v varexpand.Values) (Result, error) {
	e, err := p.db.Lookup(v)
	if errors.Is(err, passwdfile.ErrNotFound) || (err == nil && (e.UID == 0 || e.GID == 0)) {
		return Result{}, ErrNotFound
	}
	if err != nil {
		return Result{}, fmt.Errorf("userdb passwd-file: %w", err)
	}
	r := Result{User: v.User, Fields: []string{"uid=" + strconv.FormatUint(uint64(e.UID), 10), "gid=" + strconv.FormatUint(uint64(e.GID), 10)}}
	if e.Home != "" {
		r.Fields = append(r.Fields, "home="+e.Home)
	}
	r.Fields = append(r.Fields, e.UserFields...)
	return r, nil
}

// List returns every user in the file.
func (p *PasswdFile) List(context.Context) ([]string, error) {
	return p.db.Users()
}

// Static gives every user the same fields, with variables expanded:
// args "uid=vmail gid=vmail home=/var/mail/%d/%n [allow_all_users=yes]
// [other=value ...]".
type Static struct {
	// AllowAllUsers says that a user lookup need not ask a passdb
	// whether the user exists.
	AllowAllUsers bool
	fields        []string // templates, "key=value"
}

// OpenStatic parses static userdb args. uid and gid names are resolved
// now; uid 0 and gid 0 are refused.
func OpenStatic(args string) (*Static, error) {
	s := &Static{}
	for w := range strings.FieldsSeq(args) {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "allow_all_users":
			s.AllowAllUsers = v == "yes" || v == ""
			continue
		case "uid", "gid":
			id, err := resolveID(v, k == "uid")
			if err != nil {
				return nil, fmt.Errorf("userdb static: %w", err)
			}
			if id == 0 {
				return nil, fmt.Errorf("userdb static: %s=0 is not allowed", k)
			}
			w = k + "=" + strconv.FormatUint(uint64(id), 10)
		case "":
			return nil, fmt.Errorf("userdb static: bad argument %q", w)
		}
		if err := varexpand.Check(v); err != nil {
			return nil, fmt.Errorf("userdb static: %s: %w", k, err)
		}
		s.fields = append(s.fields, w)
	}
	return s, nil
}

func resolveID(s string, isUID bool) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	id := ""
	if isUID {
		u, err := user.Lookup(s)
		if err != nil {
			return 0, fmt.Errorf("invalid uid %q: %w", s, err)
		}
		id = u.Uid
	} else {
		g, err := user.LookupGroup(s)
		if err != nil {
			return 0, fmt.Errorf("invalid gid %q: %w", s, err)
		}
		id = g.Gid
	}
	n, err := strconv.ParseUint(id, 10, 32)
	return uint32(n), err
}

// Lookup expands the fields for the user.
func (s *Static) Lookup(_ context.Context, v varexpand.Values) (Result, error) {
	r := Result{User: v.User}
	for _, f := range s.fields {
		x, err := varexpand.Expand(f, v)
		if err != nil {
			return Result{}, fmt.Errorf("userdb static: %w", err)
		}
		r.Fields = append(r.Fields, x)
	}
	return r, nil
}
