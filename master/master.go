// Package master is the root process: it reads and validates the
// configuration, binds every listener, starts and supervises the auth,
// login and per-user worker processes, routes each confirmed login to its
// user's worker, and handles SIGHUP (reload), SIGTERM (stop) and SIGUSR1
// (reopen logs). It links no protocol engine.
package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"cote/auth/masterclient"
	"cote/config"
	"cote/metrics"
	"cote/proto"
)

// Options configure a master.
type Options struct {
	// Load returns the validated configuration; it is called at start and
	// on every SIGHUP.
	Load func() (*config.Settings, error)
	// Exe is the cote binary children are executed from.
	Exe string
	// Dev marks the development mode (for messages only).
	Dev bool
}

// Master is a running master process.
type Master struct {
	opts   Options
	exe    string
	sink   *logSink
	log    *slog.Logger
	events chan any
	deadR  *os.File // read end of the master-dead pipe, given to every child
	deadW  *os.File
	// workerExe is the separate worker binary, nil when workers run
	// from exe (workerexe.go).
	workerExe *workerExe

	ids       idResolver
	listeners listenerSet
	cfg       *config.Settings
	gen       uint64
	procs     map[int]*proc
	svcs      map[string]*service
	workers   map[string]*proc          // user -> live worker
	waiting   map[string][]*pendingUser // user -> sessions waiting for a worker
	authc     *masterclient.Client
	hib       *hibernation // sessions in imap-hibernate (hibernate.go)
	pprof     *pprofState  // coteadm pprof requests (pprof.go); nil until the first
	stopping  bool
	root      bool

	starter    nnpStarter  // runs every child's exec (nnp.go)
	configJSON configCache // the encoded configuration children get (spawn.go)
	// credExecFailed says an exec with a child's own ids failed once
	// (spawn.go), so that it is logged once.
	credExecFailed atomic.Bool

	// Spare workers without a user, oldest first, and how many are
	// being started off the loop (spare.go).
	spares         []*proc
	sparesStarting int
	sparesReady    uint64 // the generation whose pool was last logged full
	// Users whose worker is being started off the loop, with the work
	// that waits for it (route.go).
	starting map[string][]*pendingUser
	// Users whose work waits for a worker slot that an evicted idle
	// worker is freeing (evict.go), in arrival order, and their work.
	slotQueue []string
	slotWork  map[string][]*pendingUser

	restarts map[string]int // crashes per role, for coteadm stats and metrics
	metrics  *metricsState
	stopReq  chan struct{} // coteadm stop

	// inject runs functions on the event loop; tests use it to act as a
	// compromised child. Nil (never ready) outside tests.
	inject chan func(*Master)
}

type exitEvent struct {
	p   *proc
	err error
}

type ctlEvent struct {
	p     *proc
	msg   proto.Message
	files []*os.File
	err   error
}

type respawnEvent struct{ svc string }

// Run runs the master until SIGTERM/SIGINT or ctx is done.
func Run(ctx context.Context, o Options) error {
	m, cfg, err := newMaster(o)
	if err != nil {
		return err
	}
	return m.run(ctx, cfg)
}

func newMaster(o Options) (*Master, *config.Settings, error) {
	cfg, err := o.Load()
	if err != nil {
		return nil, nil, err
	}
	sink, err := newLogSinkPaths(cfg.LogPath, cfg.InfoLogPath, cfg.DebugLogPath, cfg.SyslogFacility)
	if err != nil {
		return nil, nil, err
	}
	sink.setTimestamp(cfg.LogTimestamp)
	m := &Master{
		opts:     o,
		exe:      o.Exe,
		sink:     sink,
		log:      sink.logger(),
		events:   make(chan any, 256),
		procs:    map[int]*proc{},
		svcs:     map[string]*service{},
		workers:  map[string]*proc{},
		waiting:  map[string][]*pendingUser{},
		root:     os.Getuid() == 0,
		restarts: map[string]int{},
		metrics:  &metricsState{agg: metrics.NewAggregate()},
		stopReq:  make(chan struct{}, 1),
	}
	return m, cfg, nil
}

