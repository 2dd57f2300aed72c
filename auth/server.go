// Package auth is cote's auth service: it checks logins against passdbs,
// gives users their userdb fields, runs the SASL mechanisms and the
// failure delay, and serves Dovecot's two auth protocols, line for line:
// the auth-client protocol (login processes, Postfix
// smtpd_sasl_type=dovecot) and the auth-master protocol (the cote master
// redeeming a login, mail delivery looking up users). See docs/auth.md.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"cote/auth/ldap"
	"cote/auth/mech"
	"cote/auth/oauth2"
	"cote/auth/pam"
	"cote/auth/passdb"
	"cote/auth/sql"
	"cote/auth/userdb"
	"cote/auth/varexpand"
	"cote/internal/runners"
)

// ErrServerClosed is returned by ServeClient and ServeMaster after Close.
var ErrServerClosed = errors.New("auth: server closed")

// DBConfig configures one passdb or userdb.
type DBConfig struct {
	Driver string // passdb: passwd-file, ldap, sql; userdb: passwd-file, static, ldap, sql
	Args   string
	// Skip, ResultSuccess, ResultFailure and ResultInternalfail are
	// Dovecot's skip and result_* settings; "" is the default.
	Skip                                             string
	ResultSuccess, ResultFailure, ResultInternalfail string
	// DefaultFields and OverrideFields are space-separated key=value
	// templates.
	DefaultFields, OverrideFields string
	// Master marks a master passdb (master = yes): it checks master
	// users' passwords; with Pass (pass = yes) the user logged in as
	// must also be in a normal passdb. See verifier.go.
	Master, Pass bool
}

// Options configure a Server.
type Options struct {
	Passdbs, Userdbs []DBConfig
	// Mechanisms are the enabled SASL mechanisms, e.g. PLAIN LOGIN;
	// default PLAIN.
	Mechanisms []string
	// FailureDelay is auth_failure_delay: how long after a request
	// started its failure reply is held; default 2s, negative for none.
	FailureDelay time.Duration
	// UsernameFormat is auth_username_format; default %Lu.
	UsernameFormat string
	// UsernameChars is auth_username_chars; default a-zA-Z0-9.-_@.
	UsernameChars string
	Log           *slog.Logger
	Now           func() time.Time

	// The rest is in verifier.go, cache.go and penalty.go; defaults
	// in setExtraDefaults.

	// MasterUserSeparator is auth_master_user_separator ("*": log in
	// as user*master with the master's password).
	MasterUserSeparator string
	// DefaultRealm is auth_default_realm, appended as @realm to a
	// login name without one. Realms is auth_realms, kept for the
	// mechanisms that announce realms (cote has none yet).
	DefaultRealm string
	Realms       []string
	// AnonymousUsername is auth_anonymous_username; default anonymous.
	AnonymousUsername string
	// CacheSize is auth_cache_size in bytes; 0 disables the cache.
	// CacheTTL and CacheNegativeTTL default to an hour.
	CacheSize                  int64
	CacheTTL, CacheNegativeTTL time.Duration
}

// Defaults as in Dovecot 2.3.
const (
	DefaultFailureDelay   = 2 * time.Second
	DefaultUsernameFormat = "%Lu"
	DefaultUsernameChars  = "a-zA-Z0-9.-_@"
	// RequestTimeout is how long an unfinished request, or a finished
	// one waiting for the master's REQUEST, is kept
	// (MASTER_AUTH_SERVER_TIMEOUT_SECS).
	RequestTimeout = 150 * time.Second
)

type passdbDriver interface {
	Lookup(ctx context.Context, v varexpand.Values) (passdb.Result, error)
}

type userdbDriver interface {
	Lookup(ctx context.Context, v varexpand.Values) (userdb.Result, error)
}

// userLister is a userdb that can enumerate its users (LIST).
type userLister interface {
	List(ctx context.Context) ([]string, error)
}

