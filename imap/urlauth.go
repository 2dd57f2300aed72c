package imap

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"cote/storage"
)

// URLAUTH (RFC 4467) with URLAUTH=BINARY (RFC 5524). A URL's verifier
// is the INTERNAL mechanism: HMAC-SHA256 of the rump URL under the
// mailbox's key (storage.URLAuthStore), in hex. The session checks who
// may fetch a URL (its access identifier against the session's user);
// the owner's store checks the verifier and reads the data
// (FetchURLAuth), through Options.URLAuthFetch when the owner is
// another user.

// URLAuthRequest asks for the data of a URLAUTH-authorized URL whose
// access identifier the asking session has already checked.
type URLAuthRequest struct {
	URL   string // as the client sent it
	Owner string // the URL's user (iuserinfo), whose store verifies and reads
	// What URLFETCH asked for (RFC 5524 section 3.1); a plain URLFETCH
	// asks for Body.
	Body, Binary, BodyPartStructure bool
}

// URLAuthResult is what FetchURLAuth found.
type URLAuthResult struct {
	// Found is false when the URL does not verify or names nothing:
	// URLFETCH answers NIL.
	Found bool
	// Body is the data the URL names (RFC 4467 section 7.3).
	Body []byte
	// Binary is the decoded body part (RFC 5524 section 3.1); BinaryOK
	// is false when its content transfer encoding is unknown.
	Binary   []byte
	BinaryOK bool
	// BodyPartStructure is the part's BODYSTRUCTURE in its wire form.
	BodyPartStructure []byte
}

// urlAuthMechanism is the one mechanism (RFC 4467 section 3).
const urlAuthMechanism = "INTERNAL"

// urlAuthVerifier computes the INTERNAL verifier of a rump URL.
func urlAuthVerifier(key []byte, rump string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(rump))
	return hex.EncodeToString(m.Sum(nil))
}

// FetchURLAuth is URLFETCH's work in the owner's store st: it checks
// req.URL's verifier against the owner's mailbox key and reads what the
// URL names.
func FetchURLAuth(st storage.Store, req URLAuthRequest) (URLAuthResult, error) {
	var none URLAuthResult
	ks, ok := st.(storage.URLAuthStore)
	if !ok {
		return none, nil
	}
	u, err := parseIMAPURL(req.URL)
	if err != nil || !u.absolute || u.user != req.Owner || u.verifier == "" ||
		!strings.EqualFold(u.mechanism, urlAuthMechanism) ||
		!u.expire.IsZero() && time.Now().After(u.expire) {
		return none, nil
	}
	key, err := ks.URLAuthKey(u.mailbox, false)
	if err != nil || key == nil {
		return none, nil
	}
	want := urlAuthVerifier(key, u.rump)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(u.verifier))) {
		return none, nil
	}
	raw, ok, err := readURLMessage(st, u)
	if err != nil || !ok {
		return none, err
	}
	res := URLAuthResult{Found: true}
	if req.Body {
		if res.Body, ok, err = u.extract(raw); err != nil || !ok {
			return none, nil
		}
		if res.Body == nil {
			res.Body = []byte{}
		}
	}
	if req.Binary || req.BodyPartStructure {
		// RFC 5524 section 3.1: both name a body part, so the
		// section may hold part numbers only.
		sec, err := u.sectionSpec()
		if err != nil || sec.specifier != "" {
			return none, nil
		}
		root := parseMessage(raw)
		p, ok := findPart(root, sec.path)
		if !ok {
			return none, nil
		}
		if req.BodyPartStructure {
			e := &enc{}
			if req.Binary {
				decodedStructure(e, raw, root, sec.path)
			} else {
				writeBodyStructure(e, raw, p, true)
			}
			res.BodyPartStructure = e.b
		}
		if req.Binary {
			b, ok, err := binaryContent(sec.path, raw, root)
			if ok && err == nil {
				if u.partial {
					count := u.length
					if count == 0 {
						count = ^uint32(0)
					}
					b = partial(b, u.origin, count)
				}
				res.Binary, res.BinaryOK = b, true
			}
		}
	}
	return res, nil
}

