package lmtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"cote/proto"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("lmtp: server closed")

// ErrUnknownUser is what a UserLookup returns for a user the userdb does
// not know; any other error is a temporary failure.
var ErrUnknownUser = errors.New("lmtp: unknown user")

// UserLookup resolves a recipient in the userdb.
type UserLookup interface {
	// Lookup returns the user's canonical name and userdb fields
	// ("key=value"), ErrUnknownUser, or another error for a temporary
	// failure.
	Lookup(ctx context.Context, user string) (canonical string, fields []string, err error)
}

// Deliverer hands one recipient's copy to the recipient's worker and
// returns what the worker answered. msg is a sealed, read-only
// descriptor; the caller keeps it. An error means the copy's fate is not
// known to be stored: the recipient gets a 4xx.
type Deliverer interface {
	Deliver(ctx context.Context, d *proto.Deliver, msg *os.File) (*proto.DeliverReply, error)
}

// Listener is one listening socket, named after its config block.
type Listener struct {
	Name string
	L    net.Listener
}

// Defaults for the zero values of Server's fields.
const (
	DefaultTimeout             = 10 * time.Minute
	DefaultDeliverTimeout      = 5 * time.Minute
	DefaultDeliveryConcurrency = 10
	// MaxLineLength bounds a command line and, in DATA, a message line.
	// Mail with lines longer than RFC 5322's 998 exists; Dovecot has no
	// limit. A megabyte keeps a runaway client from growing memory.
	MaxLineLength = 1 << 20
)

// Server is the LMTP listener. Set the fields, then call Serve once.
type Server struct {
	Listeners []Listener
	Log       *slog.Logger
	// Hostname is used in the greeting, LHLO and the Received field.
	Hostname string
	Userdb   UserLookup
	// Deliverer stores each recipient's copy (in production a
	// ControlDeliverer, which goes through the master to the worker).
	Deliverer Deliverer
	// RecipientDelimiter is recipient_delimiter: any of its characters
	// separates user and detail ("+" by default in Dovecot; "" here
	// disables subaddressing).
	RecipientDelimiter string
	// SaveToDetailMailbox is lmtp_save_to_detail_mailbox: Deliver.Mailbox
	// is set to the detail.
	SaveToDetailMailbox bool
	// MaxMessageSize is advertised as SIZE and enforced; 0 means no limit.
	MaxMessageSize int64
	// CheckQuota, when set (lmtp_rcpt_check_quota), is asked at RCPT
	// whether the message would go over the recipient's quota; an over
	// answer refuses the recipient with 552 5.2.2, or 452 4.2.2 with
	// QuotaFullTempfail. Errors let the recipient through: quota is
	// enforced again when the copy is stored.
	CheckQuota        func(ctx context.Context, user string, size int64) (over bool, err error)
	QuotaFullTempfail bool
	// MaxRecipients per transaction; 0 means no limit.
	MaxRecipients int
	// UserConcurrencyLimit is lmtp_user_concurrency_limit: how many
	// deliveries to one user this process has under way at once (counted
	// from RCPT to the end of the transaction); 0 means no limit.
	UserConcurrencyLimit int
	// DeliveryConcurrency is how many recipients of one transaction are
	// delivered at once; 0 means DefaultDeliveryConcurrency.
	DeliveryConcurrency int
	// ClientLimit is how many connections are served at once; more get
	// 421. 0 means no limit.
	ClientLimit int
	// OnClients, when set, is called with the number of connections
	// whenever it changes. It must not block.
	OnClients func(n int)
	// NoReceivedHeader is lmtp_add_received_header = no.
	NoReceivedHeader bool
	// TempDir is where the spool goes when memfd_create is not available.
	TempDir string
	// Timeout is how long a connection may be idle; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// DeliverTimeout bounds each recipient's delivery; 0 means
	// DefaultDeliverTimeout.
	DeliverTimeout time.Duration

	mu       sync.Mutex // guards the fields below
	smtp     *smtp.Server
	started  bool
	closed   bool
	draining bool
	conns    map[*trackedConn]struct{}
	users    map[string]int // deliveries under way per user
	cancel   context.CancelFunc
	base     context.Context
	done     chan struct{} // closed by Close and Shutdown
	// active counts DATA phases under way; Add only under mu and while
	// not closed, so that Serve's Wait after Close sees them all.
	active sync.WaitGroup

	nconns atomic.Int64
	spools spoolPool // buffers for receiving messages
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Serve serves every listener until ctx ends (then it closes at once, as
// Close) or Shutdown or Close is called, and returns ErrServerClosed; or
// it returns the first accept error of a listener.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("lmtp: Serve called twice")
	}
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.Userdb == nil || s.Deliverer == nil {
		s.mu.Unlock()
		return errors.New("lmtp: Server needs a Userdb and a Deliverer")
	}
	s.started = true
	s.conns = make(map[*trackedConn]struct{})
	s.users = make(map[string]int)
	s.done = make(chan struct{})
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	srv := smtp.NewServer(backend{s})
	srv.LMTP = true
	srv.Domain = s.Hostname
	srv.MaxMessageBytes = s.MaxMessageSize
	srv.MaxRecipients = s.MaxRecipients
	srv.MaxLineLength = MaxLineLength
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout = s.Timeout
	if srv.ReadTimeout <= 0 {
		srv.ReadTimeout = DefaultTimeout
	}
	srv.WriteTimeout = srv.ReadTimeout
	srv.ErrorLog = errorLog{s.log()}
	s.smtp = srv
	s.mu.Unlock()

	errc := make(chan error, len(s.Listeners))
	var wg sync.WaitGroup
	for _, l := range s.Listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := srv.Serve(&trackedListener{Listener: l.L, s: s, name: l.Name})
			if err != nil && !s.stopping() {
				errc <- fmt.Errorf("listener %s: %w", l.Name, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
		s.Close()
	case <-s.done:
	case err = <-errc:
		s.Close()
	}
	wg.Wait()
	// Deliveries under way were cancelled by Close; wait for them to
	// return so that no goroutine outlives Serve.
	s.active.Wait()
	if err != nil {
		return err
	}
	return ErrServerClosed
}

func (s *Server) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.draining
}

