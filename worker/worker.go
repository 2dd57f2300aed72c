// Package worker is the per-user mail process: it runs as the user's uid,
// owns the user's mail store, and serves every IMAP session (later POP3,
// deliveries and ManageSieve) of that user that the master hands it. It
// exits after a linger with no sessions, once the master agrees (so that
// no session is routed to a worker on its way out).
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cote/config"
	"cote/imap"
	"cote/internal/runners"
	"cote/lmtp/deliver"
	"cote/metrics"
	"cote/pop3"
	"cote/privsep"
	"cote/proto"
	"cote/sieve/managesieve"
	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/mbox"
)

// Options configure a worker.
type Options struct {
	Ctl      *proto.Conn
	Settings *config.Settings
	Log      *slog.Logger
	// Linger is how long the worker waits with no session before it
	// offers to exit.
	Linger time.Duration
	// Done is closed when the master is gone.
	Done <-chan struct{}
	// Metrics counts sessions and bytes; nil counts nothing.
	Metrics *metrics.Registry
	// LogLevel is Log's level, set to debug when the user's userdb
	// fields say mail_debug=yes (Dovecot's per-user mail_debug); nil
	// leaves the level alone.
	LogLevel *slog.LevelVar
}

type ctlMsg struct {
	msg   proto.Message
	files []*os.File
	err   error
}

// Worker serves one user.
type Worker struct {
	o  Options
	wg sync.WaitGroup
	// run runs sessions and tasks on goroutines it keeps.
	run *runners.Pool

	mu     sync.Mutex // guards user, store, filter and delivery while they are set up
	user   string
	store  storage.Store
	filter *sieveFilter
	// textIndexer is store's text indexer, started at the first
	// session; nil when the store has none to start.
	textIndexer textIndexerStarter
	// delivery is what every delivery of this worker shares, made at
	// the first: the settings for protocol lmtp and the sender of
	// Sieve's replies.
	delivery *deliverySetup
	// live counts sessions started or starting; "index rebuild" runs
	// only with none.
	live atomic.Int32
	// pop3Locks holds the POP3 maildrop lock (RFC 1939 section 8): every
	// session of the user lives in this process, so the lock is in memory
	// and never goes stale.
	pop3Locks pop3.Locks
}