// urlFetchWant is what a URLFETCH asks of one URL.
type urlFetchWant struct{ body, binary, structure bool }

// urlAuthFetch checks that this session's user may fetch u (RFC 4467
// section 3 access identifiers) and has the owner's store fetch it.
// Any failure is a URL that fetches NIL; only the owner's store errors
// are logged.
func (s *session) urlAuthFetch(raw string, u *imapURL, want urlFetchWant) (URLAuthResult, error) {
	var none URLAuthResult
	if !u.absolute || u.user == "" || u.verifier == "" || !strings.EqualFold(u.mechanism, urlAuthMechanism) {
		return none, nil
	}
	if !u.expire.IsZero() && time.Now().After(u.expire) {
		return none, nil
	}
	switch u.access {
	case "user":
		if u.accessUser != s.o.User {
			return none, nil
		}
	case "authuser", "anonymous":
		// Every session here is authenticated.
	default:
		// "submit+": only a submission server may fetch; this is none.
		return none, nil
	}
	req := URLAuthRequest{URL: raw, Owner: u.user, Body: want.body, Binary: want.binary, BodyPartStructure: want.structure}
	var res URLAuthResult
	var err error
	switch {
	case u.user == s.o.User:
		res, err = FetchURLAuth(s.o.Store, req)
	case s.o.URLAuthFetch != nil:
		res, err = s.o.URLAuthFetch(s.ctx, req)
	default:
		return none, nil
	}
	if err != nil {
		s.log.Warn("URLFETCH", "owner", u.user, "err", err)
		return none, nil
	}
	return res, nil
}

// urlAuthStore returns the store's URLAUTH keys, nil when it keeps none
// (URLAUTH is then not advertised).
func urlAuthStore(st storage.Store) storage.URLAuthStore {
	ks, _ := st.(storage.URLAuthStore)
	return ks
}

