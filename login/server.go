package login

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"cote/internal/runners"
	"cote/metrics"
	"cote/proto"
)

// Listener is one inherited listening socket.
type Listener struct {
	Name string
	L    net.Listener
	// ImplicitTLS listeners (imaps, pop3s) start TLS before the greeting.
	ImplicitTLS bool
}

// Protocol is the protocol-specific half of a login process.
type Protocol interface {
	// Name is the service name sent to auth (service=) and in the
	// handoff: "imap", "pop3".
	Name() string
	// Serve runs one client from the greeting until it logs out, fails,
	// or is handed off (Client.Handoff returned nil). It must not touch
	// the client after a successful handoff. ctx ends when the process
	// must stop at once.
	Serve(ctx context.Context, c *Client) error
}

// Defaults.
const (
	DefaultPreAuthTimeout = 180 * time.Second // Dovecot's MASTER_LOGIN_TIMEOUT_SECS
	DefaultClientLimit    = 1000              // Dovecot's default_client_limit
)

// Server runs a login process: it accepts clients on Listeners, runs
// Protocol for each, authenticates them through auth and hands them to
// the master.
type Server struct {
	Listeners []Listener
	// TLS is nil when TLS is not configured: STARTTLS is not offered and
	// implicit-TLS listeners are refused.
	TLS *tls.Config
	// Ctl is the control channel to the master.
	Ctl *proto.Conn
	Log *slog.Logger
	// DisablePlaintextAuth forbids plaintext mechanisms (and IMAP LOGIN)
	// on connections that are not secured.
	DisablePlaintextAuth bool
	// TrustedNetworks are remote networks whose connections count as
	// secured (Dovecot's login_trusted_networks).
	TrustedNetworks []netip.Prefix
	// ClientLimit is the most concurrent clients, TLS proxies included;
	// 0 means DefaultClientLimit.
	ClientLimit int
	// Mechanisms are the SASL mechanisms to offer, of those auth
	// announces; nil offers every non-private one.
	Mechanisms []string
	Protocol   Protocol
	// PreAuthTimeout bounds the time from connect to handoff; 0 means
	// DefaultPreAuthTimeout.
	PreAuthTimeout time.Duration
	// Metrics counts connections and logins; nil counts nothing.
	Metrics *metrics.Registry
	// LogFormat and LogFormatElements are Dovecot's login_log_format
	// and login_log_format_elements, for the line of a successful
	// login; an empty LogFormat logs it as slog attributes.
	LogFormat         string
	LogFormatElements string

	// Set by Serve.
	ctl    *control
	auth   *authClient
	status *statusReporter
	slots  chan struct{} // one token per client; acquire before Accept

	mu       sync.Mutex // guards clients, stopping and proxies
	clients  map[*Client]struct{}
	stopping bool
	// proxies are the clients proxying TLS for a worker, by the inode
	// of the socketpair end the worker got: a session given back after
	// UNAUTHENTICATE continues through its proxy.
	proxies map[uint64]*Client
	// cctx ends every client; set before the control reader starts.
	cctx context.Context

	shutdown chan bool      // Shutdown messages from the master (Now)
	wg       sync.WaitGroup // client goroutines
	run      *runners.Pool  // runs the clients
}

// ErrServerClosed is returned by Serve after a graceful Shutdown.
var ErrServerClosed = errors.New("login: server closed")

