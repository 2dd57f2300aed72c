package auth

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"

	"cote/auth/mech"
	"cote/auth/passdb"
	"cote/auth/scheme"
	"cote/auth/varexpand"
)

// This file holds the request side of the mechanisms beyond a plain
// password check: master users, credentials for CRAM-MD5 and SCRAM,
// EXTERNAL and ANONYMOUS, and the passdb fields the auth process acts on
// itself (allow_nets, proxy, user).

// plainPassdb is a passdb that checks a plaintext password itself (PAM,
// oauth2) and answers passdb.ErrNoLookup to a lookup: the same shape as
// passwordVerifier, with refusals as errors that can carry a FAIL code.
type plainPassdb interface {
	VerifyPlain(ctx context.Context, v varexpand.Values, password string) (passdb.Result, error)
}

// plainAdapter makes a plainPassdb a passwordVerifier for the chain.
type plainAdapter struct {
	d interface {
		plainPassdb
		passdbDriver
	}
}

func (a plainAdapter) Lookup(ctx context.Context, v varexpand.Values) (passdb.Result, error) {
	return a.d.Lookup(ctx, v)
}

func (a plainAdapter) VerifyPassword(ctx context.Context, v varexpand.Values, password string) (passdb.Result, bool, error) {
	r, err := a.d.VerifyPlain(ctx, v, password)
	var rf *passdb.Refusal
	switch {
	case err == nil:
		return r, true, nil
	case errors.As(err, &rf):
		// The chain reads a refusal's reason and code from the fields.
		if rf.Reason != "" {
			r.Fields = setField(r.Fields, "reason="+rf.Reason)
		}
		if rf.Code != "" {
			r.Fields = setField(r.Fields, "code="+rf.Code)
		}
		return r, false, nil
	case errors.Is(err, passdb.ErrMismatch):
		return r, false, nil
	}
	return r, false, err
}

