package login

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Buffer sizes and timeouts of a client connection.
const (
	// ReadBufferSize is the size of the client's read buffer. Everything
	// buffered past the login command becomes the handoff's leftover, so
	// it must stay below proto.MaxLeftover.
	ReadBufferSize = 16 << 10
	writeTimeout   = 30 * time.Second
)

// Client is one connection in a login process, as a Protocol sees it.
// Its methods are for the one goroutine that runs Protocol.Serve.
type Client struct {
	srv   *Server
	log   *slog.Logger
	start time.Time

	raw     net.Conn  // as accepted
	tlsConn *tls.Conn // set once TLS is up
	r       *bufio.Reader
	w       *bufio.Writer
	// pre holds what a worker read past UNAUTHENTICATE and gave back
	// (reattached clients); r reads it before raw.
	pre *bytes.Reader
	// via is the client whose TLS proxy carries this one: a TLS client
	// back from its worker after UNAUTHENTICATE, served over the
	// worker's end of the proxy's socketpair (raw). Its TLS state,
	// addresses and trust are via's.
	via *Client
	// reattached: back from a worker (UNAUTHENTICATE); no greeting.
	reattached bool
	// laddr and raddr are the client's addresses as accepted.
	laddr, raddr net.Addr
	// authAttempts, lastUser and lastMech describe the failed
	// authentications, for the log (logformat.go).
	authAttempts       int
	lastUser, lastMech string
	// proxyIno is the inode of the socketpair end a TLS client's
	// worker got (see reattach.go); 0 before.
	proxyIno uint64

	local, remote netip.AddrPort // invalid for Unix sockets
	sessionID     string
	apopChallenge string // sent in the POP3 greeting, for APOP
	trusted       bool   // loopback, same IP, or a trusted network
	clientID      string

	handedOff bool

	mu     sync.Mutex // guards pair and closed; close runs from other goroutines
	pair   net.Conn   // our end of the socketpair for a TLS client
	closed bool
}

