package userdb

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"

	"cote/auth/varexpand"
)

// Passwd is the passwd userdb: the system's users, looked up with
// getpwnam (through NSS when cote is built with cgo), as Dovecot's
// userdb passwd. It gives uid, gid and home; Debian's default Dovecot
// configuration pairs it with the PAM passdb.
type Passwd struct{}

// OpenPasswd parses passwd userdb args. Dovecot's only argument,
// blocking=yes|no (whether its auth-worker processes do the lookups), is
// accepted and has no effect: cote's auth process does blocking lookups
// itself.
func OpenPasswd(args string) (*Passwd, error) {
	for _, w := range strings.Fields(args) {
		if k, _, _ := strings.Cut(w, "="); k != "blocking" {
			return nil, fmt.Errorf("userdb passwd: unknown argument %q", w)
		}
	}
	return &Passwd{}, nil
}

// Lookup returns the user's uid, gid and home. A user the system does not
// know, or root, is unknown to the userdb.
func (Passwd) Lookup(_ context.Context, v varexpand.Values) (Result, error) {
	u, err := user.Lookup(v.User)
	if errors.As(err, new(user.UnknownUserError)) {
		return Result{}, ErrNotFound
	}
	if err != nil {
		return Result{}, fmt.Errorf("userdb passwd: %w", err)
	}
	if u.Uid == "0" || u.Gid == "0" {
		return Result{}, ErrNotFound
	}
	r := Result{User: v.User, Fields: []string{"uid=" + u.Uid, "gid=" + u.Gid}}
	if u.HomeDir != "" {
		r.Fields = append(r.Fields, "home="+u.HomeDir)
	}
	return r, nil
}
