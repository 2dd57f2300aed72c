package master

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"cote/config"
	"cote/privsep"
	"cote/proto"
)

// proc is one child process. Its fields are owned by the master's event
// loop; the reader and waiter goroutines only send events.
type proc struct {
	role    string
	service string
	user    string // workers: the user whose mail it holds
	pid     int
	gen     uint64
	cmd     *exec.Cmd
	ctl     *proto.Conn
	started time.Time
	status  proto.Status

	shutdown bool // Shutdown sent (reload or stop)
	exited   bool

	// workers
	fields      []string // userdb fields it was started with
	uid, gid    int
	lastSent    uint64
	exiting     bool                     // WorkerExit granted
	deliveries  map[uint64]deliveryRoute // by worker-side Seq, until answered
	quotaChecks map[uint64]deliveryRoute // likewise, for QuotaCheck
	admins      map[uint64]net.Conn      // coteadm connections waiting for the worker

	// lmtp processes: recipient names whose mail a running worker of
	// another name holds (deliver.go), so that their deliveries go to it
	// without asking auth again.
	mailOwners map[string]*proc
	// channels: the worker each recipient name's delivery channel
	// (proto.DeliverChannel) was given to.
	channels map[string]*proc

	// idleSeq is the LastSeq of the worker's last WorkerIdle with
	// Lingering, idleSince when the master had it; idle says there was
	// one. The worker is still idle while idleSeq == lastSent (evict.go).
	idle      bool
	idleSeq   uint64
	idleSince time.Time
	// logUser is the user of a spare worker once assigned, for the
	// prefix of its log lines (read by the log collector).
	logUser atomic.Pointer[string]
}

type spawnSpec struct {
	role      string
	service   string
	user      string
	target    *privsep.Target // nil: keep the master's credentials (non-root)
	listeners []*boundListener
	settings  *config.Settings
	gen       uint64
}

// spawn starts a child with the fixed descriptor layout of package proto
// and runs the master side of the handshake.
func (m *Master) spawn(sp spawnSpec) (*proc, error) {
	ctl, childEnd, err := proto.Pair()
	if err != nil {
		return nil, err
	}
	defer childEnd.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		ctl.Close()
		return nil, err
	}
	defer logW.Close()

	command := func(held *workerExe, cred *syscall.Credential) *exec.Cmd {
		cmd := exec.Command(m.exe, sp.role)
		if held != nil {
			cmd = exec.Command(held.execPath(), sp.role)
			cmd.Args[0] = held.path
		}
		cmd.Env = childEnv(sp)
		cmd.Stdin = nil
		cmd.Stdout = logW
		cmd.Stderr = logW
		cmd.ExtraFiles = []*os.File{childEnd, m.deadR}
		for _, l := range sp.listeners {
			cmd.ExtraFiles = append(cmd.ExtraFiles, l.file)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
		return cmd
	}
	var held *workerExe
	slack := 0
	if sp.role == proto.RoleWorker {
		held = m.workerExe
		slack = proto.WorkerTimerSlack
	}
	cred := execCredential(sp.target)
	cmd := command(held, cred)
	err = m.starter.start(cmd, slack)
	if err != nil && cred != nil {
		// The target's ids may not execute the binary (its mode, or a
		// directory on its path): the child starts as root and drops
		// itself, as a child with a chroot does. Each start tries its
		// ids first (an exec can also fail for a moment under load,
		// see below); the log says it once.
		if !m.credExecFailed.Swap(true) {
			exe := m.exe
			if held != nil {
				exe = held.path
			}
			m.log.Warn("cannot execute "+exe+" with a child's own ids; such children start as root and drop their privileges themselves, which costs more",
				"uid", sp.target.UID, "err", err)
		}
		cmd = command(held, nil)
		err = m.starter.start(cmd, slack)
	}
	if err != nil && held != nil {
		// Seen once in a few hundred cold starts under load: the
		// first exec of the held descriptor failed with EACCES while
		// the descriptor still named the checked file. The worker
		// starts from cote instead, which runs the same role.
		m.log.Warn("cannot start a worker from "+held.path+"; starting it from "+m.exe,
			"err", err, "held", held.describe())
		cmd = command(nil, nil)
		err = m.starter.start(cmd, slack)
	}
	if err != nil {
		ctl.Close()
		logR.Close()
		return nil, fmt.Errorf("start %s: %w", sp.role, err)
	}
	p := &proc{role: sp.role, service: sp.service, user: sp.user, pid: cmd.Process.Pid,
		gen: sp.gen, cmd: cmd, ctl: ctl, started: time.Now()}
	go m.sink.collect(logR, sp.role, p.pid, sp.user, &p.logUser)
	go func() {
		awaitExit(p.pid)
		err := cmd.Wait()
		m.events <- exitEvent{p: p, err: err}
	}()
	if err := m.handshake(p, sp); err != nil {
		cmd.Process.Kill()
		ctl.Close()
		return nil, fmt.Errorf("%s pid %d: %w", sp.role, p.pid, err)
	}
	go m.readControl(p)
	return p, nil
}

