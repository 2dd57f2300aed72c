package pop3login

import (
	"encoding/base64"
	"errors"
	"strings"

	"cote/login"
	"cote/proto"
)

// Fixed texts of authentication replies (RFC 3206 codes). Detail goes to
// the log.
const (
	textAuthFailed      = "-ERR [AUTH] Authentication failed."
	textTempFail        = "-ERR [SYS/TEMP] Temporary authentication failure."
	textInternal        = "-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information."
	textPlaintext       = "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	textUnsupportedMech = "-ERR Unsupported authentication mechanism."
)

// errBadBase64 is what the challenge function returns for a response
// that is not base64.
var errBadBase64 = errors.New("invalid base64 in SASL response")

// RFC 1939 section 7. The name is kept for PASS; nothing is checked yet.
func (s *session) cmdUser(cmd command) (bool, error) {
	if !s.c.PlaintextAllowed() {
		s.reply(textPlaintext)
		return false, nil
	}
	if !s.userAllowed() {
		s.reply("-ERR USER is disabled, use AUTH.")
		return false, nil
	}
	if len(cmd.args) == 0 {
		return s.badCommand("-ERR USER needs a user name.")
	}
	s.user = string(cmd.args)
	s.reply("+OK")
	return false, nil
}

// RFC 1939 section 7. PASS runs SASL PLAIN with auth, as Dovecot does;
// the password takes the rest of the line, spaces included.
func (s *session) cmdPass(cmd command) (bool, error) {
	defer clear(cmd.args)
	if !s.c.PlaintextAllowed() {
		s.reply(textPlaintext)
		return false, nil
	}
	if s.user == "" {
		s.reply("-ERR No username given.")
		return false, nil
	}
	// RFC 4616: authzid NUL authcid NUL passwd, with no authzid.
	ir := make([]byte, 0, len(s.user)+len(cmd.args)+2)
	ir = append(ir, 0)
	ir = append(ir, s.user...)
	ir = append(ir, 0)
	ir = append(ir, cmd.args...)
	s.user = ""
	res, err := s.c.Authenticate(s.ctx, "PLAIN", ir, nil)
	clear(ir)
	return s.finishAuth(res, err)
}

// RFC 5034 section 4: AUTH mechanism [initial-response]. Without
// arguments it lists the mechanisms, as Dovecot does for old Outlook
// versions.
func (s *session) cmdAuth(cmd command) (bool, error) {
	defer clear(cmd.args)
	if len(cmd.args) == 0 {
		s.reply("+OK")
		for _, m := range s.c.Mechanisms() {
			s.reply(m.Name)
		}
		s.reply(".")
		return false, nil
	}
	mech, irArg := cmd.args, []byte(nil)
	for i, c := range cmd.args {
		if c == ' ' {
			mech, irArg = cmd.args[:i], cmd.args[i+1:]
			break
		}
	}
	var ir []byte
	if irArg != nil {
		// RFC 5034 section 4: "=" is an empty initial response.
		ir = []byte{}
		if string(irArg) != "=" {
			ir = make([]byte, base64.StdEncoding.DecodedLen(len(irArg)))
			n, err := base64.StdEncoding.Decode(ir, irArg)
			if err != nil {
				clear(ir)
				return s.badCommand("-ERR Invalid base64 data in initial response.")
			}
			ir = ir[:n]
		}
	}
	defer clear(ir)
	m, ok := s.c.Mechanism(string(mech))
	switch {
	case !ok:
		s.reply(textUnsupportedMech)
		return false, nil
	case m.Plaintext && !s.c.PlaintextAllowed():
		s.reply(textPlaintext)
		return false, nil
	}
	res, err := s.c.Authenticate(s.ctx, m.Name, ir, s.challenge)
	return s.finishAuth(res, err)
}

// challenge sends a server challenge ("+ " and base64, RFC 5034 section
// 4) and reads the client's response: base64, or "*" to cancel.
func (s *session) challenge(data []byte) ([]byte, error) {
	w := s.c.Writer()
	w.WriteString("+ ")
	w.WriteString(base64.StdEncoding.EncodeToString(data))
	w.WriteString("\r\n")
	if err := s.c.Flush(); err != nil {
		return nil, err
	}
	line, err := readLine(s.c.Reader(), MaxLine)
	if err != nil {
		return nil, err
	}
	defer clear(line)
	switch string(line) {
	case "*":
		return nil, login.ErrCanceled
	case "", "=":
		return []byte{}, nil
	}
	resp := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
	n, err := base64.StdEncoding.Decode(resp, line)
	if err != nil {
		clear(resp)
		return nil, errBadBase64
	}
	return resp[:n], nil
}

// finishAuth answers the outcome of an authentication, or hands the
// client off after a success. Refusals and temporary failures keep the
// client in the AUTHORIZATION state.
func (s *session) finishAuth(res *login.AuthSuccess, err error) (bool, error) {
	if err == nil {
		err = s.c.Handoff(s.ctx, res, login.HandoffRequest{Leftover: s.c.Buffered()})
		if err == nil {
			return true, nil // the worker answers "+OK Logged in."
		}
		var he *login.HandoffError
		if !errors.As(err, &he) {
			return true, err
		}
		if he.Status == proto.HandoffRefused {
			s.reply(textAuthFailed)
		} else {
			s.reply(textInternal)
		}
		return false, nil
	}
	var af *login.AuthFailure
	switch {
	case errors.Is(err, login.ErrCanceled):
		s.reply("-ERR Authentication aborted by client.")
	case errors.Is(err, errBadBase64):
		s.reply("-ERR Invalid base64 data in continued response.")
	case errors.Is(err, login.ErrAuthUnavailable):
		s.reply(textTempFail)
	case errors.As(err, &af):
		s.reply(failureText(af))
	default:
		// I/O error, timeout or shutdown: the client is gone.
		return true, s.readFailed(err)
	}
	return false, nil
}

// failureText maps an auth failure to its reply (RFC 3206).
func failureText(af *login.AuthFailure) string {
	if af.Temp {
		return textTempFail
	}
	switch af.Code {
	case login.FailMechInvalid:
		return textUnsupportedMech
	case login.FailMechSSLRequired:
		return textPlaintext
	}
	return textAuthFailed
}

// cmdAPOP implements RFC 1939 section 7: APOP name digest, the digest
// being the MD5 of the greeting's timestamp and the password. Like USER
// and PASS it is a plaintext-equivalent secret only to the greeting's
// challenge, so it is allowed on insecure connections.
func (s *session) cmdAPOP(cmd command) (bool, error) {
	defer clear(cmd.args)
	if !s.c.APOPOffered() {
		s.reply("-ERR APOP not enabled.")
		return false, nil
	}
	f := strings.Fields(string(cmd.args))
	if len(f) != 2 || len(f[1]) != 32 {
		return s.badCommand("-ERR APOP needs a user name and a 32-digit digest.")
	}
	res, err := s.c.AuthenticateAPOP(s.ctx, f[0], strings.ToLower(f[1]))
	return s.finishAuth(res, err)
}
