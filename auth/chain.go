package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cote/auth/passdb"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

// This file runs the passdbs and userdbs in order under Dovecot's skip
// and result_success / result_failure / result_internalfail rules
// (src/auth/auth-request.c, auth_request_handle_passdb_callback and
// auth_request_userdb_callback).

// action is a result_* value.
type action int

const (
	actReturnOK action = iota
	actReturn
	actReturnFail
	actContinue
	actContinueOK
	actContinueFail
)

func parseAction(s string, def action) (action, error) {
	switch s {
	case "":
		return def, nil
	case "return-ok":
		return actReturnOK, nil
	case "return":
		return actReturn, nil
	case "return-fail":
		return actReturnFail, nil
	case "continue":
		return actContinue, nil
	case "continue-ok":
		return actContinueOK, nil
	case "continue-fail":
		return actContinueFail, nil
	}
	return 0, fmt.Errorf("bad result action %q (return-ok, return, return-fail, continue, continue-ok, continue-fail)", s)
}

// outcome is what one database answered.
type outcome int

const (
	outOK       outcome = iota
	outFail             // user unknown or wrong password
	outInternal         // the database could not answer
)

// skip values: passdb never/authenticated/unauthenticated, userdb
// never/found/notfound.
type skipRule int

const (
	skipNever skipRule = iota
	skipAuthenticated
	skipUnauthenticated
	skipFound
	skipNotFound
)

// dbRules are one database's skip, result_* and field settings.
type dbRules struct {
	skip                       skipRule
	success, failure, internal action
	// defaults and overrides are default_fields and override_fields:
	// "key=value" templates.
	defaults, overrides []string
}

func parseRules(c DBConfig, isUserdb bool) (dbRules, error) {
	var r dbRules
	var err error
	switch c.Skip {
	case "", "never":
	case "authenticated", "unauthenticated":
		if isUserdb {
			return r, fmt.Errorf("skip = %s is for passdbs (userdb: never, found, notfound)", c.Skip)
		}
		r.skip = map[string]skipRule{"authenticated": skipAuthenticated, "unauthenticated": skipUnauthenticated}[c.Skip]
	case "found", "notfound":
		if !isUserdb {
			return r, fmt.Errorf("skip = %s is for userdbs (passdb: never, authenticated, unauthenticated)", c.Skip)
		}
		r.skip = map[string]skipRule{"found": skipFound, "notfound": skipNotFound}[c.Skip]
	default:
		return r, fmt.Errorf("bad skip %q", c.Skip)
	}
	if r.success, err = parseAction(c.ResultSuccess, actReturnOK); err != nil {
		return r, fmt.Errorf("result_success: %w", err)
	}
	if r.failure, err = parseAction(c.ResultFailure, actContinue); err != nil {
		return r, fmt.Errorf("result_failure: %w", err)
	}
	if r.internal, err = parseAction(c.ResultInternalfail, actContinue); err != nil {
		return r, fmt.Errorf("result_internalfail: %w", err)
	}
	for _, f := range []struct {
		name string
		raw  string
		dst  *[]string
	}{{"default_fields", c.DefaultFields, &r.defaults}, {"override_fields", c.OverrideFields, &r.overrides}} {
		for w := range strings.FieldsSeq(f.raw) {
			if w[0] == '=' {
				return r, fmt.Errorf("%s: %q has no name", f.name, w)
			}
			if err := varexpand.Check(w); err != nil {
				return r, fmt.Errorf("%s: %w", f.name, err)
			}
			*f.dst = append(*f.dst, w)
		}
	}
	return r, nil
}

// chainState is the state a chain carries from one database to the next.
type chainState struct {
	success  bool // passdb_success / userdb_success
	verified bool // the password has been checked (skip_password_check)
	internal bool // a database that was continued past failed internally
	ran      bool // some database was consulted
	last     outcome
	lastAct  action
}

func (st *chainState) skips(r dbRules) bool {
	switch r.skip {
	case skipAuthenticated:
		return st.verified
	case skipUnauthenticated:
		return !st.verified
	case skipFound:
		return st.success
	case skipNotFound:
		return !st.success
	}
	return false
}

// step records one database's outcome and tells whether to consult the
// next one.
func (st *chainState) step(r dbRules, o outcome) bool {
	act := r.failure
	switch o {
	case outOK:
		act = r.success
	case outInternal:
		act = r.internal
	}
	st.ran, st.last, st.lastAct = true, o, act
	cont := false
	switch act {
	case actReturnOK:
		st.success = true
	case actReturnFail:
		st.success = false
	case actContinue:
		cont = true
		if o == outOK {
			st.verified = true
		}
	case actContinueOK:
		cont, st.success, st.verified = true, true, true
	case actContinueFail:
		cont, st.success = true, false
	}
	if cont && o == outInternal {
		st.internal = true
	}
	return cont
}

// final is the chain's answer once it stops.
func (st *chainState) final() outcome {
	switch {
	case !st.ran:
		// Every database was skipped.
		return outInternal
	case st.success:
		return outOK
	case st.internal || st.last == outInternal:
		return outInternal
	case st.last == outOK && (st.lastAct == actReturnFail || st.lastAct == actContinueFail):
		return outFail
	}
	return st.last
}

// passwordVerifier is a passdb that checks passwords itself (an LDAP
// auth bind): ok tells whether the password was right.
type passwordVerifier interface {
	VerifyPassword(ctx context.Context, v varexpand.Values, password string) (r passdb.Result, ok bool, err error)
}

