// Package pam is the PAM passdb: it checks passwords through the
// system's Pluggable Authentication Modules (libpam, through
// github.com/msteinert/pam/v2), as Dovecot's passdb pam does
// (src/auth/passdb-pam.c).
//
// PAM calls block and many modules are not safe to call from several
// threads at once on one handle, so every transaction runs start to end
// on one locked OS thread of a bounded pool; the auth request only waits
// for its result. A worker thread that has served max_requests
// transactions exits, and the Go runtime ends the thread with it (what
// Dovecot gets by restarting its auth worker process): modules that leak
// do not grow the process forever.
//
// Most PAM stacks (pam_unix reading /etc/shadow) need the auth process to
// run as root; see docs/auth.md.
package pam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/msteinert/pam/v2"

	"cote/auth/passdb"
	"cote/auth/varexpand"
)

// Args are the passdb args: [session=yes] [setcred=yes]
// [failure_show_msg=yes] [max_requests=N] [cache_key=..] [SERVICE].
type Args struct {
	// Service is the PAM service name, a template: %s is the protocol
	// (imap, pop3, smtp); "*" means the same. Default "cote".
	Service string
	// Session opens and closes a PAM session after the password check
	// (pam_open_session); SetCred establishes and deletes credentials.
	Session, SetCred bool
	// FailureShowMsg tells the user PAM's own error message instead of
	// the generic one.
	FailureShowMsg bool
	// MaxRequests is how many transactions a worker thread runs before
	// it exits; 0 is no limit. Default 100, as Dovecot.
	MaxRequests int
	// Workers is how many PAM transactions run at once (cote's
	// workers=N; Dovecot's auth_worker_max_count). Default 30.
	Workers int
}

// ParseArgs reads Dovecot's passdb pam args.
func ParseArgs(s string) (Args, error) {
	a := Args{Service: "cote", MaxRequests: 100, Workers: 30}
	for f := range strings.FieldsSeq(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			if a.Service != "cote" {
				return Args{}, fmt.Errorf("two service names: %q and %q", a.Service, f)
			}
			a.Service = f
			if f == "*" {
				a.Service = "%s"
			}
			continue
		}
		yes := func() (bool, error) {
			switch v {
			case "yes":
				return true, nil
			case "no":
				return false, nil
			}
			return false, fmt.Errorf("%s=%q: want yes or no", k, v)
		}
		var err error
		switch k {
		case "session":
			a.Session, err = yes()
		case "setcred":
			a.SetCred, err = yes()
		case "failure_show_msg":
			a.FailureShowMsg, err = yes()
		case "max_requests", "workers":
			var n int
			n, err = strconv.Atoi(v)
			if err == nil && (n < 0 || k == "workers" && n == 0) {
				err = fmt.Errorf("%s=%d out of range", k, n)
			}
			if k == "workers" {
				a.Workers = n
			} else {
				a.MaxRequests = n
			}
		case "cache_key":
			// The auth cache keys on user and service already.
		default:
			err = fmt.Errorf("unknown argument %q", k)
		}
		if err != nil {
			return Args{}, err
		}
	}
	if err := varexpand.Check(a.Service); err != nil {
		return Args{}, fmt.Errorf("service: %w", err)
	}
	return a, nil
}

// Passdb is the PAM passdb.
type Passdb struct {
	args Args
	log  *slog.Logger
	pool *pool
	// timeout bounds how long a request waits for PAM; the transaction
	// itself cannot be interrupted and finishes on its thread.
	timeout time.Duration
}

// Open parses args and starts the (empty) worker pool.
func Open(args string, log *slog.Logger) (*Passdb, error) {
	a, err := ParseArgs(args)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Passdb{args: a, log: log.With("passdb", "pam"), pool: newPool(a.Workers, a.MaxRequests), timeout: 60 * time.Second}, nil
}

// Close stops the idle workers; busy ones exit when their transaction
// ends.
func (p *Passdb) Close() error {
	p.pool.close()
	return nil
}

// Lookup cannot work without a password: PAM only answers "is this
// password right".
func (p *Passdb) Lookup(context.Context, varexpand.Values) (passdb.Result, error) {
	return passdb.Result{}, passdb.ErrNoLookup
}

// errConversation ends a conversation PAM took beyond one password.
var errConversation = errors.New("PAM asked for more than the password")

// outcome of one transaction, computed on the worker thread.
type outcome struct {
	user   string // PAM_USER afterwards (a module may change it)
	err    error  // the PAM error, or errConversation
	step   string // which call failed
	msg    string // the last PAM_ERROR_MSG, for failure_show_msg
	prompt string // the prompt that broke the conversation
}

