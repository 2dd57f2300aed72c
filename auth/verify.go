package auth

import (
	"context"
	"errors"
	"strings"

	"cote/auth/mech"
	"cote/auth/passdb"
	"cote/auth/scheme"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

// errTemporary marks a lookup that failed for a reason other than the
// user or the password (a passdb that could not be read).
var errTemporary = errors.New("temporary failure")

// verifier is a request's mech.Verifier.
type verifier struct {
	cc  *clientConn
	req *request
}

func (v *verifier) values() varexpand.Values {
	i := v.req.info
	return varexpand.Values{Service: i.service, LocalIP: i.lip, RemoteIP: i.rip}
}

// VerifyPlain checks the password against the passdbs in order: the first
// that accepts wins; an unknown user or a wrong password moves on to the
// next (Dovecot's default result_failure=continue).
func (v *verifier) VerifyPlain(ctx context.Context, authcid, password string) error {
	s := v.cc.s
	user, ok := s.normalizeUser(authcid, v.values())
	if !ok {
		v.cc.log.Info("username refused by auth_username_chars or format", "id", v.req.id)
		return &mech.Failure{Reason: "Invalid username"}
	}
	v.req.user = user
	vals := v.values()
	vals.User = user
	temp := false
	for _, db := range s.passdbs {
		r, err := db.Lookup(ctx, vals)
		if errors.Is(err, passdb.ErrNotFound) {
			continue
		}
		if err != nil {
			v.cc.log.Error("passdb lookup failed", "user", user, "err", err)
			temp = true
			continue
		}
		fields := r.Fields
		if hasField(fields, "nodelay") {
			v.req.nodelay = true
		}
		if reason, ok := fieldValue(fields, "reason"); ok {
			v.req.reason = reason
		}
		if !checkPassword(v.cc, user, r, password) {
			continue
		}
		if u, ok := fieldValue(fields, "user"); ok && u != "" {
			v.req.user = u
		}
		v.req.passFields = fields
		v.req.reason = ""
		return nil
	}
	if temp {
		return errTemporary
	}
	return &mech.Failure{}
}

// checkPassword verifies one passdb entry; it logs why it refused, never
// the password or the stored hash.
func checkPassword(cc *clientConn, user string, r passdb.Result, password string) bool {
	if hasField(r.Fields, "nopassword") {
		return true
	}
	if r.Password == "" {
		cc.log.Info("passdb entry has no password", "user", user)
		return false
	}
	ok, err := scheme.Verify(r.Password, password, r.DefaultScheme)
	if err != nil {
		cc.log.Error("stored password unusable", "user", user, "err", err)
		return false
	}
	return ok
}

func hasField(fields []string, key string) bool {
	_, ok := fieldValue(fields, key)
	return ok
}

func fieldValue(fields []string, key string) (string, bool) {
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// lookupUser runs the userdbs in order; the first that knows the user
// wins. A static userdb without allow_all_users only answers for users a
// passdb knows, unless checkPassdb is false (the login was just
// authenticated).
func (s *Server) lookupUser(ctx context.Context, v varexpand.Values, checkPassdb bool) (userdb.Result, error) {
	temp := false
	for _, db := range s.userdbs {
		if st, ok := db.(*userdb.Static); ok && checkPassdb && !st.AllowAllUsers {
			if _, err := s.lookupPass(ctx, v); err != nil {
				if !errors.Is(err, passdb.ErrNotFound) {
					temp = true
				}
				continue
			}
		}
		r, err := db.Lookup(ctx, v)
		if errors.Is(err, userdb.ErrNotFound) {
			continue
		}
		if err != nil {
			s.log.Error("userdb lookup failed", "user", v.User, "err", err)
			temp = true
			continue
		}
		return r, nil
	}
	if temp {
		return userdb.Result{}, errTemporary
	}
	return userdb.Result{}, userdb.ErrNotFound
}

// lookupPass finds the user in the passdbs without checking a password.
func (s *Server) lookupPass(ctx context.Context, v varexpand.Values) (passdb.Result, error) {
	temp := false
	for _, db := range s.passdbs {
		r, err := db.Lookup(ctx, v)
		if errors.Is(err, passdb.ErrNotFound) {
			continue
		}
		if err != nil {
			s.log.Error("passdb lookup failed", "user", v.User, "err", err)
			temp = true
			continue
		}
		return r, nil
	}
	if temp {
		return passdb.Result{}, errTemporary
	}
	return passdb.Result{}, passdb.ErrNotFound
}