func (a plainAdapter) Close() error {
	if c, ok := a.d.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// masterPassdb is a passdb with master = yes: it checks master users'
// passwords. With pass, the user logged in as must also be in a normal
// passdb.
type masterPassdb struct {
	d    passdbDriver
	pass bool
}

// splitMasters moves the passdbs configured with Master out of the
// normal chain; they are consulted in order, the first that accepts
// wins.
func (s *Server) splitMasters() {
	var keep []passdbDriver
	var rules []dbRules
	for i, c := range s.opts.Passdbs {
		if i >= len(s.passdbs) {
			break
		}
		if c.Master {
			s.masters = append(s.masters, masterPassdb{d: s.passdbs[i], pass: c.Pass})
			continue
		}
		keep = append(keep, s.passdbs[i])
		if i < len(s.passRules) {
			rules = append(rules, s.passRules[i])
		}
	}
	s.passdbs, s.passRules = keep, rules
}

// wrapPassdb puts a driver behind the auth cache and adapts verify-only
// drivers; idx tells passdbs apart in the cache.
func (s *Server) wrapPassdb(d passdbDriver, idx int) passdbDriver {
	if p, ok := d.(interface {
		plainPassdb
		passdbDriver
	}); ok {
		d = plainAdapter{d: p}
	}
	if s.cache == nil {
		return d
	}
	return &cachedPassdb{d: d, idx: idx, s: s}
}

// Request implements mech.Verifier.
func (v *verifier) Request() mech.Request {
	i := v.req.info
	r := mech.Request{ChannelBinding: i.cbind, ValidClientCert: i.validCert, CertUsername: i.certUser,
		ServerPID: uint32(os.Getpid()), ConnectionID: v.cc.cuid}
	if v.cc.login && len(i.cbind) > 0 {
		for _, m := range v.cc.s.mechs {
			if m.Name == v.req.mech+"-PLUS" {
				r.PlusAdvertised = true
			}
		}
	}
	return r
}

var errInvalidUser = &mech.Failure{Reason: "Invalid username"}

var errAuthzDenied = &mech.Failure{Code: mech.CodeAuthzFail, Reason: "Authorization denied"}

// resolve applies auth_master_user_separator ("user*master") and the
// authorization identity, and normalizes the names. It returns the user
// to log in as and, for a master user login, the master user.
func (v *verifier) resolve(id mech.Identity) (login, master string, err error) {
	s := v.cc.s
	authcid, authzid := id.Authcid, id.Authzid
	if sep := s.opts.MasterUserSeparator; sep != "" {
		if l, m, ok := strings.Cut(authcid, sep); ok {
			if authzid != "" || l == "" || m == "" {
				return "", "", errInvalidUser
			}
			authzid, authcid = l, m
		}
	}
	cid, ok := s.normalizeUser(authcid, v.values())
	if !ok {
		v.cc.log.Info("username refused by auth_username_chars or format", "id", v.req.id)
		return "", "", errInvalidUser
	}
	if authzid == "" || authzid == authcid {
		return cid, "", nil
	}
	v.req.user = cid
	zid, ok := s.normalizeUser(authzid, v.values())
	if !ok {
		return "", "", errInvalidUser
	}
	if zid == cid {
		return cid, "", nil
	}
	return zid, cid, nil
}

// verifyMaster checks a master user's password against the master
// passdbs; the login as the other user finishes in finish.
func (v *verifier) verifyMaster(ctx context.Context, login, master, password string) error {
	s := v.cc.s
	vals := v.values()
	vals.User = master
	temp := false
	for _, m := range s.masters {
		var r passdb.Result
		var ok bool
		var err error
		if pv, isPV := m.d.(passwordVerifier); isPV {
			r, ok, err = pv.VerifyPassword(ctx, vals, password)
		} else if r, err = m.d.Lookup(ctx, vals); err == nil {
			ok = checkPassword(v.cc, master, r, password)
		}
		switch {
		case errors.Is(err, passdb.ErrNotFound):
			continue
		case err != nil:
			v.cc.log.Error("master passdb lookup failed", "master_user", master, "err", err)
			temp = true
			continue
		}
		v.noteFields(r.Fields)
		if !ok {
			continue
		}
		if err := v.checkNets(r.Fields); err != nil {
			return err
		}
		v.req.pendingLogin, v.req.masterPass = login, m.pass
		return nil
	}
	if temp {
		return errTemporary
	}
	return &mech.Failure{}
}

// noteFields takes what a failure reply needs from a passdb entry,
// whether or not the password matched.
func (v *verifier) noteFields(fields []string) {
	if hasField(fields, "nodelay") {
		v.req.nodelay = true
	}
	if reason, ok := fieldValue(fields, "reason"); ok {
		v.req.reason = reason
	}
	if code, ok := fieldValue(fields, "code"); ok && (code == mech.CodeUserDisabled || code == mech.CodePassExpired) {
		v.req.failCode = code
	}
}

// checkNets applies allow_nets.
func (v *verifier) checkNets(fields []string) error {
	if nets, ok := fieldValue(fields, "allow_nets"); ok && !allowedNet(nets, v.req.info.rip) {
		v.cc.log.Info("allow_nets check failed", "user", v.req.user, "rip", v.req.info.rip)
		v.req.reason = ""
		return &mech.Failure{}
	}
	return nil
}

// accept applies the merged fields of a passdb lookup whose password
// matched: allow_nets, a changed user name, reason, and for a proxy
// reply the password the client sent (password, "" when not known).
func (v *verifier) accept(fields []string, password string) error {
	if err := v.checkNets(fields); err != nil {
		return err
	}
	if u, ok := fieldValue(fields, "user"); ok && u != "" && u != v.req.user {
		if v.req.origUser == "" {
			v.req.origUser = v.req.user
		}
		v.req.user = u
	}
	v.req.passFields = fields
	v.req.reason = ""
	if reason, ok := fieldValue(fields, "reason"); ok {
		v.req.reason = reason
	}
	if hasField(fields, "proxy") && !hasField(fields, "pass") && password != "" {
		v.req.proxyPass = password
	}
	return nil
}

// allowedNet checks allow_nets: IPs and networks separated by commas or
// spaces; "local" admits a client without an IP (a Unix socket).
func allowedNet(list, rip string) bool {
	ip, err := netip.ParseAddr(rip)
	ip = ip.Unmap()
	for n := range strings.FieldsFuncSeq(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch {
		case n == "local":
			if err != nil {
				return true
			}
		case err != nil:
		case strings.Contains(n, "/"):
			if p, perr := netip.ParsePrefix(n); perr == nil && p.Masked().Contains(ip) {
				return true
			}
		default:
			if a, aerr := netip.ParseAddr(n); aerr == nil && a.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// finish completes a successful exchange: a master user login becomes a
// login as the requested user, who must then be in a normal passdb when
// the master passdb says pass = yes.
func (v *verifier) finish(ctx context.Context) error {
	login := v.req.pendingLogin
	if login == "" {
		return nil
	}
	v.req.pendingLogin = ""
	master := v.req.user
	v.req.user, v.req.masterUser = login, master
	v.req.passFields = nil
	if !v.req.masterPass {
		return nil
	}
	vals := v.values()
	vals.User = login
	pc := v.cc.s.runPassdbs(ctx, vals, "", nil)
	switch pc.Outcome {
	case outOK:
		return v.accept(pc.Result.Fields, "")
	case outInternal:
		return errTemporary
	}
	v.cc.log.Info("master user login: user not found in passdb", "user", login, "master_user", master)
	return errAuthzDenied
}

// Credentials implements mech.Verifier for CRAM-MD5 and SCRAM: the
// stored password, in the mechanism's scheme.
func (v *verifier) Credentials(ctx context.Context, id mech.Identity, want string) ([]byte, error) {
	login, master, err := v.resolve(id)
	if err != nil {
		return nil, err
	}
	s := v.cc.s
	user := login
	var r passdb.Result
	outc := outFail
	if master != "" {
		user = master
		v.req.user = master
		if len(s.masters) == 0 {
			return nil, errAuthzDenied
		}
		vals := v.values()
		vals.User = master
		for _, m := range s.masters {
			mr, err := m.d.Lookup(ctx, vals)
			if err == nil {
				r, outc = mr, outOK
				v.req.pendingLogin, v.req.masterPass = login, m.pass
				break
			}
			if !errors.Is(err, passdb.ErrNotFound) && !errors.Is(err, passdb.ErrNoLookup) {
				outc = outInternal
			}
		}
	} else {
		v.req.user = login
		vals := v.values()
		vals.User = login
		pc := s.runPassdbs(ctx, vals, "", nil)
		r, outc = pc.Result, pc.Outcome
		v.noteFields(pc.FailFields)
	}
	switch outc {
	case outInternal:
		return nil, errTemporary
	case outFail:
		return nil, &mech.Failure{}
	}
	v.noteFields(r.Fields)
	if r.Password == "" {
		v.cc.log.Info("passdb gives no password to derive credentials from", "user", user, "mech", v.req.mech)
		return nil, &mech.Failure{}
	}
	cred, err := scheme.Credentials(r.Password, r.DefaultScheme, want)
	if err != nil {
		v.cc.log.Info("stored password unusable for the mechanism", "user", user, "mech", v.req.mech, "err", err)
		return nil, &mech.Failure{}
	}
	if master != "" {
		err = v.checkNets(r.Fields)
	} else {
		err = v.accept(r.Fields, "")
	}
	if err != nil {
		return nil, err
	}
	return cred, nil
}

// LookupUser implements mech.Verifier for EXTERNAL: the user must be in
// a passdb, whose fields apply as after a password check.
func (v *verifier) LookupUser(ctx context.Context, id mech.Identity) error {
	s := v.cc.s
	user, ok := s.normalizeUser(id.Authcid, v.values())
	if !ok {
		return errInvalidUser
	}
	v.req.user = user
	if id.Authzid != "" && id.Authzid != id.Authcid {
		if z, ok := s.normalizeUser(id.Authzid, v.values()); !ok || z != user {
			return errAuthzDenied
		}
	}
	vals := v.values()
	vals.User = user
	pc := s.runPassdbs(ctx, vals, "", nil)
	switch pc.Outcome {
	case outInternal:
		return errTemporary
	case outFail:
		v.noteFields(pc.FailFields)
		return &mech.Failure{}
	}
	v.noteFields(pc.Result.Fields)
	return v.accept(pc.Result.Fields, "")
}

// Anonymous implements mech.Verifier for ANONYMOUS: the login is the
// auth_anonymous_username, whom the userdb must know.
func (v *verifier) Anonymous(_ context.Context, trace string) error {
	v.req.user = v.cc.s.opts.AnonymousUsername
	v.req.anonymous = true
	if len(trace) > 64 {
		trace = trace[:64]
	}
	v.cc.log.Info("anonymous login", "id", v.req.id, "trace", trace)
	return nil
}

// closeMasters closes the master passdbs' drivers.
func (s *Server) closeMasters() {
	for _, m := range s.masters {
		if c, ok := m.d.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	s.masters = nil
}

// setExtraDefaults fills in the defaults of the options this file and
// the cache and penalty serve.
func setExtraDefaults(o *Options) {
	if o.AnonymousUsername == "" {
		o.AnonymousUsername = "anonymous"
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.CacheNegativeTTL == 0 {
		o.CacheNegativeTTL = DefaultCacheNegativeTTL
	}
}