// begin registers a transaction's DATA phase; false once closed.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

// Close stops listening, closes every connection and abandons the
// deliveries under way (their recipients got no reply, so the MTA
// retries them).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.smtp
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	s.cancel()
	err := srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Shutdown stops listening, closes idle connections, lets transactions
// whose message is being delivered finish and answer, and closes their
// connections after that. It returns when every connection is gone, or
// closes them all (as Close) when ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.smtp == nil {
		s.mu.Unlock()
		return s.Close()
	}
	s.draining = true
	for _, l := range s.Listeners {
		l.L.Close()
	}
	var idle []*trackedConn
	for c := range s.conns {
		idle = append(idle, c)
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.drain()
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.nconns.Load() > 0 {
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
	return s.Close()
}

// reserve counts a delivery to user against UserConcurrencyLimit.
func (s *Server) reserve(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.UserConcurrencyLimit > 0 && s.users[user] >= s.UserConcurrencyLimit {
		return false
	}
	s.users[user]++
	return true
}

func (s *Server) release(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[user]--; s.users[user] <= 0 {
		delete(s.users, user)
	}
}

// backend makes a session per LHLO.
type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return b.s.newSession(c), nil
}

// trackedListener counts connections, refuses them over ClientLimit, and
// wraps each so that Shutdown can end it between transactions.
type trackedListener struct {
	net.Listener
	s    *Server
	name string
}

func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s := l.s
		s.mu.Lock()
		if s.draining || s.closed {
			s.mu.Unlock()
			c.Close()
			return nil, net.ErrClosed
		}
		if s.ClientLimit > 0 && len(s.conns) >= s.ClientLimit {
			s.mu.Unlock()
			s.log().Warn("connection refused: client_limit reached", "listener", l.name, "limit", s.ClientLimit)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(c, "421 4.3.2 Too many connections, try again later\r\n")
			c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, s: s, listener: l.name}
		tc.bare = newBareRcpt(c, c, MaxLineLength+1)
		s.conns[tc] = struct{}{}
		n := s.nconns.Add(1)
		s.mu.Unlock()
		if s.OnClients != nil {
			s.OnClients(int(n))
		}
		return tc, nil
	}
}

// trackedConn is one client connection.
type trackedConn struct {
	net.Conn
	s        *Server
	listener string
	bare     *bareRcpt // every byte in and out goes through it

	mu       sync.Mutex // guards the fields below
	busy     bool       // a message is being received or delivered
	draining bool
	closed   bool
}

// Read ends the connection (EOF) once the server drains and no
// transaction is in its DATA phase.
func (c *trackedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	stop := c.draining && !c.busy
	closed := c.closed
	c.mu.Unlock()
	if closed {
		// What bareRcpt holds is not for a closed connection.
		return 0, net.ErrClosed
	}
	if stop {
		return 0, io.EOF
	}
	return c.bare.Read(p)
}

func (c *trackedConn) Write(p []byte) (int, error) { return c.bare.Write(p) }

// setBusy marks the DATA phase.
func (c *trackedConn) setBusy(b bool) {
	c.mu.Lock()
	c.busy = b
	c.mu.Unlock()
}

// drain ends the connection at its next command read; one blocked in a
// read now is woken.
func (c *trackedConn) drain() {
	c.mu.Lock()
	c.draining = true
	busy := c.busy
	c.mu.Unlock()
	if !busy {
		c.Conn.SetReadDeadline(time.Now())
	}
}

func (c *trackedConn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	err := c.Conn.Close()
	if already {
		return err
	}
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	n := s.nconns.Add(-1)
	s.mu.Unlock()
	if s.OnClients != nil {
		s.OnClients(int(n))
	}
	return err
}

// errorLog passes go-smtp's internal errors (panics, accept errors) to
// slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) {
	l.log.Error("lmtp server", "err", fmt.Sprintf(format, v...))
}
func (l errorLog) Println(v ...any) { l.log.Error("lmtp server", "err", fmt.Sprint(v...)) }