func (m *Master) run(ctx context.Context, cfg *config.Settings) error {
	var err error
	if !m.root {
		m.log.Info("running as a non-root user: every process runs as uid " + strconv.Itoa(os.Getuid()) + ", without privilege separation")
	}
	if m.deadR, m.deadW, err = os.Pipe(); err != nil {
		return err
	}
	defer m.deadW.Close()
	m.useWorkerExe()
	if err := m.prepareRuntime(cfg); err != nil {
		return err
	}
	activated, err := m.listeners.adoptActivated()
	if err != nil {
		return err
	}
	defer os.Remove(filepath.Join(cfg.BaseDir, "master.pid"))
	al, err := m.listenAdmin(cfg.BaseDir, cfg.AdminGroup)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer al.Close()
	if cfg.MetricsListen != "" {
		ml, err := m.serveMetrics(cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics_listen %s: %w", cfg.MetricsListen, err)
		}
		defer ml.Close()
		m.metrics.served = true
	}
	if err := m.apply(cfg); err != nil {
		m.stopAll(5 * time.Second)
		return err
	}
	for _, k := range activated {
		if b := m.listeners.byKey[k]; b != nil {
			m.log.Info("using socket-activated listener", "socket", k, "listener", b.name)
		} else {
			m.log.Warn("socket-activated listener matches no configured listener; closed it", "socket", k)
		}
	}
	notify("READY=1\nSTATUS=running\nMAINPID=" + strconv.Itoa(os.Getpid()))
	m.log.Info("cote started", "version", Version, "base_dir", cfg.BaseDir)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return m.shutdown()
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				m.reload()
			case syscall.SIGUSR1:
				if err := m.sink.reopen(); err != nil {
					m.log.Error("reopen log", "err", err)
				}
			default:
				m.log.Info("stopping", "signal", s.String())
				return m.shutdown()
			}
		case ev := <-m.events:
			m.handle(ev)
		case f := <-m.inject:
			f(m)
		case <-m.stopReq:
			m.log.Info("stopping", "by", "coteadm")
			return m.shutdown()
		case <-tick.C:
			m.maintain()
		}
	}
}

// Version is set by cmd/cote.
var Version = "dev"

func (m *Master) prepareRuntime(cfg *config.Settings) error {
	if err := os.MkdirAll(cfg.BaseDir, 0o755); err != nil {
		return fmt.Errorf("create base_dir: %w", err)
	}
	os.Chmod(cfg.BaseDir, 0o755)
	empty := filepath.Join(cfg.BaseDir, "empty")
	if err := os.MkdirAll(empty, 0o555); err != nil {
		return err
	}
	os.Chmod(empty, 0o555)
	pidfile := filepath.Join(cfg.BaseDir, "master.pid")
	if b, err := os.ReadFile(pidfile); err == nil {
		if pid, err := strconv.Atoi(string(trimSpace(b))); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("cote is already running with pid %d (%s)", pid, pidfile)
		}
	}
	return os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// apply makes cfg the current generation: binds its listeners, keeps the
// sockets that did not change, and (re)starts services.
func (m *Master) apply(cfg *config.Settings) error {
	gen := m.gen + 1
	svcs, keep, err := m.plan(cfg)
	if err != nil {
		return err
	}
	old := m.svcs
	m.cfg, m.gen = cfg, gen
	m.svcs = svcs
	if m.authc != nil {
		m.authc.Close()
		m.authc = nil
	}
	// Old generation: stop accepting, finish sessions.
	for _, p := range m.procs {
		if p.role != proto.RoleWorker && !p.shutdown {
			p.shutdown = true
			p.ctl.Send(&proto.Shutdown{})
		}
	}
	_ = old
	m.stopSpares()
	m.listeners.retain(keep)
	// auth first: logins need it.
	for _, name := range startOrder {
		if s := svcs[name]; s != nil {
			if err := m.fill(s); err != nil {
				return err
			}
		}
	}
	m.fillSpares()
	return nil
}

func (m *Master) reload() {
	notify("RELOADING=1")
	defer notify("READY=1")
	cfg, err := m.opts.Load()
	if err != nil {
		m.log.Error("reload failed, keeping the running configuration", "err", err)
		return
	}
	if err := m.apply(cfg); err != nil {
		m.log.Error("reload failed", "err", err)
		return
	}
	m.log.Info("configuration reloaded", "generation", m.gen)
}

// notify sends a state line to systemd's NOTIFY_SOCKET, if any.
func notify(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}

