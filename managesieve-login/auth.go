package managesievelogin

import (
	"encoding/base64"
	"errors"

	"cote/login"
	"cote/proto"
)

// Fixed texts of authentication replies (RFC 5804 section 1.3 codes).
// Detail goes to the log.
const (
	textAuthFailed      = "Authentication failed."
	textTempFail        = "Temporary authentication failure."
	textInternal        = "Internal error occurred. Refer to server log for more information."
	textPlaintext       = "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	textUnsupportedMech = "Unsupported authentication mechanism."
)

// errBadBase64 is what the challenge function returns for a response
// that is not base64; errBadResponse for one that is not a string.
var (
	errBadBase64   = errors.New("invalid base64 in SASL response")
	errBadResponse = errors.New("invalid SASL response")
)

// RFC 5804 section 2.1: AUTHENTICATE mechanism [initial-response]. Both
// are strings; the initial response is base64, and an empty string is
// an empty initial response.
func (s *session) cmdAuthenticate(cmd command) (bool, error) {
	if len(cmd.args) < 1 || len(cmd.args) > 2 || cmd.args[0].atom || (len(cmd.args) == 2 && cmd.args[1].atom) {
		return s.badCommand("AUTHENTICATE takes a mechanism name and an optional initial response, as strings.")
	}
	mech := string(cmd.args[0].s)
	var ir []byte
	if len(cmd.args) == 2 {
		var err error
		if ir, err = decodeBase64(cmd.args[1].s); err != nil {
			return s.badCommand("Invalid base64 data in initial response.")
		}
	}
	defer clear(ir)
	m, ok := s.c.Mechanism(mech)
	switch {
	case !ok:
		s.no("", textUnsupportedMech)
		return false, nil
	case m.Plaintext && !s.c.PlaintextAllowed():
		s.no("ENCRYPT-NEEDED", textPlaintext)
		return false, nil
	}
	res, err := s.c.Authenticate(s.ctx, m.Name, ir, s.challenge)
	return s.finishAuth(res, err)
}

func decodeBase64(b []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		clear(out)
		return nil, err
	}
	return out[:n], nil
}

// challenge sends a server challenge (a base64 string on its own line,
// RFC 5804 section 2.1) and reads the client's response: a base64
// string, or "*" to cancel.
func (s *session) challenge(data []byte) ([]byte, error) {
	w := s.c.Writer()
	w.WriteString(quote(base64.StdEncoding.EncodeToString(data)))
	w.WriteString("\r\n")
	if err := s.c.Flush(); err != nil {
		return nil, err
	}
	resp, err := s.r.readResponse()
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return nil, errBadResponse
		}
		return nil, err
	}
	defer clear(resp)
	if string(resp) == "*" {
		return nil, login.ErrCanceled
	}
	out, err := decodeBase64(resp)
	if err != nil {
		return nil, errBadBase64
	}
	return out, nil
}

// finishAuth answers the outcome of an authentication, or hands the
// client off after a success. Refusals and temporary failures keep the
// client in the non-authenticated state.
func (s *session) finishAuth(res *login.AuthSuccess, err error) (bool, error) {
	if err == nil {
		// RFC 5804 section 2.1: the worker sends the OK.
		err = s.c.Handoff(s.ctx, res, login.HandoffRequest{Leftover: s.c.Buffered()})
		if err == nil {
			return true, nil
		}
		var he *login.HandoffError
		if !errors.As(err, &he) {
			return true, err
		}
		if he.Status == proto.HandoffRefused {
			s.no("", textAuthFailed)
		} else {
			s.no("TRYLATER", textInternal)
		}
		return false, nil
	}
	var af *login.AuthFailure
	switch {
	case errors.Is(err, login.ErrCanceled):
		s.no("", "Authentication aborted by client.")
	case errors.Is(err, errBadBase64):
		s.no("", "Invalid base64 data in continued response.")
	case errors.Is(err, errBadResponse):
		return s.badCommand("Invalid SASL response: expected one string.")
	case errors.Is(err, login.ErrAuthUnavailable):
		s.no("TRYLATER", textTempFail)
	case errors.As(err, &af):
		s.no(failureText(af))
	default:
		// I/O error, timeout, oversized input or shutdown: the client is
		// gone or must go.
		return true, s.readFailed(err)
	}
	return false, nil
}

// failureText maps an auth failure to its response code and text.
func failureText(af *login.AuthFailure) (code, text string) {
	if af.Temp {
		return "TRYLATER", textTempFail
	}
	switch af.Code {
	case login.FailMechInvalid:
		return "", textUnsupportedMech
	case login.FailMechSSLRequired:
		return "ENCRYPT-NEEDED", textPlaintext
	}
	return "", textAuthFailed
}
