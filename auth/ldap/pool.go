package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Back-off between failed connection attempts: it doubles from
// minBackoff up to maxBackoff and is reset by a successful connect.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// errDown is returned while the servers are being given time between
// connection attempts.
var errDown = errors.New("ldap: server unreachable, waiting before the next attempt")

// pool keeps up to max connections to the first server that answers,
// bound as bindDN (anonymous when ""). A connection that failed at the
// network level is dropped; the next request dials again.
type pool struct {
	cfg    *Config
	bindDN string
	bindPW string
	sem    chan struct{} // one token per connection in use or idle
	now    func() time.Time

	mu       sync.Mutex // guards the fields below
	idle     []*goldap.Conn
	failures int
	retryAt  time.Time
	closed   bool
}

func newPool(cfg *Config, bindDN, bindPW string) *pool {
	return &pool{cfg: cfg, bindDN: bindDN, bindPW: bindPW, sem: make(chan struct{}, cfg.MaxConnections), now: time.Now}
}

// get returns a connection and whether it came from the idle list (a
// stale one may fail; the caller then retries with a fresh one).
func (p *pool) get(ctx context.Context, fresh bool) (*goldap.Conn, bool, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("ldap: waiting for a connection: %w", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, false, errors.New("ldap: closed")
	}
	for !fresh && len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.IsClosing() {
			c.Close()
			continue
		}
		p.mu.Unlock()
		return c, true, nil
	}
	wait := p.retryAt.Sub(p.now())
	p.mu.Unlock()
	if wait > 0 {
		if dl, ok := ctx.Deadline(); ok && dl.Before(p.now().Add(wait)) {
			<-p.sem
			return nil, false, errDown
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-p.sem
			return nil, false, fmt.Errorf("ldap: %w", ctx.Err())
		}
	}
	c, err := p.dial(ctx)
	p.mu.Lock()
	if err != nil {
		p.failures++
		p.retryAt = p.now().Add(min(minBackoff<<min(p.failures-1, 16), maxBackoff))
		p.mu.Unlock()
		<-p.sem
		return nil, false, err
	}
	p.failures, p.retryAt = 0, time.Time{}
	p.mu.Unlock()
	return c, false, nil
}

// put returns a connection; a broken one is closed.
func (p *pool) put(c *goldap.Conn, broken bool) {
	p.mu.Lock()
	if broken || p.closed || c.IsClosing() {
		p.mu.Unlock()
		c.Close()
	} else {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
	}
	<-p.sem
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
}

// dial tries each server in order: connect (ldaps:// with TLS at once),
// StartTLS when tls = yes, and the service bind.
func (p *pool) dial(ctx context.Context) (*goldap.Conn, error) {
	var errs []error
	for _, u := range p.cfg.URLs {
		c, err := p.dialOne(ctx, u)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, fmt.Errorf("ldap: no server reachable: %w", errors.Join(errs...))
}

func (p *pool) dialOne(ctx context.Context, rawURL string) (*goldap.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	timeout := p.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	tc := p.cfg.TLS.Clone()
	tc.ServerName = u.Hostname()
	d := &net.Dialer{Timeout: timeout}
	c, err := goldap.DialURL(rawURL, goldap.DialWithDialer(d), goldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(p.cfg.Timeout)
	if p.cfg.StartTLS && u.Scheme == "ldap" {
		if err := startTLS(c, tc); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if p.bindDN != "" {
		if err := c.Bind(p.bindDN, p.bindPW); err != nil {
			c.Close()
			return nil, fmt.Errorf("bind as %s: %w", p.bindDN, err)
		}
	}
	return c, nil
}

func startTLS(c *goldap.Conn, tc *tls.Config) error {
	return c.StartTLS(tc)
}

// isConnErr reports an error that leaves the connection unusable.
func isConnErr(c *goldap.Conn, err error) bool {
	return c.IsClosing() || goldap.IsErrorAnyOf(err, goldap.ErrorNetwork, goldap.LDAPResultServerDown, goldap.LDAPResultUnavailable, goldap.LDAPResultBusy)
}

// do runs f on a pooled connection. When f fails on a connection that had
// been idle and the failure is the connection's, f is tried once more on
// a new connection: the server may have restarted since.
func (p *pool) do(ctx context.Context, f func(*goldap.Conn) error) error {
	fresh := false
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx, fresh)
		if err != nil {
			return err
		}
		err = f(c)
		broken := err != nil && isConnErr(c, err)
		p.put(c, broken)
		if broken && reused && attempt == 0 {
			fresh = true
			continue
		}
		return err
	}
}