// cmdGenURLAuth: RFC 4467 section 7.2. Each rump URL must name this
// user and carry an access identifier and no verifier; the mailbox gets
// a key when it has none.
func (s *session) cmdGenURLAuth(c *command) error {
	p := c.p
	type pair struct{ rump, mech string }
	var pairs []pair
	for p.err == nil {
		p.sp()
		rump := p.astring()
		p.sp()
		pairs = append(pairs, pair{rump, p.atom()})
		if p.atEnd() || len(pairs) >= maxCatParts {
			break
		}
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	ks := urlAuthStore(s.o.Store)
	e := untagged().raw("GENURLAUTH")
	for _, pr := range pairs {
		if !strings.EqualFold(pr.mech, urlAuthMechanism) {
			return errNo("", "Unsupported URLAUTH mechanism %s.", truncate(pr.mech, 20))
		}
		u, err := parseIMAPURL(pr.rump)
		if err != nil || !u.absolute || u.access == "" || u.verifier != "" || u.mechanism != "" {
			return errNo(badURLCode(pr.rump), "Invalid URLAUTH rump URL.")
		}
		if u.user != s.o.User {
			return errNo(badURLCode(pr.rump), "URL is not for the logged-in user.")
		}
		key, err := ks.URLAuthKey(u.mailbox, true)
		if err != nil {
			return err
		}
		e.sp().str(u.rump + ":" + urlAuthMechanism + ":" + urlAuthVerifier(key, u.rump))
	}
	s.writeEnc(e)
	return nil
}

// cmdResetKey: RFC 4467 section 7.1. Without a mailbox every key of the
// user is reset; the mechanisms may only name INTERNAL.
func (s *session) cmdResetKey(c *command) error {
	p := c.p
	name := ""
	var mechs []string
	if p.trySP() {
		name = p.mailbox()
		if p.err == nil && name == "" {
			p.fail("empty mailbox name")
		}
		for p.err == nil && p.trySP() {
			mechs = append(mechs, p.atom())
		}
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	for _, m := range mechs {
		if !strings.EqualFold(m, urlAuthMechanism) {
			return errNo("", "Unsupported URLAUTH mechanism %s.", truncate(m, 20))
		}
	}
	return urlAuthStore(s.o.Store).ResetURLAuthKeys(name)
}

// urlFetchArg is one URL of a URLFETCH with what is asked of it.
type urlFetchArg struct {
	url string
	// ext is the RFC 5524 form "(" url *(SP param) ")".
	ext  bool
	want urlFetchWant
}

// cmdURLFetch: RFC 4467 section 7.3, extended by RFC 5524 section 3.
// A URL that does not verify, that this user may not fetch or that
// names nothing answers NIL; the command itself succeeds.
func (s *session) cmdURLFetch(c *command) error {
	p := c.p
	var args []urlFetchArg
	for p.err == nil && p.trySP() {
		if len(args) >= maxCatParts {
			p.fail("too many URLs")
			break
		}
		if !p.tryByte('(') {
			args = append(args, urlFetchArg{url: p.astring(), want: urlFetchWant{body: true}})
			continue
		}
		a := urlFetchArg{url: p.astring(), ext: true}
		for p.err == nil && p.trySP() {
			switch param := strings.ToUpper(p.atom()); param {
			case "BODY":
				a.want.body = true
			case "BINARY":
				a.want.binary = true
			case "BODYPARTSTRUCTURE":
				a.want.structure = true
			default:
				p.fail("unknown URLFETCH parameter %q", truncate(param, 20))
			}
		}
		p.expect(')')
		if a.want.body && a.want.binary {
			// RFC 5524 section 3.1: one or the other.
			p.fail("BODY and BINARY are mutually exclusive")
		}
		args = append(args, a)
	}
	p.end()
	if p.err == nil && len(args) == 0 {
		p.fail("expected URL")
	}
	if p.err != nil {
		return p.err
	}
	for _, a := range args {
		e := untagged().raw("URLFETCH ").str(a.url).sp()
		res := URLAuthResult{}
		if u, err := parseIMAPURL(a.url); err == nil {
			var ferr error
			if res, ferr = s.urlAuthFetch(a.url, u, a.want); ferr != nil {
				return ferr
			}
		}
		switch {
		case !res.Found:
			e.nil()
		case !a.ext:
			e.literal(res.Body)
		default:
			writeURLMetadata(e, a.want, res)
		}
		s.writeEnc(e)
	}
	return nil
}

// writeURLMetadata writes RFC 5524 section 5's url-metadata:
// BODYPARTSTRUCTURE first, then BODY or BINARY (as Dovecot orders them).
func writeURLMetadata(e *enc, want urlFetchWant, res URLAuthResult) {
	e.open()
	sep := func() {
		if e.b[len(e.b)-1] != '(' {
			e.sp()
		}
	}
	if want.structure {
		sep()
		e.raw("BODYPARTSTRUCTURE ")
		e.b = append(e.b, res.BodyPartStructure...)
	}
	if want.body {
		sep()
		e.raw("BODY ").literal(res.Body)
	}
	if want.binary {
		sep()
		e.raw("BINARY ")
		switch {
		case !res.BinaryOK:
			e.nil()
		case strings.IndexByte(string(res.Binary), 0) >= 0:
			e.raw("~").literal(res.Binary)
		default:
			e.literal(res.Binary)
		}
	}
	e.close()
}

// cmdURLAuth runs GENURLAUTH, RESETKEY and URLFETCH (authenticated
// state, RFC 4467 section 7).
func (s *session) cmdURLAuth(c *command) error {
	switch c.name {
	case "GENURLAUTH":
		return s.cmdGenURLAuth(c)
	case "RESETKEY":
		return s.cmdResetKey(c)
	}
	return s.cmdURLFetch(c)
}
