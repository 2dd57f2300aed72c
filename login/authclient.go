package login

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"cote/proto"
)

// Mech is a SASL mechanism the auth server announced.
type Mech struct {
	Name string
	// Plaintext mechanisms send the password in the clear; they are
	// offered only on secured connections when plaintext auth is
	// disabled.
	Plaintext bool
	// Private mechanisms are never advertised.
	Private bool
	// ChannelBinding mechanisms (SCRAM -PLUS) bind to the TLS channel:
	// offered only over TLS, and the AUTH request carries the binding
	// data (cbind.go).
	ChannelBinding bool
}

// AuthFailure is a FAIL from the auth server (or a failure the login
// process decided itself, with one of Dovecot's local codes).
type AuthFailure struct {
	// Code is the FAIL code= field: temp_fail, authz_fail,
	// user_disabled, pass_expired, invalid_base64, or empty.
	Code string
	// Reason is the reason= field, meant for the user; may be empty.
	Reason string
	// User is the user= field auth sent, if any; for the log only.
	User string
	// Temp is set for temporary failures.
	Temp bool
	// Referral is set when auth accepted the client but sends it to
	// another server (nologin with host=, or referral=).
	Referral *Referral
}

func (e *AuthFailure) Error() string {
	s := "login: authentication failed"
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Temp {
		s += ", temporary"
	}
	return s
}

// Failure codes the login process sets itself (Dovecot's names).
const (
	FailMechInvalid     = "auth_mech_invalid"
	FailMechSSLRequired = "auth_mech_ssl_required"
)

var (
	// ErrAuthUnavailable reports that the auth service could not be
	// reached or the connection broke during the request: a temporary
	// failure.
	ErrAuthUnavailable = errors.New("login: auth service unavailable")
	// ErrCanceled is what a ChallengeFunc returns when the client
	// cancels the exchange (IMAP "*").
	ErrCanceled = errors.New("login: authentication canceled by client")
)

// IsTemporary reports whether an Authenticate or Handoff error is
// temporary (the client may retry later), as opposed to a refusal.
func IsTemporary(err error) bool {
	var af *AuthFailure
	if errors.As(err, &af) {
		return af.Temp
	}
	var hf *HandoffError
	if errors.As(err, &hf) {
		return hf.Status != proto.HandoffRefused
	}
	return errors.Is(err, ErrAuthUnavailable)
}

// ChallengeFunc sends a server challenge to the client and returns the
// client's decoded response. It returns ErrCanceled when the client
// cancels, or the I/O or syntax error that ends the exchange.
type ChallengeFunc func(challenge []byte) (response []byte, err error)

// AuthSuccess is a finished, successful authentication: what the
// handoff needs to let the master redeem it.
type AuthSuccess struct {
	// User is the user= auth answered; for logging only, never trusted.
	User string
	Mech string

	id     uint32
	spid   uint32
	cookie string
}

// Timeouts and back-off of the auth connection.
const (
	authHandshakeTimeout = 10 * time.Second
	// authRequestTimeout is how long a request may wait for auth's
	// answer; auth itself gives up after 150 s.
	authRequestTimeout = 155 * time.Second
	authBackoffMin     = 100 * time.Millisecond
	authBackoffMax     = 5 * time.Second
	// authWaitDefault is how long a client waits for a connection to
	// auth before it gets a temporary failure.
	authWaitDefault = 5 * time.Second
)

// authClient keeps the one auth-client connection of the process and
// reconnects (through the master) when it breaks.
type authClient struct {
	ctl     *control
	log     *slog.Logger
	pid     uint32
	service string
	wait    time.Duration

	mu    sync.Mutex    // guards cur, ready and mechs
	cur   *authConn     // nil while disconnected
	ready chan struct{} // closed when cur is set; replaced when it breaks
	mechs []Mech        // last announced list, kept across reconnects
}

func newAuthClient(ctl *control, log *slog.Logger, pid uint32, service string) *authClient {
	return &authClient{ctl: ctl, log: log, pid: pid, service: service, wait: authWaitDefault, ready: make(chan struct{})}
}

// authConn is one established connection.
type authConn struct {
	nc     net.Conn
	br     *bufio.Reader
	spid   uint32
	cuid   uint32
	cookie string

	wmu sync.Mutex // serialises writes to nc

	mu      sync.Mutex // guards nextID, pending and broken
	nextID  uint32
	pending map[uint32]chan serverLine
	broken  bool
}

// run keeps a connection up until ctx ends.
func (c *authClient) run(ctx context.Context) {
	backoff := authBackoffMin
	for ctx.Err() == nil {
		ac, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Error("connect to auth", "err", err, "retry_in", backoff)
		} else {
			backoff = authBackoffMin
			c.set(ac)
			stop := context.AfterFunc(ctx, func() { ac.nc.Close() })
			err = ac.readLoop(c.log)
			stop()
			c.unset(ac)
			if ctx.Err() != nil {
				return
			}
			c.log.Error("auth connection lost", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, authBackoffMax)
	}
}

