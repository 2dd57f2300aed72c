package imap

import (
	"errors"
	"fmt"
)

// ErrUnauthenticated is returned by Serve and Resume after UNAUTHENTICATE
// (RFC 8437) handed the connection to Options.Unauthenticate: the session
// goes on in a login process, and the connection is no longer Serve's.
var ErrUnauthenticated = errors.New("imap: session unauthenticated")

// cmdUnauthenticate: RFC 8437 section 3. The selected mailbox is closed
// without expunging, as UNSELECT does; after the tagged OK the
// connection returns to the not-authenticated state, which this process
// (running as the user) never serves: Options.Unauthenticate gives it back
// to a login process, with what the client pipelined after the command.
// Enabled extensions and the ID are forgotten with the session. A
// COMPRESS=DEFLATE layer cannot move between processes, so with one active
// the command is refused.
func (s *session) cmdUnauthenticate(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	if s.fw != nil {
		return errNo("CANNOT", "UNAUTHENTICATE is not possible while COMPRESS is active.")
	}
	s.closeMailbox()
	s.unauthenticated = true
	c.logout = true
	return nil
}

// handBack passes the connection to Options.Unauthenticate once the
// tagged OK is out. The client has been told it is not authenticated, so
// if the hand-back fails the connection is closed rather than served.
func (s *session) handBack() error {
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.o.Unauthenticate(s.pending()); err != nil {
		s.log.Error("UNAUTHENTICATE: give the connection back to a login process", "err", err)
		s.writeLine("* BYE " + internalErrorText)
		s.flush()
		return fmt.Errorf("unauthenticate: %w", err)
	}
	return ErrUnauthenticated
}

// pending returns what was read from the client but not yet used: the
// reader's buffer, then any of Options.Leftover it has not reached.
func (s *session) pending() []byte {
	b, _ := s.cr.r.Peek(s.cr.r.Buffered())
	out := append([]byte(nil), b...)
	if s.pre != nil && s.pre.Len() > 0 {
		rest := make([]byte, s.pre.Len())
		n, _ := s.pre.Read(rest)
		out = append(out, rest[:n]...)
	}
	return out
}