// execCredential returns the ids a child with target t is executed
// with, or nil when it is executed as the master is. As root the master
// has the kernel set a target's groups, gid and uid in the forked child
// before the exec (Go's forkExec does so in that order), so the child
// never runs as root and its drop (privsep.Drop, which still checks every
// id) finds nothing to change: no setgroups, setresgid and setresuid on
// all of its threads, each of which stops its runtime's world, in every
// worker start. A target with a chroot keeps the drop in the child: the
// exec must find the binary outside the chroot.
func execCredential(t *privsep.Target) *syscall.Credential {
	if t == nil || t.Chroot != "" || os.Geteuid() != 0 {
		return nil
	}
	groups := make([]uint32, len(t.Groups))
	for i, g := range t.Groups {
		groups[i] = uint32(g)
	}
	return &syscall.Credential{Uid: uint32(t.UID), Gid: uint32(t.GID), Groups: groups}
}

func childEnv(sp spawnSpec) []string {
	env := []string{proto.EnvRole + "=" + sp.role}
	for _, k := range []string{"TZ", "PATH", "GORACE", "GOTRACEBACK"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	// import_environment: NAME keeps the master's value, NAME=value sets
	// one (Dovecot's semantics; e.g. LD_PRELOAD for pam_wrapper in tests).
	if sp.settings != nil {
		for _, item := range sp.settings.ImportEnvironment {
			if strings.Contains(item, "=") {
				env = append(env, item)
			} else if v, ok := os.LookupEnv(item); ok && item != "TZ" {
				env = append(env, item+"="+v)
			}
		}
	}
	if len(sp.listeners) > 0 {
		names := make([]string, len(sp.listeners))
		for i, l := range sp.listeners {
			names[i] = l.name
			if l.ssl {
				names[i] += ":ssl"
			}
		}
		env = append(env, proto.EnvListeners+"="+strings.Join(names, ","))
	}
	if t := sp.target; t != nil {
		env = append(env,
			proto.EnvSetUID+"="+strconv.Itoa(t.UID),
			proto.EnvSetGID+"="+strconv.Itoa(t.GID))
		if len(t.Groups) > 0 {
			gs := make([]string, len(t.Groups))
			for i, g := range t.Groups {
				gs[i] = strconv.Itoa(g)
			}
			env = append(env, proto.EnvSetGroups+"="+strings.Join(gs, ","))
		}
		if t.Chroot != "" {
			env = append(env, proto.EnvChroot+"="+t.Chroot)
		}
	}
	if s := sp.settings; s != nil {
		if lim := vszLimit(s, sp.service); lim > 0 {
			// The Go runtime keeps the heap under GOMEMLIMIT; RLIMIT_AS
			// is set above it for address space the runtime reserves (an
			// idle Go process already reserves about 1.6 GB). The child
			// sets it on itself before dropping privileges (a prlimit
			// from here fails once it runs as another uid without
			// CAP_SYS_RESOURCE); not under the race detector, whose
			// shadow memory needs far more.
			env = append(env, "GOMEMLIMIT="+strconv.FormatUint(lim, 10))
			if !raceEnabled {
				env = append(env, proto.EnvRlimitAS+"="+strconv.FormatUint(lim+asMargin, 10))
			}
		}
		if svc := s.Service(sp.service); svc != nil && svc.MaxProcs > 0 {
			env = append(env, "GOMAXPROCS="+strconv.Itoa(svc.MaxProcs))
		}
	}
	if sp.role == proto.RoleWorker || sp.role == proto.RoleAuth {
		env = childGodebug(env)
	}
	return env
}

// childGodebug gives a worker and auth gcshrinkstackoff=1: their
// sessions, deliveries and authentication steps run on goroutines they
// keep (internal/runners), which keep the stacks they grew only if the
// collector does not shrink them. Not the login processes: their TLS
// proxies live as long as their sessions, mostly idle, on stacks a
// handshake grew, which the collector should shrink; nor imap-hibernate,
// whose only work is idle sessions. A GODEBUG of import_environment
// comes after it and wins. The runtime reads this setting when the
// process starts, not from os.Setenv.
func childGodebug(env []string) []string {
	const ours = "gcshrinkstackoff=1"
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			env[i] = "GODEBUG=" + ours + "," + v
			return env
		}
	}
	return append(env, "GODEBUG="+ours)
}

