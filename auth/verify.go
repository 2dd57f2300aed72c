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

// VerifyPlain checks the password against the passdb chain (chain.go);
// a master user (authzid, or "user*master") against the master passdbs.
func (v *verifier) VerifyPlain(ctx context.Context, id mech.Identity, password string) error {
	login, master, err := v.resolve(id)
	if err != nil {
		return err
	}
	s := v.cc.s
	user := login
	if master != "" {
		user = master
	}
	v.req.user = user
	v.req.penaltySum = penaltyChecksum(password, user)
	if master != "" && len(s.masters) > 0 {
		return v.verifyMaster(ctx, login, master, password)
	}
	vals := v.values()
	vals.User = user
	pc := s.runPassdbs(ctx, vals, password, func(r passdb.Result) bool { return checkPassword(v.cc, user, r, password) })
	switch pc.Outcome {
	case outInternal:
		return errTemporary
	case outFail:
		v.noteFields(pc.FailFields)
		return &mech.Failure{Code: v.req.failCode}
	}
	v.noteFields(pc.Result.Fields)
	if master != "" {
		// Without master passdbs only the user itself may be asked for.
		return errAuthzDenied
	}
	return v.accept(pc.Result.Fields, password)
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

// lookupUser runs the userdbs in order under their skip and result_*
// rules (chain.go); by default the first that knows the user wins. A
// static userdb without allow_all_users only answers for users a passdb
// knows, unless checkPassdb is false (the login was just authenticated).
func (s *Server) lookupUser(ctx context.Context, v varexpand.Values, checkPassdb bool) (userdb.Result, error) {
	r, o := s.runUserdbs(ctx, v, checkPassdb)
	switch o {
	case outOK:
		return r, nil
	case outInternal:
		return userdb.Result{}, errTemporary
	}
	return userdb.Result{}, userdb.ErrNotFound
}

// lookupPass finds the user in the passdbs without checking a password.
func (s *Server) lookupPass(ctx context.Context, v varexpand.Values) (passdb.Result, error) {
	pc := s.runPassdbs(ctx, v, "", nil)
	switch pc.Outcome {
	case outOK:
		return pc.Result, nil
	case outInternal:
		return passdb.Result{}, errTemporary
	}
	return passdb.Result{}, passdb.ErrNotFound
}
