package imap

import (
	"strconv"
	"strings"
)

// Capabilities returns the post-login capability list (RFC 3501 section
// 7.2.1). Only what this engine implements is listed.
func Capabilities(o Options) []string {
	o.setDefaults()
	return []string{
		"IMAP4rev1",
		"LITERAL+",           // RFC 7888
		"ID",                 // RFC 2971
		"ENABLE",             // RFC 5161
		"IDLE",               // RFC 2177
		"NAMESPACE",          // RFC 2342
		"UIDPLUS",            // RFC 4315
		"MOVE",               // RFC 6851
		"UNSELECT",           // RFC 3691
		"CHILDREN",           // RFC 3348
		"LIST-EXTENDED",      // RFC 5258
		"SPECIAL-USE",        // RFC 6154
		"CREATE-SPECIAL-USE", // RFC 6154
		"STATUS=SIZE",        // RFC 8438
		"APPENDLIMIT=" + strconv.FormatInt(o.MaxLiteral, 10), // RFC 7889
	}
}

// cmdCapability: RFC 3501 section 6.1.1.
func (s *session) cmdCapability(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	s.writeLine("* CAPABILITY " + strings.Join(Capabilities(s.o), " "))
	return nil
}

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

// cmdEnable: RFC 5161 section 3.1. No extension that needs enabling is
// implemented yet, so ENABLED lists nothing.
func (s *session) cmdEnable(c *command) error {
	p := c.p
	p.sp()
	p.atom()
	for p.trySP() {
		p.atom()
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	s.writeLine("* ENABLED")
	return nil
}