// Serve runs the process; call it once. It accepts clients until ctx ends, the master asks for Shutdown, or
// the control channel fails. After a graceful Shutdown it waits for every
// client (TLS proxies included) and returns ErrServerClosed. Serve is the
// only reader of Ctl and shuts its read side down when it returns.
func (s *Server) Serve(ctx context.Context) error {
	s.Metrics.Help("connections_total", "Client connections accepted by login processes.")
	s.Metrics.Help("logins_total", "Logins by protocol, SASL mechanism and result.")
	s.Metrics.Help("auth_seconds", "Time auth took to answer a login.")
	if s.Ctl == nil || s.Protocol == nil || s.Log == nil {
		return errors.New("login: Server needs Ctl, Protocol and Log")
	}
	if s.PreAuthTimeout <= 0 {
		s.PreAuthTimeout = DefaultPreAuthTimeout
	}
	if s.ClientLimit <= 0 {
		s.ClientLimit = DefaultClientLimit
	}
	s.slots = make(chan struct{}, s.ClientLimit)
	s.run = runners.New(time.Minute)
	s.clients = make(map[*Client]struct{})
	s.proxies = make(map[uint64]*Client)
	s.shutdown = make(chan bool, 1)
	// Cancelling cctx closes every client at once.
	cctx, closeAll := context.WithCancel(ctx)
	defer closeAll()
	s.cctx = cctx

	// Background work that clients need lives until they are all gone.
	// Deferred in reverse: end the control reader by shutting down the
	// read side of Ctl (Serve is its only reader for the life of the
	// process; sending still works), stop the background goroutines and
	// wait for them. A read deadline would be gentler, but
	// proto.Conn.Recv does not survive a read error yet.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var bgwg sync.WaitGroup
	defer bgwg.Wait()
	defer stopBG()
	defer s.Ctl.UnixConn().CloseRead()

	s.ctl = newControl(s.Ctl, s.Log, s.onShutdown)
	s.ctl.onUnauth = s.reattach
	ctlErr := make(chan error, 1)
	bgwg.Go(func() { ctlErr <- s.ctl.run() })

	s.status = newStatusReporter(s.ctl, s.Log, s.ClientLimit)
	bgwg.Go(func() { s.status.run(bg) })

	s.auth = newAuthClient(s.ctl, s.Log, uint32(os.Getpid()), s.Protocol.Name())
	bgwg.Go(func() { s.auth.run(bg) })

	var accepting sync.WaitGroup
	stopAccept := make(chan struct{}) // closed when accepting stops
	for _, l := range s.Listeners {
		if l.ImplicitTLS && s.TLS == nil {
			s.Log.Error("implicit TLS listener without TLS configuration, not accepting on it", "listener", l.Name)
			continue
		}
		accepting.Go(func() { s.acceptLoop(cctx, stopAccept, l) })
	}
	stopAccepting := func() {
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		close(stopAccept)
		for _, l := range s.Listeners {
			l.L.Close()
		}
		accepting.Wait()
	}

	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
		closeAll()
		stopAccepting()
	case err = <-ctlErr:
		if proto.IsClosed(err) {
			err = fmt.Errorf("login: master closed the control channel: %w", err)
		} else {
			err = fmt.Errorf("login: control channel: %w", err)
		}
		closeAll()
		stopAccepting()
	case now := <-s.shutdown:
		s.Log.Info("shutting down", "now", now, "clients", s.status.clients())
		err = ErrServerClosed
		stopAccepting()
		if now {
			closeAll()
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			closeAll()
		case now := <-s.shutdown:
			if now {
				closeAll()
			}
		}
	}
	s.wg.Wait()
	return err
}

func (s *Server) onShutdown(now bool) {
	select {
	case s.shutdown <- now:
	default:
	}
}

// acceptLoop accepts, then waits for a client slot: a full process
// leaves its listeners' backlogs alone (one accepted connection per
// listener waits, ungreeted) and the master, which sees Available 0,
// sends new clients to other processes. The slot is taken after Accept
// so that one blocked listener cannot starve the others.
func (s *Server) acceptLoop(ctx context.Context, stop <-chan struct{}, l Listener) {
	for {
		nc, err := l.L.Accept()
		if err != nil {
			s.mu.Lock()
			stopping := s.stopping
			s.mu.Unlock()
			if stopping || ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.Log.Error("accept", "listener", l.Name, "err", err)
			time.Sleep(100 * time.Millisecond) // EMFILE and friends
			continue
		}
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			nc.Close()
			return
		case <-stop:
			nc.Close()
			return
		}
		s.wg.Add(1)
		s.run.Go(func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.serveClient(ctx, nc, l)
		})
	}
}

// serveClient runs one client to its end, including the TLS proxy after
// a handoff.
func (s *Server) serveClient(ctx context.Context, nc net.Conn, l Listener) {
	c := s.newClient(nc, l)
	s.Metrics.Counter("connections_total", "protocol", s.Protocol.Name(), "listener", l.Name).Inc()
	if !s.track(c) {
		nc.Close()
		return
	}
	s.runClient(ctx, c, l.ImplicitTLS)
}