func (c *authClient) set(ac *authConn) {
	c.mu.Lock()
	c.cur = ac
	close(c.ready)
	c.mu.Unlock()
}

// unset drops a broken connection and fails its pending requests.
func (c *authClient) unset(ac *authConn) {
	c.mu.Lock()
	if c.cur == ac {
		c.cur = nil
		c.ready = make(chan struct{})
	}
	c.mu.Unlock()
	ac.nc.Close()
	ac.mu.Lock()
	ac.broken = true
	for id, ch := range ac.pending {
		close(ch)
		delete(ac.pending, id)
	}
	ac.mu.Unlock()
}

// get returns the current connection, waiting at most c.wait for one.
func (c *authClient) get(ctx context.Context) (*authConn, error) {
	c.mu.Lock()
	cur, ready := c.cur, c.ready
	c.mu.Unlock()
	if cur != nil {
		return cur, nil
	}
	t := time.NewTimer(c.wait)
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, ErrAuthUnavailable
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil, ErrAuthUnavailable
	}
	return c.cur, nil
}

// waitReady waits up to d for a connection, so that the greeting can
// announce the mechanisms auth offers.
func (c *authClient) waitReady(ctx context.Context, d time.Duration) {
	c.mu.Lock()
	ready := c.ready
	c.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
	case <-t.C:
	}
}

// mechanisms returns the last list auth announced, nil before the first
// connection.
func (c *authClient) mechanisms() []Mech {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mechs
}