// VerifyPlain runs pam_authenticate and pam_acct_mgmt (and with the
// args, the session and credential calls) for the user.
func (p *Passdb) VerifyPlain(ctx context.Context, v varexpand.Values, password string) (passdb.Result, error) {
	service, err := varexpand.Expand(p.args.Service, v)
	if err != nil {
		return passdb.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var o outcome
	if err := p.pool.run(ctx, func() { o = p.transaction(service, v.User, v.RemoteIP, password) }); err != nil {
		return passdb.Result{}, fmt.Errorf("pam: %w", err)
	}
	res := passdb.Result{User: v.User}
	if o.user != "" && o.user != v.User {
		res.Fields = append(res.Fields, "user="+o.user)
	}
	if o.err == nil {
		return res, nil
	}
	if errors.Is(o.err, errConversation) {
		p.log.Error("PAM asked for more than a password; only stacks that ask for one password work with IMAP and POP3 logins",
			"service", service, "user", v.User, "prompt", o.prompt)
		return passdb.Result{}, fmt.Errorf("pam %s: %w", o.step, errConversation)
	}
	var pe pam.Error
	errors.As(o.err, &pe)
	p.log.Info("PAM refused", "service", service, "user", v.User, "step", o.step, "err", o.err.Error())
	refusal := &passdb.Refusal{}
	if p.args.FailureShowMsg && o.msg != "" {
		refusal.Reason = o.msg
	}
	switch pe {
	case pam.ErrUserUnknown:
		return passdb.Result{}, passdb.ErrNotFound
	case pam.ErrAuth, pam.ErrPermDenied, pam.ErrMaxtries, pam.ErrCredInsufficient, pam.ErrCred:
		return res, refusal
	case pam.ErrNewAuthtokReqd, pam.ErrAuthtokExpired, pam.ErrCredExpired:
		refusal.Code = "pass_expired"
		return res, refusal
	case pam.ErrAcctExpired:
		refusal.Code = "user_disabled"
		return res, refusal
	}
	// PAM_SYSTEM_ERR, PAM_AUTHINFO_UNAVAIL, PAM_BUF_ERR, a broken
	// service file...: not the user's fault.
	return passdb.Result{}, fmt.Errorf("pam %s (service %q): %w", o.step, service, o.err)
}

// transaction is one PAM transaction, run on a worker thread. It never
// keeps the password beyond the conversation.
func (p *Passdb) transaction(service, user, rip, password string) (o outcome) {
	asked, echoed := false, false
	conv := func(s pam.Style, msg string) (string, error) {
		switch s {
		case pam.PromptEchoOff:
			if asked {
				o.prompt = truncate(msg)
				return "", errConversation
			}
			asked = true
			return password, nil
		case pam.PromptEchoOn:
			// Dovecot answers a visible prompt with the user name
			// (e.g. "login:"); a second one wants something else.
			if echoed {
				o.prompt = truncate(msg)
				return "", errConversation
			}
			echoed = true
			return user, nil
		case pam.ErrorMsg:
			o.msg = truncate(msg)
			return "", nil
		case pam.TextInfo:
			return "", nil
		}
		o.prompt = "(binary prompt)"
		return "", errConversation
	}
	t, err := pam.StartFunc(service, user, conv)
	if err != nil {
		o.err, o.step = err, "pam_start"
		return o
	}
	defer t.End()
	fail := func(step string, err error) outcome {
		o.step = step
		o.err = err
		if o.prompt != "" {
			o.err = errConversation
		}
		return o
	}
	if rip != "" {
		if err := t.SetItem(pam.Rhost, rip); err != nil {
			return fail("pam_set_item(PAM_RHOST)", err)
		}
	}
	if err := t.SetItem(pam.Tty, "cote"); err != nil {
		return fail("pam_set_item(PAM_TTY)", err)
	}
	if err := t.Authenticate(0); err != nil {
		return fail("pam_authenticate", err)
	}
	if err := t.AcctMgmt(0); err != nil {
		return fail("pam_acct_mgmt", err)
	}
	if p.args.SetCred {
		if err := t.SetCred(pam.EstablishCred); err != nil {
			return fail("pam_setcred", err)
		}
	}
	if p.args.Session {
		if err := t.OpenSession(0); err != nil {
			return fail("pam_open_session", err)
		}
		if err := t.CloseSession(0); err != nil {
			return fail("pam_close_session", err)
		}
	}
	if p.args.SetCred {
		t.SetCred(pam.DeleteCred)
	}
	if u, err := t.GetItem(pam.User); err == nil {
		o.user = u
	}
	return o
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}

// pool runs jobs on at most n locked OS threads. Idle workers exit after
// idleTimeout; a worker that ran max jobs exits without unlocking its
// thread, so the runtime ends the thread.
type pool struct {
	jobs        chan func()
	slots       chan struct{} // one token per running worker
	max         int
	idleTimeout time.Duration
	stop        chan struct{}
	stopOnce    sync.Once
	wg          sync.WaitGroup // running workers
}

func newPool(n, max int) *pool {
	return &pool{jobs: make(chan func()), slots: make(chan struct{}, n), max: max, idleTimeout: time.Minute, stop: make(chan struct{})}
}

var errClosed = errors.New("passdb closed")

// run hands fn to a worker and waits for it to finish. When ctx ends
// first, run returns ctx's error and fn still completes on its thread.
func (p *pool) run(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	job := func() {
		defer close(done)
		fn()
	}
	for sent := false; !sent; {
		select {
		case p.jobs <- job:
			sent = true
		case p.slots <- struct{}{}:
			p.wg.Add(1)
			go p.worker()
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stop:
			return errClosed
		}
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pool) worker() {
	defer p.wg.Done()
	defer func() { <-p.slots }()
	runtime.LockOSThread()
	// No UnlockOSThread: when this goroutine returns, its thread ends
	// with it, taking whatever the PAM modules left behind.
	idle := time.NewTimer(p.idleTimeout)
	defer idle.Stop()
	for n := 0; p.max == 0 || n < p.max; n++ {
		select {
		case job := <-p.jobs:
			job()
			idle.Reset(p.idleTimeout)
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}

// close stops idle workers and waits for busy ones.
func (p *pool) close() {
	p.stopOnce.Do(func() { close(p.stop) })
	p.wg.Wait()
}