// asMargin is how far above vsz_limit a child's RLIMIT_AS is set.
const asMargin = 4 << 30

func vszLimit(s *config.Settings, service string) uint64 {
	if svc := s.Service(service); svc != nil {
		return svc.VszLimit
	}
	return 0
}

func (m *Master) handshake(p *proc, sp spawnSpec) error {
	uc := p.ctl.UnixConn()
	uc.SetDeadline(time.Now().Add(10 * time.Second))
	defer uc.SetDeadline(time.Time{})
	if err := p.ctl.Send(&proto.Hello{Version: proto.Version, Role: sp.role, PID: uint32(os.Getpid())}); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	msg, _, err := p.ctl.Recv()
	if err != nil {
		return fmt.Errorf("no hello: %w", err)
	}
	h, ok := msg.(*proto.Hello)
	if !ok || h.Role != sp.role || int(h.PID) != p.pid {
		return fmt.Errorf("bad hello %+v", msg)
	}
	f, size, err := m.configFile(sp.settings, sp.role, sp.gen)
	if err != nil {
		return err
	}
	defer f.Close()
	return p.ctl.Send(&proto.Config{Generation: sp.gen, Size: size}, f)
}

// configFile returns a sealed memfd with the configuration a role may see.
func (m *Master) configFile(s *config.Settings, role string, gen uint64) (*os.File, uint64, error) {
	data, err := m.configJSON.get(s, role)
	if err != nil {
		return nil, 0, err
	}
	fd, err := unix.MemfdCreate("cote-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, 0, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "cote-config")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, 0, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("seal config: %w", err)
	}
	return f, uint64(len(data)), nil
}

// configCache keeps the last encoding of the configuration for each kind
// of child (login, auth, any other), so that starting a worker does not
// encode the whole configuration again. Spawns run off the event loop.
type configCache struct {
	mu      sync.Mutex // guards the fields below
	s       *config.Settings
	encoded map[configKind][]byte
}

type configKind struct{ login, auth, worker bool }

// get returns the JSON configuration a child of role gets from s: only
// login processes keep the TLS key, only auth the passdbs and userdbs.
// A worker gets only its own service block: the others' listeners and
// limits were 40% of its configuration, and decoding it is part of
// every worker's start (hundreds in an LMTP burst).
func (cc *configCache) get(s *config.Settings, role string) ([]byte, error) {
	k := configKind{login: isLogin(role), auth: role == proto.RoleAuth, worker: role == proto.RoleWorker}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.s != s {
		cc.s, cc.encoded = s, map[configKind][]byte{}
	}
	if data, ok := cc.encoded[k]; ok {
		return data, nil
	}
	c := *s
	if !k.login {
		c.SSLKey = "" // only login processes hold the TLS key
	}
	if !k.auth {
		c.Passdbs, c.Userdbs = nil, nil
	}
	if k.worker {
		c.Services = nil
		if svc := s.Service("worker"); svc != nil {
			c.Services = []config.Service{*svc}
		}
	}
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	cc.encoded[k] = data
	return data, nil
}

// readControl forwards a child's control messages to the event loop.
func (m *Master) readControl(p *proc) {
	for {
		msg, files, err := p.ctl.Recv()
		if err != nil {
			m.events <- ctlEvent{p: p, err: err}
			return
		}
		m.events <- ctlEvent{p: p, msg: msg, files: files}
	}
}