// connect asks the master for a connection to auth and runs the
// handshake (reference section 2.2).
func (c *authClient) connect(ctx context.Context) (*authConn, error) {
	r, err := c.ctl.call(ctx, authHandshakeTimeout, func(seq uint64) proto.Message {
		return &proto.AuthConnect{Seq: seq}
	})
	if err != nil {
		return nil, fmt.Errorf("auth connect request: %w", err)
	}
	rep := r.msg.(*proto.AuthConnectReply)
	if !rep.OK || len(r.files) != 1 {
		closeFiles(r.files)
		return nil, fmt.Errorf("master refused auth connection: %s", rep.Reason)
	}
	nc, err := net.FileConn(r.files[0])
	r.files[0].Close()
	if err != nil {
		return nil, fmt.Errorf("auth descriptor: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	nc.SetDeadline(time.Now().Add(authHandshakeTimeout))
	// A shutdown must not wait for an auth process that will never
	// answer (the master keeps its socket bound across auth restarts).
	stopWait := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stopWait()
	hello := proto.AuthLine("VERSION", "1", "2") + proto.AuthLine("CPID", strconv.FormatUint(uint64(c.pid), 10))
	if _, err := io.WriteString(nc, hello); err != nil {
		return nil, fmt.Errorf("auth handshake: %w", err)
	}
	br := bufio.NewReaderSize(nc, proto.MaxAuthLine+2)
	var h handshake
	for !h.done {
		line, err := readAuthLine(br)
		if err != nil {
			return nil, fmt.Errorf("auth handshake: %w", err)
		}
		l, err := parseServerLine(line)
		if err != nil {
			return nil, err
		}
		if err := h.add(l); err != nil {
			return nil, err
		}
	}
	nc.SetDeadline(time.Time{})
	ok = true
	c.mu.Lock()
	c.mechs = h.mechs
	c.mu.Unlock()
	c.log.Debug("connected to auth", "spid", h.spid, "cuid", h.cuid, "version", fmt.Sprintf("%d.%d", h.major, h.minor))
	cuid, _ := strconv.ParseUint(h.cuid, 10, 32)
	return &authConn{nc: nc, br: br, spid: h.spid, cuid: uint32(cuid), cookie: h.cookie, pending: make(map[uint32]chan serverLine)}, nil
}

// readAuthLine reads one LF-terminated line of at most proto.MaxAuthLine
// bytes, without the LF.
func readAuthLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errors.New("auth line too long")
	}
	if err != nil {
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// readLoop reads replies and hands each to its request until the
// connection fails.
func (ac *authConn) readLoop(log *slog.Logger) error {
	for {
		line, err := readAuthLine(ac.br)
		if err != nil {
			return err
		}
		l, err := parseServerLine(line)
		if err != nil {
			return err
		}
		switch l.cmd {
		case "CONT", "OK", "FAIL":
		default:
			log.Warn("unexpected line from auth", "cmd", l.cmd)
			continue
		}
		ac.mu.Lock()
		ch := ac.pending[l.id]
		if ch != nil && l.cmd != "CONT" {
			delete(ac.pending, l.id)
		}
		var full bool
		if ch != nil {
			select {
			case ch <- l:
			default:
				full = true
			}
			if l.cmd != "CONT" {
				close(ch)
			}
		}
		ac.mu.Unlock()
		if ch == nil {
			// Canceled or timed-out requests may still be answered.
			log.Debug("auth reply for unknown request", "cmd", l.cmd, "id", l.id)
		}
		if full {
			return fmt.Errorf("auth sent %s for request %d before we answered the last one", l.cmd, l.id)
		}
	}
}

// register allocates a request id.
func (ac *authConn) register() (uint32, chan serverLine, error) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.broken {
		return 0, nil, ErrAuthUnavailable
	}
	ac.nextID++
	if ac.nextID == 0 {
		ac.nextID = 1
	}
	ch := make(chan serverLine, 1)
	ac.pending[ac.nextID] = ch
	return ac.nextID, ch, nil
}

func (ac *authConn) unregister(id uint32) {
	ac.mu.Lock()
	delete(ac.pending, id)
	ac.mu.Unlock()
}

func (ac *authConn) write(line string) error {
	ac.wmu.Lock()
	defer ac.wmu.Unlock()
	ac.nc.SetWriteDeadline(time.Now().Add(authHandshakeTimeout))
	if _, err := io.WriteString(ac.nc, line); err != nil {
		ac.nc.Close() // the reader notices and fails every request
		return fmt.Errorf("%w: %v", ErrAuthUnavailable, err)
	}
	return nil
}

// authRequest is what an AUTH line carries besides mechanism and data.
type authRequest struct {
	mech    string
	params  []string // key=value or bare flags, before resp=
	ir      []byte   // initial response; nil for none
	challFn ChallengeFunc
}

// authenticate runs one SASL exchange with auth. The initial response
// and every client response travel base64-encoded; they are never
// logged.
func (c *authClient) authenticate(ctx context.Context, req authRequest) (*AuthSuccess, error) {
	var ac *authConn
	var id uint32
	var ch chan serverLine
	for attempt := 0; ; attempt++ {
		var err error
		if ac, err = c.get(ctx); err != nil {
			return nil, err
		}
		if id, ch, err = ac.register(); err == nil {
			fields := append([]string{"AUTH", strconv.FormatUint(uint64(id), 10), req.mech, "service=" + c.service}, req.params...)
			if req.ir != nil {
				// resp= must be last; empty means an empty initial
				// response (protocol minor 2).
				fields = append(fields, "resp="+base64.StdEncoding.EncodeToString(req.ir))
			}
			if err = ac.write(proto.AuthLine(fields...)); err == nil {
				break
			}
			ac.unregister(id)
		}
		// The connection broke before auth had the request (the reader
		// had not noticed yet): nothing was asked, so the request waits
		// for the next connection, once.
		if attempt > 0 {
			return nil, err
		}
		c.unset(ac)
	}
	defer ac.unregister(id)
	cancel := func() { ac.write(proto.AuthLine("CANCEL", strconv.FormatUint(uint64(id), 10))) }
	t := time.NewTimer(authRequestTimeout)
	defer t.Stop()
	for {
		var l serverLine
		var ok bool
		select {
		case l, ok = <-ch:
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		case <-t.C:
			cancel()
			return nil, fmt.Errorf("%w: request timed out", ErrAuthUnavailable)
		}
		if !ok {
			return nil, fmt.Errorf("%w: connection lost during request", ErrAuthUnavailable)
		}
		switch l.cmd {
		case "CONT":
			chall, err := base64.StdEncoding.DecodeString(l.args[0])
			if err != nil {
				cancel()
				return nil, fmt.Errorf("%w: auth sent bad base64", ErrAuthUnavailable)
			}
			if req.challFn == nil {
				cancel()
				return nil, &AuthFailure{Code: FailMechInvalid}
			}
			resp, err := req.challFn(chall)
			if err != nil {
				cancel()
				return nil, err
			}
			line := proto.AuthLine("CONT", strconv.FormatUint(uint64(id), 10), base64.StdEncoding.EncodeToString(resp))
			if err := ac.write(line); err != nil {
				return nil, err
			}
		case "OK":
			p := proto.AuthParams(l.args)
			if ref := referralOf(p); ref != nil {
				return nil, &AuthFailure{Reason: p["reason"], User: p["user"], Referral: ref}
			}
			if _, nologin := p["nologin"]; nologin {
				return nil, &AuthFailure{Reason: p["reason"], User: p["user"]}
			}
			if _, proxy := p["proxy"]; proxy {
				c.log.Error("auth asked for proxying, which cote's login does not do", "user", p["user"])
				return nil, &AuthFailure{Code: "temp_fail", Temp: true}
			}
			return &AuthSuccess{User: p["user"], Mech: req.mech, id: id, spid: ac.spid, cookie: ac.cookie}, nil
		case "FAIL":
			p := proto.AuthParams(l.args)
			_, temp := p["temp"] // pre-2.2 servers
			code := p["code"]
			return nil, &AuthFailure{Code: code, Reason: p["reason"], User: p["user"], Temp: temp || code == "temp_fail"}
		}
	}
}
