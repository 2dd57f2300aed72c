package imaplogin

import (
	"strconv"
	"strings"
)

// RFC 9051 section 6.1.1
func (s *session) cmdCapability(cmd *command, afterSTARTTLS bool) (bool, error) {
	if len(cmd.args) != 0 {
		return s.badCommand(cmd.tag, "CAPABILITY takes no arguments.")
	}
	if !afterSTARTTLS {
		s.ignoresCapCode = true
	}
	s.untagged("CAPABILITY " + s.capabilities())
	s.tagged(cmd.tag, "OK Pre-login capabilities listed, post-login capabilities have more.")
	return false, nil
}

// RFC 9051 section 6.1.2
func (s *session) cmdNoop(cmd *command) (bool, error) {
	if len(cmd.args) != 0 {
		return s.badCommand(cmd.tag, "NOOP takes no arguments.")
	}
	s.tagged(cmd.tag, "OK NOOP completed.")
	return false, nil
}

// RFC 9051 section 6.1.3
func (s *session) cmdLogout(cmd *command) (bool, error) {
	if len(cmd.args) != 0 {
		return s.badCommand(cmd.tag, "LOGOUT takes no arguments.")
	}
	s.untagged("BYE Logging out")
	s.tagged(cmd.tag, "OK Logout completed.")
	return true, s.c.Flush()
}

// RFC 9051 section 6.2.1
func (s *session) cmdStartTLS(cmd *command) (bool, error) {
	switch {
	case len(cmd.args) != 0:
		return s.badCommand(cmd.tag, "STARTTLS takes no arguments.")
	case s.c.TLS():
		return s.badCommand(cmd.tag, "TLS is already active.")
	case !s.c.CanStartTLS():
		return s.badCommand(cmd.tag, "TLS support isn't enabled.")
	}
	s.tagged(cmd.tag, "OK Begin TLS negotiation now.")
	// StartTLS discards whatever the client pipelined after the command:
	// it was sent in the clear and must not be taken as coming over TLS.
	if err := s.c.StartTLS(s.ctx); err != nil {
		return true, err
	}
	s.reset()
	s.afterSTARTTLS = true
	return false, nil
}

// RFC 2971 section 3.3 limits.
const (
	maxIDPairs    = 30
	maxIDField    = 30
	maxIDValue    = 1024
	maxIDClientID = 1024
)

// RFC 2971 section 3.1: ID ( field value ... ) or ID NIL. The reply
// names the server; the client's list is kept for auth and the worker.
func (s *session) cmdID(cmd *command) (bool, error) {
	if len(cmd.args) != 1 {
		return s.badCommand(cmd.tag, "ID takes one argument.")
	}
	id, bad := formatID(cmd.args[0])
	if bad != "" {
		return s.badCommand(cmd.tag, bad)
	}
	if id != "" {
		s.c.SetClientID(id)
	}
	s.untagged("ID (\"name\" " + quote(s.o.IDName) + ")")
	s.tagged(cmd.tag, "OK ID completed.")
	return false, nil
}

// formatID checks an ID argument and formats the client's fields as
// Dovecot logs them: "name=value, name=value", control characters
// replaced. bad is the text of a BAD answer.
func formatID(a arg) (id, bad string) {
	if a.isNIL() {
		return "", ""
	}
	if a.kind != argList {
		return "", "ID argument must be a list or NIL."
	}
	if len(a.list)%2 != 0 {
		return "", "ID list must hold field-value pairs."
	}
	if len(a.list) > 2*maxIDPairs {
		return "", "Too many ID fields."
	}
	var b strings.Builder
	for i := 0; i < len(a.list); i += 2 {
		k, v := a.list[i], a.list[i+1]
		// RFC 2971 asks for strings; atoms are accepted too, as Dovecot
		// does.
		if k.kind == argList || k.isNIL() || len(k.s) > maxIDField {
			return "", "Invalid ID field name."
		}
		if v.isNIL() {
			continue
		}
		if v.kind == argList || len(v.s) > maxIDValue {
			return "", "Invalid ID field value."
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sanitize(strings.ToLower(k.s)))
		b.WriteByte('=')
		b.WriteString(sanitize(v.s))
	}
	id = b.String()
	if len(id) > maxIDClientID {
		id = id[:maxIDClientID]
	}
	return id, ""
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// quote makes an IMAP quoted string, or a literal when s cannot be
// quoted.
func quote(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