func (m *Master) shutdown() error {
	m.stopping = true
	notify("STOPPING=1")
	wait := 6 * time.Second
	if m.cfg != nil && !m.cfg.ShutdownClients {
		wait = 0
	}
	m.stopAll(wait)
	m.log.Info("cote stopped")
	return nil
}

// stopAll asks every child to stop, waits up to wait for them, then kills
// what is left. Closing the master-dead pipe makes children that miss the
// message exit too.
func (m *Master) stopAll(wait time.Duration) {
	// Auth stops last, once the processes that talk to it are gone.
	authStopped := false
	stopAuth := func() {
		for _, p := range m.procs {
			if p.role == proto.RoleAuth {
				p.ctl.Send(&proto.Shutdown{Now: true})
			}
		}
		authStopped = true
	}
	for _, p := range m.procs {
		if p.role != proto.RoleAuth {
			p.ctl.Send(&proto.Shutdown{Now: true})
		}
	}
	deadline := time.After(wait)
	for len(m.procs) > 0 {
		if !authStopped && m.onlyAuthLeft() {
			stopAuth()
		}
		select {
		case ev := <-m.events:
			m.handle(ev)
		case <-deadline:
			for _, p := range m.procs {
				m.log.Warn("killing child that did not stop", "child_role", p.role, "child_pid", p.pid)
				syscall.Kill(p.pid, syscall.SIGKILL)
			}
			deadline = time.After(5 * time.Second)
			wait = 0
		}
	}
	m.deadW.Close()
	for _, b := range m.listeners.byKey {
		b.file.Close()
	}
	m.listeners.retain(nil)
}

func (m *Master) onlyAuthLeft() bool {
	for _, p := range m.procs {
		if p.role != proto.RoleAuth {
			return false
		}
	}
	return true
}

func (m *Master) handle(ev any) {
	switch ev := ev.(type) {
	case exitEvent:
		m.reap(ev.p, ev.err)
	case ctlEvent:
		if ev.err != nil {
			if !proto.IsClosed(ev.err) && !ev.p.exited {
				m.log.Error("bad control message, killing child", "child_role", ev.p.role, "child_pid", ev.p.pid, "err", ev.err)
				syscall.Kill(ev.p.pid, syscall.SIGKILL)
			}
			return
		}
		m.control(ev.p, ev.msg, ev.files)
	case respawnEvent:
		if s := m.svcs[ev.svc]; s != nil {
			s.throttledUntil = time.Time{}
			if err := m.fill(s); err != nil {
				m.log.Error("start service", "service", s.name, "err", err)
			}
		}
	case userEvent:
		m.routeConfirmed(ev)
	case spareEvent:
		m.spareStarted(ev)
	case workerStartEvent:
		m.workerStarted(ev)
	case adminEvent:
		m.handleAdmin(ev)
	case func():
		ev()
	}
}

// reap handles a child's exit.
func (m *Master) reap(p *proc, err error) {
	p.exited = true
	m.metrics.agg.Retire(p.pid)
	delete(m.procs, p.pid)
	p.ctl.Close()
	crashed := err != nil && !p.shutdown && !m.stopping
	if crashed {
		m.log.Error("child died", "child_role", p.role, "child_pid", p.pid, "err", err)
		m.restarts[p.role]++
	}
	if p.role == proto.RoleWorker {
		m.workerGone(p)
		return
	}
	if p.role == proto.RoleHibernate {
		m.hibernateGone(p)
	}
	s := m.svcs[p.service]
	if s == nil || p.gen != m.gen || m.stopping {
		return
	}
	delete(s.procs, p.pid)
	if crashed {
		s.crashed()
	}
	if err := m.fill(s); err != nil {
		m.log.Error("restart service", "service", s.name, "err", err)
	}
}

func (m *Master) maintain() {
	if m.stopping {
		return
	}
	if m.metrics.served {
		// Only the metrics endpoint shows them; without it, reading
		// every worker's /proc/PID/statm each second is wasted.
		m.refreshSelfMetrics()
	}
	for _, s := range m.svcs {
		if len(s.procs) < s.minProcs() && s.throttledUntil.IsZero() {
			if err := m.fill(s); err != nil {
				m.log.Error("start service", "service", s.name, "err", err)
			}
		}
	}
	m.fillSpares()
}

var errNoAuth = errors.New("auth service is not running")
