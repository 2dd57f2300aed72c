package proto

// Unauthenticate takes a session back from its user's worker to a login
// process (IMAP UNAUTHENTICATE, RFC 8437; ManageSieve UNAUTHENTICATE, RFC
// 5804 section 2.14.1), worker to master and master to login process, with
// the client descriptor attached: the client socket, or for a TLS client
// the worker's end of the socketpair its login process proxies.
//
// The worker has already answered the command. Nothing in the message is
// trusted for privilege: the master picks the login process itself (the
// one that created the socketpair, found by the socket's peer
// credentials, or any login process of Protocol for a plain socket), and
// the login process takes the addresses and TLS state from the socket or
// from its own proxy, never from the message. The session continues in
// the not-authenticated state, without a new greeting.
type Unauthenticate struct {
	Protocol  string // "imap", "sieve"
	SessionID string // kept in the log lines of the continued session
	// Leftover is what the worker had read from the client past the
	// command; the login process reads it first.
	Leftover []byte
}

func (*Unauthenticate) Type() Type { return TypeUnauthenticate }
func (m *Unauthenticate) encode(e *Encoder) {
	e.String(m.Protocol)
	e.String(m.SessionID)
	e.Blob(m.Leftover)
}
func (m *Unauthenticate) decode(d *Decoder) {
	m.Protocol = d.String()
	m.SessionID = d.String()
	m.Leftover = d.Blob(MaxLeftover)
}
