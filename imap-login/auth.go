package imaplogin

import (
	"encoding/base64"
	"errors"

	"cote/login"
	"cote/proto"
)

// Fixed texts of authentication replies. Detail goes to the log.
const (
	textAuthFailed      = "[AUTHENTICATIONFAILED] Authentication failed."
	textAuthzFailed     = "[AUTHORIZATIONFAILED] Authorization failed."
	textExpired         = "[EXPIRED] Authentication failed."
	textTempFail        = "[UNAVAILABLE] Temporary authentication failure."
	textInternal        = "[UNAVAILABLE] Internal error occurred. Refer to server log for more information."
	textPrivacyRequired = "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	textUnsupportedMech = "[CANNOT] Unsupported authentication mechanism."
)

// errBadBase64 is what the challenge function returns for a response
// that is not base64; answered with BAD (RFC 9051 section 6.2.2).
var errBadBase64 = errors.New("invalid base64 in SASL response")

// RFC 9051 section 6.2.3. LOGIN runs SASL PLAIN with auth, as Dovecot
// does; it is refused while LOGINDISABLED is advertised.
func (s *session) cmdLogin(cmd *command) (bool, error) {
	if len(cmd.args) != 2 {
		return s.badCommand(cmd.tag, "LOGIN takes a user name and a password.")
	}
	user, ok1 := cmd.args[0].astring()
	pass, ok2 := cmd.args[1].astring()
	if !ok1 || !ok2 {
		return s.badCommand(cmd.tag, "LOGIN arguments must be strings.")
	}
	if !s.c.PlaintextAllowed() {
		s.tagged(cmd.tag, "NO "+textPrivacyRequired)
		return false, nil
	}
	if !s.loginAllowed() {
		s.tagged(cmd.tag, "NO [CANNOT] LOGIN is disabled, use AUTHENTICATE.")
		return false, nil
	}
	// RFC 4616: authzid NUL authcid NUL passwd, with no authzid.
	ir := make([]byte, 0, len(user)+len(pass)+2)
	ir = append(ir, 0)
	ir = append(ir, user...)
	ir = append(ir, 0)
	ir = append(ir, pass...)
	res, err := s.c.Authenticate(s.ctx, "PLAIN", ir, nil)
	clear(ir)
	return s.finishAuth(cmd.tag, "PLAIN", res, err)
}

// RFC 9051 section 6.2.2, with the initial response of RFC 4959.
func (s *session) cmdAuthenticate(cmd *command) (bool, error) {
	if len(cmd.args) < 1 || len(cmd.args) > 2 || cmd.args[0].kind != argAtom {
		return s.badCommand(cmd.tag, "AUTHENTICATE takes a mechanism and an optional initial response.")
	}
	mech := upperASCII(cmd.args[0].s)
	var ir []byte
	if len(cmd.args) == 2 {
		a := cmd.args[1]
		if a.kind != argAtom {
			return s.badCommand(cmd.tag, "Invalid initial response.")
		}
		// RFC 4959 section 3: "=" is an empty initial response.
		ir = []byte{}
		if a.s != "=" {
			var err error
			if ir, err = base64.StdEncoding.DecodeString(a.s); err != nil {
				return s.badCommand(cmd.tag, "Invalid base64 in initial response.")
			}
		}
	}
	m, ok := s.c.Mechanism(mech)
	switch {
	case !ok:
		// RFC 9051 section 6.2.2: unsupported mechanism is NO.
		s.tagged(cmd.tag, "NO "+textUnsupportedMech)
		return false, nil
	case m.Plaintext && !s.c.PlaintextAllowed():
		s.tagged(cmd.tag, "NO "+textPrivacyRequired)
		return false, nil
	}
	res, err := s.c.Authenticate(s.ctx, mech, ir, s.challenge)
	return s.finishAuth(cmd.tag, mech, res, err)
}

// challenge sends a server challenge as a continuation request and reads
// the client's response line (RFC 9051 section 6.2.2): base64, "*" to
// cancel.
func (s *session) challenge(data []byte) ([]byte, error) {
	s.w.WriteString("+ ")
	s.w.WriteString(base64.StdEncoding.EncodeToString(data))
	s.w.WriteString("\r\n")
	if err := s.c.Flush(); err != nil {
		return nil, err
	}
	s.p.budget = MaxLine
	line, err := s.p.readLine()
	if err != nil {
		return nil, err
	}
	switch string(line) {
	case "*":
		return nil, login.ErrCanceled
	case "", "=":
		return []byte{}, nil
	}
	resp, err := base64.StdEncoding.DecodeString(string(line))
	clear(line)
	if err != nil {
		return nil, errBadBase64
	}
	return resp, nil
}

// finishAuth answers the outcome of an authentication, or hands the
// client off after a success. Refusals and temporary failures keep the
// client in the not-authenticated state.
func (s *session) finishAuth(tag, mech string, res *login.AuthSuccess, err error) (bool, error) {
	if err == nil {
		err = s.c.Handoff(s.ctx, res, login.HandoffRequest{
			Tag:            tag,
			SendCapability: s.ignoresCapCode,
			Leftover:       s.c.Buffered(),
		})
		if err == nil {
			return true, nil // the worker answers the tag
		}
		var he *login.HandoffError
		if !errors.As(err, &he) {
			return true, err
		}
		if he.Status == proto.HandoffRefused {
			s.tagged(tag, "NO "+textAuthFailed)
		} else {
			s.tagged(tag, "NO "+textInternal)
		}
		return false, nil
	}
	var af *login.AuthFailure
	switch {
	case errors.Is(err, login.ErrCanceled):
		return s.badCommand(tag, "Authentication aborted by client.")
	case errors.Is(err, errBadBase64):
		return s.badCommand(tag, "Invalid base64 data in continued response.")
	case errors.Is(err, login.ErrAuthUnavailable):
		s.tagged(tag, "NO "+textTempFail)
	case errors.As(err, &af) && af.Referral != nil:
		s.tagged(tag, "NO "+referralText(af, mech))
	case errors.As(err, &af):
		s.tagged(tag, "NO "+failureText(af))
	default:
		// I/O error, timeout or shutdown: the client is gone.
		return true, s.readFailed(err)
	}
	return false, nil
}

// referralText answers a login that auth sends to another server: RFC
// 2221 section 4.1's "NO [REFERRAL url] text", with Dovecot's URL
// (imap://destuser;AUTH=mech@host[:port]/) and text (the passdb's
// reason, or "Try this server instead."). A referral without a usable
// URL is an ordinary failure.
func referralText(af *login.AuthFailure, mech string) string {
	url := af.Referral.URLFor("imap", mech, 143)
	if url == "" {
		return textAuthFailed
	}
	text := sanitize(af.Reason)
	if text == "" {
		text = "Try this server instead."
	}
	return "[REFERRAL " + url + "] " + text
}

// failureText maps an auth failure to its response code (RFC 5530).
func failureText(af *login.AuthFailure) string {
	if af.Temp {
		return textTempFail
	}
	switch af.Code {
	case "authz_fail":
		return textAuthzFailed
	case "pass_expired":
		return textExpired
	case login.FailMechInvalid:
		return textUnsupportedMech
	case login.FailMechSSLRequired:
		return textPrivacyRequired
	}
	return textAuthFailed
}