// runClient runs a tracked client to its end, including the TLS proxy
// after a handoff.
func (s *Server) runClient(ctx context.Context, c *Client, implicitTLS bool) {
	defer s.untrack(c)
	defer c.close()
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in client", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.raw.SetReadDeadline(c.start.Add(s.PreAuthTimeout))
	if implicitTLS {
		if err := c.handshakeTLS(ctx); err != nil {
			c.logEvent(slog.LevelInfo, c.disconnectReason(errors.New("TLS handshake failed")), "err", err)
			return
		}
	}
	// Like Dovecot, greet only once auth is there, so that the greeting
	// lists its mechanisms.
	s.auth.waitReady(ctx, s.auth.wait)
	err := s.Protocol.Serve(ctx, c)
	if !c.handedOff {
		c.logEvent(slog.LevelInfo, c.disconnectReason(err))
		return
	}
	if c.pair != nil {
		c.proxy()
		s.forgetProxy(c)
	}
}

func (s *Server) track(c *Client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.clients[c] = struct{}{}
	s.status.set(len(s.clients))
	return true
}

func (s *Server) untrack(c *Client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.status.set(len(s.clients))
	s.mu.Unlock()
}

// offered returns the mechanisms to offer: Mechanisms intersected with
// what auth announced. Before auth ever answered, Mechanisms is trusted,
// with PLAIN and LOGIN taken as plaintext.
func (s *Server) offered() []Mech {
	announced := s.auth.mechanisms()
	if announced == nil {
		var out []Mech
		for _, name := range s.Mechanisms {
			out = append(out, Mech{Name: name, Plaintext: name == "PLAIN" || name == "LOGIN"})
		}
		return out
	}
	var out []Mech
	for _, m := range announced {
		if m.Private {
			continue
		}
		if s.Mechanisms == nil || containsFold(s.Mechanisms, m.Name) {
			out = append(out, m)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if len(x) == len(s) && (x == s || equalFold(x, s)) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'a' <= ca && ca <= 'z' {
			ca -= 'a' - 'A'
		}
		if 'a' <= cb && cb <= 'z' {
			cb -= 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// statusReporter sends proto.Status when the client count changes,
// coalescing changes that happen while a send is under way. What the
// master acts on is sent at once: the process became full or has room
// again, became idle or busy. A count that moves within those is sent
// at most once per statusEvery: the master uses it only to choose among
// processes and to show it, and a login process serving many clients
// would otherwise wake the master twice per login.
type statusReporter struct {
	ctl   *control
	log   *slog.Logger
	limit int

	mu sync.Mutex // guards n
	n  int

	kick chan struct{}
}

func newStatusReporter(ctl *control, log *slog.Logger, limit int) *statusReporter {
	return &statusReporter{ctl: ctl, log: log, limit: limit, kick: make(chan struct{}, 1)}
}

func (r *statusReporter) set(n int) {
	r.mu.Lock()
	r.n = n
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *statusReporter) clients() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// statusEvery bounds how often a count alone is sent (statusReporter).
const statusEvery = time.Second

func (r *statusReporter) run(ctx context.Context) {
	var last proto.Status
	var sent time.Time // zero until the first send
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	for {
		select {
		case <-ctx.Done():
			delay.Stop()
			return
		case <-r.kick:
		case <-delay.C:
		}
		n := r.clients()
		m := proto.Status{Clients: uint32(n), Available: uint32(max(r.limit-n, 0))}
		first := sent.IsZero()
		if !first && m == last {
			continue
		}
		sameClass := !first &&
			(m.Clients == 0) == (last.Clients == 0) && (m.Available == 0) == (last.Available == 0)
		if wait := statusEvery - time.Since(sent); sameClass && wait > 0 {
			delay.Reset(wait)
			continue
		}
		delay.Stop()
		if err := r.ctl.conn.Send(&m); err != nil {
			r.log.Warn("send status", "err", err)
		}
		last, sent = m, time.Now()
	}
}