func (s *Server) newClient(nc net.Conn, l Listener) *Client {
	now := time.Now()
	c := &Client{
		srv:    s,
		start:  now,
		raw:    nc,
		r:      bufio.NewReaderSize(nc, ReadBufferSize),
		w:      bufio.NewWriterSize(nc, 4096),
		local:  addrPort(nc.LocalAddr()),
		remote: addrPort(nc.RemoteAddr()),
		laddr:  nc.LocalAddr(),
		raddr:  nc.RemoteAddr(),
	}
	c.sessionID = sessionID(now, c.remote)
	c.trusted = isTrusted(c.local, c.remote, s.TrustedNetworks)
	c.log = s.Log.With("session", c.sessionID, "remote", nc.RemoteAddr().String(), "listener", l.Name)
	return c
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// isTrusted applies Dovecot's rule for a connection that is secured
// without TLS: it comes from the same IP it connected to, from loopback,
// from a trusted network, or over a Unix socket.
func isTrusted(local, remote netip.AddrPort, trusted []netip.Prefix) bool {
	r := remote.Addr()
	if !r.IsValid() {
		return true // Unix socket: a local peer
	}
	if r.IsLoopback() || r == local.Addr() {
		return true
	}
	for _, p := range trusted {
		if p.Contains(r) {
			return true
		}
	}
	return false
}

// sessionID makes Dovecot's session id: base64 of the low 48 bits of the
// microsecond clock and the remote port, both little-endian, and the
// remote IP's bytes (16 characters for IPv4, 32 for IPv6).
func sessionID(now time.Time, remote netip.AddrPort) string {
	b := make([]byte, 0, 24)
	usec := uint64(now.UnixMicro())
	for i := range 6 {
		b = append(b, byte(usec>>(8*i)))
	}
	b = binary.LittleEndian.AppendUint16(b, remote.Port())
	if remote.Addr().IsValid() {
		b = append(b, remote.Addr().AsSlice()...)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Reader is the buffered reader over the client connection (the TLS
// layer once it is up).
func (c *Client) Reader() *bufio.Reader { return c.r }

// Writer buffers output to the client; Flush sends it.
func (c *Client) Writer() *bufio.Writer { return c.w }

// Flush sends buffered output, bounded by a write timeout so that a
// client that does not read cannot hold the process.
func (c *Client) Flush() error {
	c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.w.Flush()
}

// Log is the client's logger (with session and remote).
func (c *Client) Log() *slog.Logger { return c.log }

// SessionID is the Dovecot-style session id.
func (c *Client) SessionID() string { return c.sessionID }

// TLS reports whether the client speaks TLS (implicit or after STARTTLS).
func (c *Client) TLS() bool { return c.tlsState() != nil }

// tlsState is the TLS connection the client speaks through: its own, or
// that of the proxy it came back through.
func (c *Client) tlsState() *tls.Conn {
	if c.via != nil {
		return c.via.tlsConn
	}
	return c.tlsConn
}

// Reattached reports a client back from its worker after UNAUTHENTICATE:
// it is in the not-authenticated state and gets no greeting.
func (c *Client) Reattached() bool { return c.reattached }

// CanStartTLS reports whether STARTTLS/STLS may be offered.
func (c *Client) CanStartTLS() bool { return c.srv.TLS != nil && !c.TLS() }

// Secured reports whether the connection is TLS, from loopback or the
// server's own IP, or from a trusted network.
func (c *Client) Secured() bool { return c.TLS() || c.trusted }

// PlaintextAllowed reports whether plaintext authentication (IMAP LOGIN,
// PLAIN, LOGIN) is allowed now.
func (c *Client) PlaintextAllowed() bool { return !c.srv.DisablePlaintextAuth || c.Secured() }

// Mechanisms returns the mechanisms to advertise now: those offered,
// without the plaintext ones when plaintext auth is not allowed, and
// without the channel-binding (-PLUS) ones outside TLS.
func (c *Client) Mechanisms() []Mech {
	var out []Mech
	for _, m := range c.srv.offered() {
		if m.Plaintext && !c.PlaintextAllowed() || m.ChannelBinding && !c.TLS() {
			continue
		}
		out = append(out, m)
	}
	return out
}

// Mechanism looks a mechanism up among those offered, whether or not
// it is usable now.
func (c *Client) Mechanism(name string) (Mech, bool) {
	for _, m := range c.srv.offered() {
		if equalFold(m.Name, name) && len(m.Name) == len(name) {
			return m, true
		}
	}
	return Mech{}, false
}

// SetClientID records what the client said about itself (IMAP ID), for
// auth (client_id=) and the handoff.
func (c *Client) SetClientID(id string) { c.clientID = id }

// Buffered returns a copy of the bytes read from the client but not yet
// consumed: what a Protocol passes as the handoff's leftover.
func (c *Client) Buffered() []byte {
	b, _ := c.r.Peek(c.r.Buffered())
	out := append([]byte(nil), b...)
	if c.pre != nil && c.pre.Len() > 0 {
		rest := make([]byte, c.pre.Len())
		c.pre.Read(rest)
		c.pre.Seek(-int64(len(rest)), io.SeekCurrent)
		out = append(out, rest...)
	}
	return out
}

var errNoTLS = errors.New("login: TLS not available")

// StartTLS runs the server side of the TLS handshake after the Protocol
// has answered STARTTLS/STLS. Whatever the client sent after the
// command, before the handshake, is discarded (RFC 9051 section 6.2.1,
// RFC 2595 section 3.1: command injection defence); reader and writer
// then work over TLS. A failed handshake leaves the connection unusable.
func (c *Client) StartTLS(ctx context.Context) error {
	if !c.CanStartTLS() {
		return errNoTLS
	}
	if err := c.Flush(); err != nil {
		return err
	}
	n := c.r.Buffered()
	c.r.Discard(n)
	if c.pre != nil {
		n += c.pre.Len()
		c.pre = nil
	}
	if n > 0 {
		c.log.Warn("discarded input pipelined before the TLS handshake", "bytes", n)
	}
	return c.handshakeTLS(ctx)
}

func (c *Client) handshakeTLS(ctx context.Context) error {
	tc := tls.Server(c.raw, c.srv.TLS)
	c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.tlsConn = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	st := tc.ConnectionState()
	c.log.Debug("TLS established", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite), "sni", st.ServerName)
	return nil
}

// Authenticate runs a SASL exchange with auth. ir is the initial
// response (nil for none, empty for an empty one); challenge is called
// for every CONT. It returns the success to pass to Handoff, an
// *AuthFailure (refused, or temporary), ErrAuthUnavailable, ErrCanceled,
// or whatever error challenge returned. The mechanism must be offered,
// and plaintext mechanisms need PlaintextAllowed.
func (c *Client) Authenticate(ctx context.Context, mech string, ir []byte, challenge ChallengeFunc) (*AuthSuccess, error) {
	m, ok := c.Mechanism(mech)
	if !ok {
		return nil, &AuthFailure{Code: FailMechInvalid}
	}
	return c.authenticate(ctx, m, ir, challenge)
}

func (c *Client) authenticate(ctx context.Context, m Mech, ir []byte, challenge ChallengeFunc) (*AuthSuccess, error) {
	if m.Plaintext && !c.PlaintextAllowed() {
		return nil, &AuthFailure{Code: FailMechSSLRequired}
	}
	params := []string{"session=" + c.sessionID}
	if c.local.IsValid() {
		params = append(params, "lip="+c.local.Addr().String(), "lport="+strconv.Itoa(int(c.local.Port())))
	}
	if c.remote.IsValid() {
		params = append(params, "rip="+c.remote.Addr().String(), "rport="+strconv.Itoa(int(c.remote.Port())))
	}
	if tc := c.tlsState(); tc != nil {
		st := tc.ConnectionState()
		if sni := st.ServerName; sni != "" {
			params = append(params, "local_name="+sni)
		}
		params = append(params, "secured=tls")
		params = append(params, clientCertParams(st)...)
		if m.ChannelBinding {
			params = append(params, channelBindingParams(st, serverCert(c.srv.TLS, st))...)
		}
	} else if c.trusted {
		params = append(params, "secured")
	}
	if c.clientID != "" {
		params = append(params, "client_id="+c.clientID)
	}
	started := time.Now()
	res, err := c.srv.auth.authenticate(ctx, authRequest{mech: m.Name, params: params, ir: ir, challFn: challenge})
	protocol := c.srv.Protocol.Name()
	c.srv.Metrics.Histogram("auth_seconds", nil, "protocol", protocol).Since(started)
	result := "ok"
	if err != nil {
		result = "failed"
		var af *AuthFailure
		if errors.As(err, &af) && af.Temp {
			result = "tempfail"
		} else if !errors.As(err, &af) {
			result = "aborted"
		}
	}
	c.srv.Metrics.Counter("logins_total", "protocol", protocol, "mechanism", m.Name, "result", result).Inc()
	c.lastMech = m.Name
	if err != nil {
		c.authAttempts++
		var af *AuthFailure
		if errors.As(err, &af) {
			if af.User != "" {
				c.lastUser = af.User
			}
			c.logEvent(slog.LevelInfo, "Authentication failed", "method", m.Name, "code", af.Code, "temp", af.Temp, "referral", af.Referral != nil)
		} else if !errors.Is(err, ErrCanceled) {
			c.logEvent(slog.LevelWarn, "Authentication aborted", "method", m.Name, "err", err)
		}
	}
	return res, err
}

// close closes the client connection and the TLS proxy's socket.
func (c *Client) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.raw.Close()
	if c.pair != nil {
		c.pair.Close()
	}
}