// Run serves until the master grants an exit, asks for a shutdown, or
// dies.
func Run(o Options) error {
	if o.Linger <= 0 {
		o.Linger = 10 * time.Second
	}
	w := &Worker{o: o, run: runners.New(time.Minute)}
	o.Metrics.Help("sessions", "Sessions open in per-user workers, by protocol.")
	o.Metrics.Help("sessions_total", "Sessions started in per-user workers, by protocol.")
	o.Metrics.Help("bytes_in_total", "Bytes read from clients by per-user workers, by protocol.")
	o.Metrics.Help("deliveries_total", "LMTP deliveries by reply class.")
	o.Metrics.Help("bytes_out_total", "Bytes written to clients by per-user workers, by protocol.")
	o.Metrics.Help("imap_command_seconds", "IMAP command latency in per-user workers, by command.")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	msgs := make(chan ctlMsg)
	go func() {
		for {
			m, files, err := o.Ctl.Recv()
			select {
			case msgs <- ctlMsg{m, files, err}:
			case <-ctx.Done():
				for _, f := range files {
					f.Close()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()

	direct := make(chan channelDelivery) // deliveries from delivery channels (channel.go)
	ended := make(chan struct{}, 16)     // a session ended
	taskDone := make(chan struct{}, 16)  // a delivery or admin command finished
	sessions, tasks := 0, 0
	var lastSeq uint64
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	stopping := false
	finish := func() error {
		cancel()
		w.wg.Wait()
		if w.store != nil {
			return w.store.Close()
		}
		return nil
	}
	// idle starts the linger, or ends a stopping worker, once nothing runs.
	// It tells the master the worker is idle, so that the master can
	// evict it at once when it needs the worker's slot (process_limit).
	idle := func() bool {
		if sessions+tasks > 0 {
			return false
		}
		if stopping {
			return true
		}
		linger.Reset(o.Linger)
		o.Ctl.Send(&proto.WorkerIdle{LastSeq: lastSeq, Lingering: true})
		return false
	}
	// A worker that runs as root is a spare the master started ahead of
	// need: it takes nothing for a user before WorkerAssign has dropped
	// it to that user's ids.
	spare := os.Geteuid() == 0
	for {
		select {
		case <-o.Done:
			return finish()
		case cm := <-msgs:
			if cm.err != nil {
				if proto.IsClosed(cm.err) {
					return finish()
				}
				finish()
				return fmt.Errorf("control channel: %w", cm.err)
			}
			if spare && !spareMayTake(cm.msg) {
				for _, f := range cm.files {
					f.Close()
				}
				finish()
				return fmt.Errorf("control message type %d before WorkerAssign, as root", cm.msg.Type())
			}
			switch m := cm.msg.(type) {
			case *proto.WorkerAssign:
				if lastSeq != 0 {
					finish()
					return fmt.Errorf("WorkerAssign for %q after work for %q", m.User, w.user)
				}
				if err := w.assign(m); err != nil {
					finish()
					return err
				}
				spare = false
			case *proto.UserSession:
				lastSeq = m.Seq
				if stopping {
					cm.files[0].Close()
					continue
				}
				if err := w.start(ctx, m, cm.files[0], ended); err != nil {
					o.Log.Error("session start failed", "user", m.User, "err", err)
					if idle() {
						return finish()
					}
					continue
				}
				sessions++
				linger.Stop()
				o.Ctl.Send(&proto.Status{Clients: uint32(sessions), Available: 1})
			case *proto.Deliver:
				lastSeq = m.Seq
				tasks++
				linger.Stop()
				msg := cm.files[0]
				w.runTask(func() {
					defer msg.Close()
					o.Ctl.Send(w.deliver(ctx, m, msg))
				}, taskDone)
			case *proto.DeliverChannel:
				if stopping {
					cm.files[0].Close()
					continue
				}
				if err := w.readChannel(ctx, m, cm.files[0], direct); err != nil {
					o.Log.Warn("delivery channel", "err", err)
				}
			case *proto.QuotaCheck:
				lastSeq = m.Seq
				tasks++
				linger.Stop()
				w.runTask(func() { o.Ctl.Send(w.quotaCheck(m)) }, taskDone)
			case *proto.Admin:
				lastSeq = m.Seq
				tasks++
				linger.Stop()
				w.runTask(func() { w.admin(m) }, taskDone)
			case *proto.WorkerExit:
				return finish()
			case *proto.Shutdown:
				stopping = true
				if m.Now || sessions+tasks == 0 {
					return finish()
				}
			default:
				for _, f := range cm.files {
					f.Close()
				}
				finish()
				return fmt.Errorf("unexpected control message type %d", cm.msg.Type())
			}
		case cd := <-direct:
			// Not in lastSeq: the master did not send it.
			tasks++
			linger.Stop()
			w.runTask(func() {
				defer cd.msg.Close()
				cd.ch.Send(w.deliver(ctx, cd.d, cd.msg))
			}, taskDone)
		case <-ended:
			sessions--
			o.Ctl.Send(&proto.Status{Clients: uint32(sessions), Available: 1})
			if idle() {
				return finish()
			}
		case <-taskDone:
			tasks--
			if idle() {
				return finish()
			}
		case <-linger.C:
			if sessions+tasks > 0 {
				continue
			}
			if w.indexing() {
				// The text indexer finishes the mailboxes before the
				// worker asks to exit; the master can still evict it
				// meanwhile, as any lingering worker.
				linger.Reset(indexingPoll)
				continue
			}
			o.Ctl.Send(&proto.WorkerIdle{LastSeq: lastSeq})
		}
	}
}

// spareMayTake reports whether a spare worker, still root and without a
// user, accepts msg: only its assignment or a shutdown.
func spareMayTake(msg proto.Message) bool {
	switch msg.(type) {
	case *proto.WorkerAssign, *proto.Shutdown:
		return true
	}
	return false
}

// assign makes a spare worker the worker of m.User: it drops to the
// user's ids (when it runs as root) and asserts them, before it reads any
// work. A worker serves one user for its life, so a second assignment, or
// one to a worker that already took work, is refused.
func (w *Worker) assign(m *proto.WorkerAssign) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.user != "" || w.store != nil {
		return fmt.Errorf("WorkerAssign for %q to the worker of %q", m.User, w.user)
	}
	if m.User == "" {
		return errors.New("WorkerAssign without a user")
	}
	if os.Geteuid() == 0 {
		if m.UID == 0 {
			return fmt.Errorf("WorkerAssign for %q with uid 0", m.User)
		}
		t := privsep.Target{UID: int(m.UID), GID: int(m.GID), Groups: make([]int, len(m.Groups))}
		for i, g := range m.Groups {
			t.Groups[i] = int(g)
		}
		if err := privsep.Drop(t); err != nil {
			return fmt.Errorf("drop privileges for %q: %w", m.User, err)
		}
	}
	w.user = m.User
	return nil
}

// deliver stores one recipient's copy of a message (running the user's
// Sieve script) and returns the LMTP reply for it.
func (w *Worker) deliver(ctx context.Context, m *proto.Deliver, msg *os.File) *proto.DeliverReply {
	log := w.o.Log.With("session", m.SessionID)
	if err := w.ensureStore(m.User, m.Fields); err != nil {
		log.Error("delivery: open store", "err", err)
		return &proto.DeliverReply{Seq: m.Seq, Code: 451, Enhanced: "4.3.0", Message: "Temporary internal failure"}
	}
	w.mu.Lock()
	if w.delivery == nil {
		s := w.o.Settings.ForProtocol("lmtp")
		w.delivery = &deliverySetup{settings: s, sender: deliver.NewSender(s.SendmailPath, s.SubmissionHost, s.Hostname)}
	}
	ds := w.delivery
	s := ds.settings
	if w.filter == nil {
		w.filter = newSieveFilter(fieldValue(m.Fields, "home"), s.RecipientDelimiter, s.Hostname, s.Plugin, w.o.Log)
	}
	filter := w.filter
	w.mu.Unlock()
	reply := deliver.Deliver(ctx, deliver.Options{
		Store: w.store, Log: w.o.Log, Filter: filter, // Deliver adds the user, session and recipient
		Autocreate: s.LdaMailboxAutocreate, Autosubscribe: s.LdaMailboxAutosubscribe,
		QuotaFullTempfail: s.QuotaFullTempfail, HdrDeliveryAddress: s.LmtpHdrDeliveryAddress,
		Hostname: s.Hostname, PostmasterAddress: s.PostmasterAddress,
		Sender: ds.sender,
	}, m, msg)
	w.o.Metrics.Counter("deliveries_total", "result", strconv.Itoa(int(reply.Code)/100)+"xx").Inc()
	return reply
}

// deliverySetup is what a worker's deliveries share.
type deliverySetup struct {
	settings *config.Settings // ForProtocol("lmtp"), read only
	sender   deliver.Sender
}

// homeFile is a file in the user's home, or "" without a home.
func homeFile(fields []string, name string) string {
	if home := fieldValue(fields, "home"); home != "" {
		return filepath.Join(home, name)
	}
	return ""
}

func fieldValue(fields []string, key string) string {
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// quotaCheck answers whether a message of m.Size bytes fits the user's
// quota (lmtp_rcpt_check_quota).
func (w *Worker) quotaCheck(m *proto.QuotaCheck) *proto.QuotaCheckReply {
	reply := &proto.QuotaCheckReply{Seq: m.Seq}
	if err := w.ensureStore(m.User, m.Fields); err != nil {
		reply.Temp = true
		return reply
	}
	qs, ok := w.store.(storage.QuotaStore)
	if !ok {
		return reply
	}
	q, err := qs.Quota()
	if err != nil {
		reply.Temp = !errors.Is(err, storage.ErrNotImplemented)
		return reply
	}
	reply.Over = (q.StorageLimit > 0 && q.StorageUsed+int64(m.Size) > q.StorageLimit) ||
		(q.MessageLimit > 0 && q.MessagesUsed+1 > q.MessageLimit)
	return reply
}

// runTask runs a delivery or admin command in the background.
func (w *Worker) runTask(f func(), done chan<- struct{}) {
	w.wg.Add(1)
	w.run.Go(func() {
		defer w.wg.Done()
		defer func() { done <- struct{}{} }()
		defer func() {
			if r := recover(); r != nil {
				w.o.Log.Error("task panic", "panic", r)
			}
		}()
		f()
	})
}

// ensureStore opens the user's store on first use.
func (w *Worker) ensureStore(user string, fields []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.user == "" {
		w.user = user
	} else if w.user != user {
		return fmt.Errorf("work for %q routed to the worker of %q", user, w.user)
	}
	if w.store != nil {
		return nil
	}
	if w.o.LogLevel != nil && isYes(fieldValue(fields, "mail_debug")) {
		w.o.LogLevel.Set(slog.LevelDebug)
	}
	st, err := w.openStore(fields)
	if err != nil {
		return err
	}
	w.store = st
	return nil
}

// textIndexerStarter is a store whose background text indexer starts
// on demand (maildir.Options.DeferTextIndexer), and says whether it has
// work in hand.
type textIndexerStarter interface {
	StartTextIndexer()
	Indexing() bool
}

// indexingPoll is how often a worker past its linger looks whether its
// text indexer has finished.
const indexingPoll = time.Second

// indexing reports whether the store's text indexer has work in hand. A
// worker past its linger stays for it: the first session to see a large
// mailbox without an index (a migration) starts the indexing, and the
// worker finishes it instead of leaving a part to each later session,
// whose searches read what is not indexed.
func (w *Worker) indexing() bool {
	w.mu.Lock()
	ti := w.textIndexer
	w.mu.Unlock()
	return ti != nil && ti.Indexing()
}

// startTextIndexer starts the store's text indexer, deferred until the
// user's first session: a worker that only delivers leaves the texts it
// saves to the indexer of the next session (SEARCH reads what is not
// indexed meanwhile), as Dovecot without fts_autoindex does.
func (w *Worker) startTextIndexer() {
	w.mu.Lock()
	ti := w.textIndexer
	w.mu.Unlock()
	if ti != nil {
		ti.StartTextIndexer()
	}
}

// start opens the store on the first session and serves the session.
func (w *Worker) start(ctx context.Context, m *proto.UserSession, f *os.File, ended chan<- struct{}) error {
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	w.live.Add(1)
	{
		// A session under another name of this worker's mail (MailOf)
		// shares its store; it keeps its own name (m.User) for the
		// session itself.
		err := w.ensureStore(cmp.Or(m.MailOf, m.User), m.Fields)
		if err != nil {
			w.live.Add(-1)
			switch m.Conn.Protocol {
			case "pop3":
				fmt.Fprintf(conn, "-ERR [SYS/TEMP] Internal error occurred. Refer to server log for more information.\r\n")
			case "sieve":
				io.WriteString(conn, managesieve.Unavailable)
			default:
				fmt.Fprintf(conn, "%s NO [UNAVAILABLE] Internal error occurred. Refer to server log for more information.\r\n", m.Tag)
			}
			conn.Close()
			return err
		}
	}
	w.startTextIndexer()
	log := w.o.Log.With("session", m.Conn.SessionID, "remote", m.Conn.RemoteAddr)
	// A new session is not logged here: its login process has logged
	// the login (user, addresses, TLS, session id), and the end of the
	// session is logged below with its byte counts, the two lines
	// Dovecot logs for a session.
	if len(m.Resume) > 0 {
		log.Info("session resumed", "protocol", m.Conn.Protocol, "input", len(m.Leftover))
	}
	w.wg.Add(1)
	w.run.Go(func() {
		defer w.wg.Done()
		defer func() { ended <- struct{}{} }()
		defer w.live.Add(-1)
		defer conn.Close()
		defer func() {
			if r := recover(); r != nil {
				log.Error("session panic", "panic", r)
			}
		}()
		reg := w.o.Metrics
		protocol := m.Conn.Protocol
		reg.Counter("sessions_total", "protocol", protocol).Inc()
		live := reg.Gauge("sessions", "protocol", protocol)
		live.Add(1)
		defer live.Add(-1)
		cc := &countingConn{Conn: conn, in: reg.Counter("bytes_in_total", "protocol", protocol), out: reg.Counter("bytes_out_total", "protocol", protocol)}
		conn = cc
		err := w.serve(ctx, conn, m, log)
		// The session's last line, with what it read and wrote.
		end := log.With("in", cc.nin.Load(), "out", cc.nout.Load())
		if errors.Is(err, pop3.ErrInUse) {
			end.Info("disconnected", "reason", "maildrop in use")
		} else if errors.Is(err, pop3.ErrLoginDelay) {
			end.Info("disconnected", "reason", "login delay not expired")
		} else if errors.Is(err, imap.ErrHibernated) {
			end.Info("hibernated")
		} else if errors.Is(err, imap.ErrUnauthenticated) || errors.Is(err, managesieve.ErrUnauthenticated) {
			end.Info("unauthenticated: the connection went back to a login process")
		} else if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) {
			end.Info("disconnected", "err", err)
		} else {
			end.Info("disconnected")
		}
	})
	return nil
}

// serve runs one session with the engine of its protocol.
func (w *Worker) serve(ctx context.Context, conn net.Conn, m *proto.UserSession, log *slog.Logger) error {
	s := w.o.Settings
	switch m.Conn.Protocol {
	case "pop3":
		return pop3.Serve(ctx, conn, pop3.Options{
			Store: w.store, User: m.User, Leftover: m.Leftover, Log: log,
			UIDLFormat: s.Pop3UIDLFormat, UIDLDuplicates: s.Pop3UIDLDuplicates,
			ReuseXUIDL: s.Pop3ReuseXUIDL, NoFlagUpdates: s.Pop3NoFlagUpdates,
			DeleteType: s.Pop3DeleteType, DeletedFlag: s.Pop3DeletedFlag,
			Lock:       &w.pop3Locks,
			LoginDelay: s.Pop3LoginDelay,
			LoginStamp: homeFile(m.Fields, ".cote-pop3-login"),
		})
	case "sieve":
		home := fieldValue(m.Fields, "home")
		return managesieve.Serve(ctx, conn, newSieveConfig(s.Plugin, home, log).manageSieve(managesieve.Options{
			Home: home, User: m.User, Leftover: m.Leftover, Log: log,
			Implementation:   s.ManagesieveImplementationString,
			SieveCapability:  s.ManagesieveSieveCapability,
			NotifyCapability: s.ManagesieveNotifyCapability,
			MaxLine:          int(s.ManagesieveMaxLineLength),
			Unauthenticate:   w.unauthHook(conn, m),
		}))
	case "imap":
		auto, noAuto, use := mailboxSettings(s.Namespaces)
		o := imap.Options{
			AutoMailboxes:   auto,
			NoAutoMailboxes: noAuto,
			SpecialUse:      use,
			Store:           w.store,
			User:            m.User,
			Tag:             m.Tag,
			SendCapability:  m.SendCapability,
			Leftover:        m.Leftover,
			Log:             log,
			Secured:         m.Conn.Secured,
			IdleNotify:      s.ImapIdleNotifyInterval,
			HibernateAfter:  s.ImapHibernateTimeout,
			Hibernate:       w.hibernateHook(conn, m),
			Unauthenticate:  w.unauthHook(conn, m),
			Metrics:         w.o.Metrics,
		}
		if len(m.Resume) > 0 {
			return imap.Resume(ctx, conn, o, m.Resume)
		}
		return imap.Serve(ctx, conn, o)
	}
	conn.Close()
	return fmt.Errorf("no engine for protocol %q", m.Conn.Protocol)
}

func (w *Worker) openStore(fields []string) (storage.Store, error) {
	o, err := w.storeOptions(fields)
	if err != nil {
		return nil, err
	}
	w.o.Log.Debug("opening the mail store", "uid", os.Getuid(), "gid", os.Getgid(), "home", o.Home, "mail", o.Location)
	var st storage.Store
	if strings.HasPrefix(o.Location, "mbox:") {
		st, err = mbox.Open(mbox.Options{Location: o.Location, Home: o.Home, User: o.User,
			NoFsync: o.Fsync == maildir.FsyncNever, Log: o.Log})
	} else {
		st, err = maildir.Open(o)
	}
	if err != nil {
		return nil, err
	}
	if ti, ok := st.(textIndexerStarter); ok {
		w.textIndexer = ti // w.mu is held (ensureStore)
	}
	return newMailLog(w.o.Settings.Plugin, w.o.Log).wrapStore(st), nil
}

// storeOptions are the options the user's store opens with.
func (w *Worker) storeOptions(fields []string) (maildir.Options, error) {
	f := map[string]string{}
	for _, kv := range fields {
		k, v, _ := strings.Cut(kv, "=")
		f[k] = v
	}
	home := f["home"]
	loc := f["mail"]
	if loc == "" {
		loc = w.o.Settings.MailLocation
	}
	if loc == "" {
		loc = "maildir:~/Maildir"
	}
	if home == "" && strings.Contains(loc, "~") {
		return maildir.Options{}, errors.New("mail_location uses ~ but userdb gives no home")
	}
	if home != "" {
		if err := os.MkdirAll(home, 0o700); err != nil {
			return maildir.Options{}, fmt.Errorf("create home: %w", err)
		}
	}
	return maildir.Options{
		Location:      expandVars(loc, w.user, home),
		Home:          home,
		User:          w.user,
		Fsync:         fsyncMode(w.o.Settings.MailFsync),
		DovecotCompat: w.o.Settings.MaildirDovecotCompat,
		Log:           w.o.Log,
		QuotaRules:    quotaRules(w.o.Settings.Plugin, f),
		// Sessions start it (startTextIndexer); deliveries do not.
		DeferTextIndexer: true,
	}, nil
}

// quotaRules gathers quota_rule, quota_rule2, ... as Dovecot's quota
// plugin does: plugin { } settings are the defaults, userdb fields of the
// same names override them one by one.
func quotaRules(plugin, userdb map[string]string) []string {
	var rules []string
	for i := 1; i < 100; i++ {
		key := "quota_rule"
		if i > 1 {
			key += strconv.Itoa(i)
		}
		v, ok := userdb[key]
		if !ok {
			v, ok = plugin[key]
		}
		if !ok {
			if i > 1 {
				break
			}
			continue
		}
		if v != "" {
			rules = append(rules, v)
		}
	}
	return rules
}

// countingConn counts the bytes a session reads and writes, in the
// worker's metrics and for the session's last log line (nin, nout:
// IDLE writes from another goroutine than the commands').
type countingConn struct {
	net.Conn
	in, out   *metrics.Counter
	nin, nout atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(uint64(n))
	c.nin.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(uint64(n))
	c.nout.Add(int64(n))
	return n, err
}

// expandVars expands %u, %n, %d and %h (and %% ) in a mail location.
func expandVars(s, user, home string) string {
	local, domain, _ := strings.Cut(user, "@")
	r := strings.NewReplacer("%%", "%", "%u", user, "%n", local, "%d", domain, "%h", home)
	return r.Replace(s)
}

func fsyncMode(s string) maildir.FsyncMode {
	switch s {
	case "always":
		return maildir.FsyncAlways
	case "never":
		return maildir.FsyncNever
	}
	return maildir.FsyncOptimized
}

// isYes reads a userdb boolean field as Dovecot does.
func isYes(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "y", "1", "true":
		return true
	}
	return false
}
