package managesieve

import (
	"errors"
	"fmt"
)

// ErrUnauthenticated is returned by Serve after UNAUTHENTICATE handed
// the connection to Options.Unauthenticate: the session goes on in
// managesieve-login, and the connection is no longer Serve's.
var ErrUnauthenticated = errors.New("managesieve: session unauthenticated")

// RFC 5804 section 2.14.1: after OK the server is in the
// non-authenticated state. This process runs as the user and never
// serves that state: Options.Unauthenticate gives the connection back to
// a login process, with what the client pipelined after the command (the
// same hand-back as IMAP's UNAUTHENTICATE, docs/ipc.md).
func (s *session) cmdUnauthenticate(cmd command) bool {
	if !s.args(cmd, 0) {
		return false
	}
	s.ok("", "Unauthenticate completed.")
	s.unauthenticated = true
	return true
}

// handBack passes the connection to Options.Unauthenticate once the OK
// is out. The client has been told it is not authenticated, so if that
// fails the connection is closed rather than served.
func (s *session) handBack() error {
	b, _ := s.r.r.Peek(s.r.r.Buffered())
	leftover := append([]byte(nil), b...)
	if s.pre != nil && s.pre.Len() > 0 {
		rest := make([]byte, s.pre.Len())
		n, _ := s.pre.Read(rest)
		leftover = append(leftover, rest[:n]...)
	}
	if err := s.o.Unauthenticate(leftover); err != nil {
		s.log.Error("UNAUTHENTICATE: give the connection back to a login process", "err", err)
		return s.fatal("TRYLATER", textInternal, fmt.Errorf("unauthenticate: %w", err))
	}
	return ErrUnauthenticated
}