// Server is the auth service.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	passdbs []passdbDriver
	userdbs []userdbDriver
	// passRules and userRules are the skip and result_* settings of
	// passdbs and userdbs, index for index.
	passRules, userRules []dbRules
	mechs                []mech.Mechanism
	chars                *[256]bool // allowed username bytes; nil allows all
	pid                  int
	delay                *delayQueue
	timeout              time.Duration
	ctx                  context.Context
	cancel               context.CancelFunc
	peerUID              func(net.Conn) (uint32, bool)
	randRead             func([]byte) (int, error)
	masters              []masterPassdb // master = yes passdbs
	cache                *passCache     // nil when auth_cache_size is 0
	penalty              *penaltyTable

	mu        sync.Mutex // guards the fields below
	closed    bool
	cuid      uint32
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	logins    map[uint32]*clientConn // login connections by CPID
	clients   map[*clientConn]struct{}

	wg sync.WaitGroup // connection and accept goroutines
	// run runs mechanism steps and master requests on goroutines it
	// keeps (internal/runners).
	run *runners.Pool
}

// New opens and checks every driver; errors name the driver and its args.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FailureDelay == 0 {
		o.FailureDelay = DefaultFailureDelay
	}
	if o.UsernameFormat == "" {
		o.UsernameFormat = DefaultUsernameFormat
	}
	if o.UsernameChars == "" {
		o.UsernameChars = DefaultUsernameChars
	}
	if len(o.Mechanisms) == 0 {
		o.Mechanisms = []string{"PLAIN"}
	}
	if err := varexpand.Check(o.UsernameFormat); err != nil {
		return nil, fmt.Errorf("auth_username_format: %w", err)
	}
	setExtraDefaults(&o)
	s := &Server{
		run:       runners.New(time.Minute),
		opts:      o,
		log:       o.Log,
		now:       o.Now,
		chars:     parseChars(o.UsernameChars),
		pid:       os.Getpid(),
		timeout:   RequestTimeout,
		peerUID:   peerUID,
		randRead:  rand.Read,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		logins:    map[uint32]*clientConn{},
		clients:   map[*clientConn]struct{}{},
		cache:     newPassCache(o.CacheSize, o.CacheTTL, o.CacheNegativeTTL, o.Now),
		penalty:   newPenaltyTable(o.Now),
	}
	for _, name := range o.Mechanisms {
		m, ok := mech.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("auth_mechanisms: unsupported mechanism %q (have %s)", name, strings.Join(mech.Names(), " "))
		}
		s.mechs = append(s.mechs, m)
	}
	if len(o.Passdbs) == 0 {
		return nil, errors.New("auth: no passdb configured")
	}
	if len(o.Userdbs) == 0 {
		return nil, errors.New("auth: no userdb configured")
	}
	for _, c := range o.Passdbs {
		var d passdbDriver
		var err error
		switch c.Driver {
		case "passwd-file":
			d, err = passdb.OpenPasswdFile(c.Args, o.Log)
		case "ldap":
			d, err = ldap.OpenPassDB(c.Args, o.Log)
		case "sql":
			d, err = sql.Open(c.Args, o.Log)
		case "pam":
			d, err = pam.Open(c.Args, o.Log)
		case "oauth2":
			d, err = oauth2.Open(c.Args, o.Log)
		default:
			err = errors.New("unknown driver")
		}
		var rules dbRules
		if err == nil {
			s.passdbs = append(s.passdbs, s.wrapPassdb(d, len(s.passdbs)+1))
			rules, err = parseRules(c, false)
		}
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("passdb %s (args %q): %w", c.Driver, c.Args, err)
		}
		s.passRules = append(s.passRules, rules)
	}
	for _, c := range o.Userdbs {
		var d userdbDriver
		var err error
		switch c.Driver {
		case "passwd-file":
			d, err = userdb.OpenPasswdFile(c.Args, o.Log)
		case "static":
			d, err = userdb.OpenStatic(c.Args)
		case "passwd":
			d, err = userdb.OpenPasswd(c.Args)
		case "ldap":
			d, err = ldap.OpenUserDB(c.Args, o.Log)
		case "sql":
			d, err = sql.OpenUserDB(c.Args, o.Log)
		default:
			err = errors.New("unknown driver")
		}
		var rules dbRules
		if err == nil {
			s.userdbs = append(s.userdbs, d)
			rules, err = parseRules(c, true)
		}
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("userdb %s (args %q): %w", c.Driver, c.Args, err)
		}
		s.userRules = append(s.userRules, rules)
	}
	s.splitMasters()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.delay = newDelayQueue(o.FailureDelay, o.Now)
	s.wg.Add(1)
	go s.janitor(10 * time.Second)
	return s, nil
}

