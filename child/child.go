// Package child is what every process the master starts shares: it checks
// that the master started it, drops privileges as told, shakes hands on the
// control channel, receives the configuration, sets up logging to the
// master and watches for the master's death. It is the counterpart of the
// master's spawning code; the layout it reads is fixed in package proto.
package child

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cote/config"
	"cote/metrics"
	"cote/privsep"
	"cote/proto"
)

// Listener is one inherited listening socket.
type Listener struct {
	Name string
	SSL  bool
	L    net.Listener
}

// Process is a started child.
type Process struct {
	Role       string
	Ctl        *proto.Conn
	Config     *config.Settings
	Generation uint64
	Listeners  []Listener
	Log        *slog.Logger
	// LogLevel is Log's level: mail_debug/auth_debug from the config,
	// raised by a worker whose user's userdb says mail_debug=yes.
	LogLevel *slog.LevelVar
	// Done is closed when the master is gone (EOF on the master-dead
	// pipe). The process must then stop at once.
	Done <-chan struct{}
	// Metrics is the process's registry; its snapshot goes to the master
	// every few seconds while metrics_listen is set.
	Metrics *metrics.Registry
}

// ErrNotFromMaster is returned when a role is run by hand.
var ErrNotFromMaster = errors.New("this role is started by the cote master only")

// Start runs the child side of the start-up contract for role.
func Start(role string) (*Process, error) {
	if os.Getenv(proto.EnvRole) != role {
		return nil, ErrNotFromMaster
	}
	// Not dumpable: processes of the same uid cannot ptrace this one or
	// read its memory and descriptors through /proc. A child the kernel
	// executed with its own ids (master/spawn.go, execCredential) is
	// dumpable until here; one that changes ids below would become
	// non-dumpable by that change, which this makes explicit.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("prctl dumpable: %w", err)
	}
	ctl, err := proto.FileConn(proto.FDControl, "control")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFromMaster, err)
	}
	if err := limitAddressSpace(); err != nil {
		return nil, err
	}
	// Descriptors that the drop must not leave behind are ours alone: the
	// master passes nothing else.
	target, drop, err := targetFromEnv()
	if err != nil {
		return nil, err
	}
	if drop {
		if err := privsep.Drop(target); err != nil {
			return nil, fmt.Errorf("drop privileges: %w", err)
		}
	}
	p := &Process{Role: role, Ctl: ctl}
	if err := p.handshake(); err != nil {
		ctl.Close()
		return nil, err
	}
	p.LogLevel = new(slog.LevelVar)
	p.LogLevel.Set(logLevel(p.Config))
	p.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		Level: p.LogLevel,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			// The master stamps time, role and pid on every line.
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	if p.Listeners, err = inheritListeners(); err != nil {
		return nil, err
	}
	p.Done = watchMaster()
	p.serveProfiles()
	if p.Config.MetricsListen != "" {
		p.Metrics = metrics.NewRegistry()
		go p.reportMetrics()
	}
	return p, nil
}

// reportMetrics sends the registry's snapshot to the master periodically.
func (p *Process) reportMetrics() {
	t := time.NewTicker(metricsInterval)
	defer t.Stop()
	for {
		select {
		case <-p.Done:
			return
		case <-t.C:
			b := p.Metrics.Snapshot().Encode()
			if len(b) > proto.MaxPacket-16 {
				p.Log.Warn("metrics snapshot too large to send", "bytes", len(b))
				continue
			}
			if err := p.Ctl.Send(&proto.Metrics{Snapshot: b}); err != nil {
				return
			}
		}
	}
}

// metricsInterval is how often children report metrics.
const metricsInterval = 2 * time.Second

func logLevel(s *config.Settings) slog.Level {
	if s != nil && (s.MailDebug || s.AuthDebug) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// limitAddressSpace applies proto.EnvRlimitAS (vsz_limit and a margin)
// to this process; lowering one's own limit needs no privilege.
func limitAddressSpace() error {
	v := os.Getenv(proto.EnvRlimitAS)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return fmt.Errorf("%s=%q: not a size in bytes", proto.EnvRlimitAS, v)
	}
	if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: n, Max: n}); err != nil {
		return fmt.Errorf("set RLIMIT_AS: %w", err)
	}
	return nil
}

func targetFromEnv() (privsep.Target, bool, error) {
	var t privsep.Target
	us, gs := os.Getenv(proto.EnvSetUID), os.Getenv(proto.EnvSetGID)
	if us == "" && gs == "" {
		return t, false, nil
	}
	var err error
	if t.UID, err = strconv.Atoi(us); err != nil {
		return t, false, fmt.Errorf("%s=%q: %w", proto.EnvSetUID, us, err)
	}
	if t.GID, err = strconv.Atoi(gs); err != nil {
		return t, false, fmt.Errorf("%s=%q: %w", proto.EnvSetGID, gs, err)
	}
	t.Groups = []int{}
	if g := os.Getenv(proto.EnvSetGroups); g != "" {
		for _, f := range strings.Split(g, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return t, false, fmt.Errorf("%s=%q: %w", proto.EnvSetGroups, g, err)
			}
			t.Groups = append(t.Groups, n)
		}
	}
	t.Chroot = os.Getenv(proto.EnvChroot)
	return t, true, nil
}

func (p *Process) handshake() error {
	p.Ctl.UnixConn().SetDeadline(time.Now().Add(30 * time.Second))
	defer p.Ctl.UnixConn().SetDeadline(time.Time{})
	m, _, err := p.Ctl.Recv()
	if err != nil {
		return fmt.Errorf("%w: no hello: %v", ErrNotFromMaster, err)
	}
	h, ok := m.(*proto.Hello)
	if !ok || h.Version != proto.Version || h.Role != p.Role {
		return fmt.Errorf("%w: bad hello %+v", ErrNotFromMaster, m)
	}
	if err := p.Ctl.Send(&proto.Hello{Version: proto.Version, Role: p.Role, PID: uint32(os.Getpid())}); err != nil {
		return err
	}
	m, files, err := p.Ctl.Recv()
	if err != nil {
		return fmt.Errorf("receive config: %w", err)
	}
	c, ok := m.(*proto.Config)
	if !ok {
		return fmt.Errorf("expected config, got message type %d", m.Type())
	}
	defer files[0].Close()
	data, err := io.ReadAll(io.NewSectionReader(files[0], 0, int64(c.Size)))
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var s config.Settings
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	p.Config = &s
	p.Generation = c.Generation
	return nil
}

func inheritListeners() ([]Listener, error) {
	spec := os.Getenv(proto.EnvListeners)
	if spec == "" {
		return nil, nil
	}
	var ls []Listener
	for i, item := range strings.Split(spec, ",") {
		name, opt, _ := strings.Cut(item, ":")
		fd := proto.FDListenFirst + i
		f := os.NewFile(uintptr(fd), name)
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, x := range ls {
				x.L.Close()
			}
			return nil, fmt.Errorf("listener %s on descriptor %d: %w", name, fd, err)
		}
		ls = append(ls, Listener{Name: name, SSL: opt == "ssl", L: l})
	}
	return ls, nil
}

func watchMaster() <-chan struct{} {
	done := make(chan struct{})
	f := os.NewFile(proto.FDMasterDead, "master-dead")
	go func() {
		var b [1]byte
		for {
			if _, err := f.Read(b[:]); err != nil {
				close(done)
				return
			}
		}
	}()
	return done
}

// Context returns a context cancelled when the master dies.
func (p *Process) Context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-p.Done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
