package imap

import (
	"strings"
)

// cmdNoop: NOOP (RFC 3501 section 6.1.2) and CHECK (section 6.4.1); the
// mailbox sync after every command sends the updates.
func (s *session) cmdNoop(c *command) error {
	c.p.end()
	return c.p.err
}

// cmdLogout: RFC 3501 section 6.1.3.
func (s *session) cmdLogout(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	s.writeLine("* BYE Logging out")
	c.logout = true
	return nil
}

// cmdID: RFC 2971 section 3.1. The client's fields are logged; the server
// answers with its name only (Dovecot's imap_id_send default).
func (s *session) cmdID(c *command) error {
	p := c.p
	p.sp()
	var fields []string
	if _, isNil := nilOrList(p); !isNil {
		p.list(func() {
			k := p.str()
			p.sp()
			v, _ := p.nstring()
			if len(fields) < 60 {
				fields = append(fields, truncate(k, 30)+"="+truncate(v, 100))
			}
		})
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if len(fields) > 0 {
		s.log.Info("client id", "id", strings.Join(fields, " "))
	}
	s.writeLine(`* ID ("name" "cote")`)
	return nil
}

// nilOrList consumes NIL if it is next; otherwise it leaves the list for
// the caller.
func nilOrList(p *parser) (string, bool) {
	if c := p.peek(); c == 'N' || c == 'n' {
		a := p.atom()
		if !strings.EqualFold(a, "NIL") {
			p.fail("expected list or NIL")
		}
		return a, true
	}
	return "", false
}