// setField adds "key=value" (or a bare key) to fields, replacing an
// earlier value of the same key.
func setField(fields []string, f string) []string {
	k, _, _ := strings.Cut(f, "=")
	for i, g := range fields {
		if gk, _, _ := strings.Cut(g, "="); gk == k {
			fields[i] = f
			return fields
		}
	}
	return append(fields, f)
}

// applyTemplates expands default_fields or override_fields into fields;
// with onlyMissing, keys already present are kept.
func applyTemplates(fields, tmpls []string, v varexpand.Values, onlyMissing bool) ([]string, error) {
	for _, t := range tmpls {
		f, err := varexpand.Expand(t, v)
		if err != nil {
			return fields, err
		}
		if k, _, _ := strings.Cut(f, "="); onlyMissing && hasField(fields, k) {
			continue
		}
		fields = setField(fields, f)
	}
	return fields, nil
}

// passChain is the outcome of running the passdbs.
type passChain struct {
	// Result merges the entries of the passdbs that succeeded: the
	// fields in order, later ones replacing earlier; the password of
	// the last that had one.
	Result passdb.Result
	// FailFields are the fields of the last entry that was found but
	// refused, for nodelay and reason in the failure reply.
	FailFields []string
	Outcome    outcome
}

// runPassdbs consults the passdbs in order. With check nil it is a lookup
// (PASS, credentials, a userdb check): a passdb that knows the user
// succeeds. Otherwise each entry found is checked with check, or, for a
// passwordVerifier, with password; once a passdb has accepted the
// password and the chain continues, later passdbs are only looked up.
func (s *Server) runPassdbs(ctx context.Context, v varexpand.Values, password string, check func(passdb.Result) bool) passChain {
	var st chainState
	var pc passChain
	pc.Result.User = v.User
	for i, db := range s.passdbs {
		rules := s.passRules[i]
		if st.skips(rules) {
			continue
		}
		var r passdb.Result
		var err error
		ok := true
		if pv, isPV := db.(passwordVerifier); isPV && check != nil && !st.verified {
			r, ok, err = pv.VerifyPassword(ctx, v, password)
		} else {
			r, err = db.Lookup(ctx, v)
		}
		var o outcome
		switch {
		case errors.Is(err, passdb.ErrNotFound):
			o = outFail
		case err != nil:
			s.log.Error("passdb lookup failed", "passdb", i, "user", v.User, "err", err)
			o = outInternal
		default:
			r.Fields, err = applyTemplates(r.Fields, rules.defaults, v, true)
			if err == nil {
				r.Fields, err = applyTemplates(r.Fields, rules.overrides, v, false)
			}
			if err != nil {
				s.log.Error("passdb default_fields/override_fields", "passdb", i, "err", err)
				o = outInternal
				break
			}
			if ok && check != nil && !st.verified {
				if _, isPV := db.(passwordVerifier); !isPV {
					ok = check(r)
				}
			}
			if ok {
				o = outOK
				for _, f := range r.Fields {
					if f != "nopassword" {
						pc.Result.Fields = setField(pc.Result.Fields, f)
					}
				}
				if r.Password != "" {
					pc.Result.Password, pc.Result.DefaultScheme = r.Password, r.DefaultScheme
				}
			} else {
				o = outFail
				pc.FailFields = r.Fields
			}
		}
		if !st.step(rules, o) {
			break
		}
	}
	pc.Outcome = st.final()
	return pc
}

// userChain runs the userdbs in order; Result merges the fields of those
// that found the user.
func (s *Server) runUserdbs(ctx context.Context, v varexpand.Values, checkPassdb bool) (userdb.Result, outcome) {
	var st chainState
	res := userdb.Result{User: v.User}
	for i, db := range s.userdbs {
		rules := s.userRules[i]
		if st.skips(rules) {
			continue
		}
		var o outcome
		r, err := s.userdbLookup(ctx, db, v, checkPassdb)
		switch {
		case errors.Is(err, userdb.ErrNotFound):
			o = outFail
		case err != nil:
			s.log.Error("userdb lookup failed", "userdb", i, "user", v.User, "err", err)
			o = outInternal
		default:
			r.Fields, err = applyTemplates(r.Fields, rules.defaults, v, true)
			if err == nil {
				r.Fields, err = applyTemplates(r.Fields, rules.overrides, v, false)
			}
			if err != nil {
				s.log.Error("userdb default_fields/override_fields", "userdb", i, "err", err)
				o = outInternal
				break
			}
			o = outOK
			if r.User != "" {
				res.User = r.User
			}
			for _, f := range r.Fields {
				res.Fields = setField(res.Fields, f)
			}
		}
		if !st.step(rules, o) {
			break
		}
	}
	return res, st.final()
}

// userdbLookup asks one userdb. A static userdb without allow_all_users
// answers only for users a passdb knows, unless checkPassdb is false (the
// login was just authenticated).
func (s *Server) userdbLookup(ctx context.Context, db userdbDriver, v varexpand.Values, checkPassdb bool) (userdb.Result, error) {
	if st, ok := db.(*userdb.Static); ok && checkPassdb && !st.AllowAllUsers {
		switch s.runPassdbs(ctx, v, "", nil).Outcome {
		case outFail:
			return userdb.Result{}, userdb.ErrNotFound
		case outInternal:
			return userdb.Result{}, errTemporary
		}
	}
	return db.Lookup(ctx, v)
}