// closeDBs releases the drivers that hold connections (LDAP, SQL).
func (s *Server) closeDBs() {
	s.closeMasters()
	for _, d := range s.passdbs {
		if c, ok := d.(io.Closer); ok {
			c.Close()
		}
	}
	for _, d := range s.userdbs {
		if c, ok := d.(io.Closer); ok {
			c.Close()
		}
	}
}

// janitor expires old requests until the server closes.
func (s *Server) janitor(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		clients := make([]*clientConn, 0, len(s.clients))
		for cc := range s.clients {
			clients = append(clients, cc)
		}
		s.mu.Unlock()
		now := s.now()
		for _, cc := range clients {
			cc.expire(now)
		}
	}
}

// parseChars turns auth_username_chars into a byte set. "x-y" is a range
// when both ends are letters or digits of one kind; "*" allows all.
func parseChars(spec string) *[256]bool {
	if spec == "*" {
		return nil
	}
	var set [256]bool
	same := func(a, b byte) bool {
		class := func(c byte) int {
			switch {
			case c >= 'a' && c <= 'z':
				return 1
			case c >= 'A' && c <= 'Z':
				return 2
			case c >= '0' && c <= '9':
				return 3
			}
			return 0
		}
		return class(a) != 0 && class(a) == class(b) && a <= b
	}
	for i := 0; i < len(spec); i++ {
		if i+2 < len(spec) && spec[i+1] == '-' && same(spec[i], spec[i+2]) {
			for c := int(spec[i]); c <= int(spec[i+2]); c++ {
				set[c] = true
			}
			i += 2
			continue
		}
		set[spec[i]] = true
	}
	return &set
}

// normalizeUser checks auth_username_chars and applies
// auth_username_format.
func (s *Server) normalizeUser(user string, v varexpand.Values) (string, bool) {
	if user == "" {
		return "", false
	}
	if s.opts.DefaultRealm != "" && !strings.Contains(user, "@") {
		user += "@" + s.opts.DefaultRealm
	}
	if s.chars != nil {
		for i := 0; i < len(user); i++ {
			if !s.chars[user[i]] {
				return "", false
			}
		}
	}
	v.User = user
	u, err := varexpand.Expand(s.opts.UsernameFormat, v)
	if err != nil || u == "" {
		return "", false
	}
	return u, true
}

func (s *Server) track(l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	return nil
}

// serve is the accept loop shared by both protocols.
func (s *Server) serve(l net.Listener, handle func(net.Conn)) error {
	if err := s.track(l); err != nil {
		l.Close()
		return err
	}
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("auth: panic in connection", "panic", r, "stack", stack())
				}
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			handle(c)
		}()
	}
}

// ServeClient serves the auth-client protocol on l. login marks the
// socket login processes use: its CPIDs must be unique and its successful
// requests are kept for the master's REQUEST.
func (s *Server) ServeClient(l net.Listener, login bool) error {
	return s.serve(l, func(c net.Conn) { s.newClientConn(c, login).run() })
}

// ServeMaster serves the auth-master protocol on l. userdbOnly is the
// auth-userdb socket: no REQUEST, and a peer that is neither root nor the
// auth process's own uid may look up only users with its own uid, and may
// not use PASS or LIST.
func (s *Server) ServeMaster(l net.Listener, userdbOnly bool) error {
	return s.serve(l, func(c net.Conn) { s.newMasterConn(c, userdbOnly).run() })
}

// Close stops the listeners, drops every connection, and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.delay.close()
	s.closeDBs()
	return nil
}
