package master

import (
	"fmt"
	"path/filepath"
	"time"

	"cote/config"
	"cote/privsep"
	"cote/proto"
)

// service is one configured service of the current generation and its
// processes.
type service struct {
	name      string
	role      string
	conf      *config.Service
	listeners []*boundListener
	target    *privsep.Target
	procs     map[int]*proc

	failures       int // crashes in a row
	lastCrash      time.Time
	throttledUntil time.Time
}

// implemented maps service names to the roles this build can run.
var implemented = map[string]string{
	"auth":              proto.RoleAuth,
	"imap-login":        proto.RoleIMAPLogin,
	"pop3-login":        proto.RolePOP3Login,
	"lmtp":              proto.RoleLMTP,
	"managesieve-login": proto.RoleSieveLogin,
	"imap-hibernate":    proto.RoleHibernate,
}

// startOrder is the order services start in: auth first, the others
// need it.
var startOrder = []string{"auth", "imap-login", "pop3-login", "managesieve-login", "lmtp", "imap-hibernate"}

// plan binds the listeners of every service cfg enables and computes its
// credentials. keep lists the listener keys in use.
func (m *Master) plan(cfg *config.Settings) (map[string]*service, map[string]bool, error) {
	svcs := map[string]*service{}
	keep := map[string]bool{}
	for _, name := range startOrder {
		conf := cfg.Service(name)
		if conf == nil {
			return nil, nil, fmt.Errorf("service %s is not configured", name)
		}
		if !cfg.ServiceEnabled(conf) || (name == "imap-hibernate" && cfg.ImapHibernateTimeout <= 0) {
			continue
		}
		ls, err := m.listeners.bindService(cfg, conf, &m.ids)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range ls {
			keep[l.key] = true
		}
		s := &service{name: name, role: implemented[name], conf: conf, listeners: ls, procs: map[int]*proc{}}
		if m.root {
			if name == "auth" {
				if driver := needsRoot(cfg); driver != "" {
					// PAM modules (pam_unix) and shadow read /etc/shadow.
					m.log.Info("the auth process runs as root: passdb " + driver + " needs it")
					svcs[name] = s
					continue
				}
			}
			t, err := m.target(cfg, conf)
			if err != nil {
				return nil, nil, err
			}
			s.target = t
		}
		svcs[name] = s
	}
	return svcs, keep, nil
}

// needsRoot names the first passdb driver that only works as root.
func needsRoot(cfg *config.Settings) string {
	for _, db := range cfg.Passdbs {
		switch db.Driver {
		case "pam", "shadow":
			return db.Driver
		}
	}
	return ""
}

func (m *Master) target(cfg *config.Settings, conf *config.Service) (*privsep.Target, error) {
	if conf.User == "" {
		return nil, fmt.Errorf("service %s: no user set; cote runs no service as root", conf.Name)
	}
	u, err := m.ids.user(conf.User)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", conf.Name, err)
	}
	if u.uid == 0 {
		return nil, fmt.Errorf("service %s: user %s is root", conf.Name, conf.User)
	}
	t := &privsep.Target{UID: u.uid, GID: u.gid, Groups: []int{}}
	if conf.Group != "" {
		if t.GID, err = m.ids.group(conf.Group); err != nil {
			return nil, fmt.Errorf("service %s: %w", conf.Name, err)
		}
	}
	if conf.Chroot != "" {
		t.Chroot = conf.Chroot
		if !filepath.IsAbs(t.Chroot) {
			t.Chroot = filepath.Join(cfg.BaseDir, t.Chroot)
		}
	}
	return t, nil
}

func (s *service) minProcs() int {
	if s.role == proto.RoleAuth {
		return 1
	}
	return max(1, s.conf.ProcessMinAvail)
}

func (s *service) limit() int {
	if s.role == proto.RoleAuth {
		return 1
	}
	if s.conf.ProcessLimit > 0 {
		return s.conf.ProcessLimit
	}
	return 100
}

// available counts processes that can take another client.
func (s *service) available() int {
	n := 0
	for _, p := range s.procs {
		if !p.shutdown && (p.status.Available > 0 || p.status.Clients == 0) {
			n++
		}
	}
	return n
}

// crashed records an abnormal exit: the first restart is immediate, then
// the service waits 1 s, doubling up to 60 s while it keeps crashing.
func (s *service) crashed() {
	now := time.Now()
	if now.Sub(s.lastCrash) > 60*time.Second {
		s.failures = 0
	}
	s.lastCrash = now
	s.failures++
	if s.failures > 1 {
		d := min(time.Second<<(s.failures-2), 60*time.Second)
		s.throttledUntil = now.Add(d)
	}
}

// fill starts processes until the service has what it needs.
func (m *Master) fill(s *service) error {
	if m.stopping {
		return nil
	}
	if d := time.Until(s.throttledUntil); d > 0 {
		name := s.name
		time.AfterFunc(d, func() { m.events <- respawnEvent{svc: name} })
		m.log.Warn("service keeps crashing, throttling restarts", "service", s.name, "delay", d.Round(time.Millisecond))
		return nil
	}
	for len(s.procs) < s.limit() && (len(s.procs) < s.minProcs() || s.available() < s.minProcs()) {
		if err := m.startProc(s); err != nil {
			return err
		}
	}
	return nil
}

// startProc starts one more process of s.
func (m *Master) startProc(s *service) error {
	p, err := m.spawn(spawnSpec{role: s.role, service: s.name, target: s.target,
		listeners: s.listeners, settings: m.cfg, gen: m.gen})
	if err != nil {
		s.crashed()
		return err
	}
	s.procs[p.pid] = p
	m.procs[p.pid] = p
	return nil
}

// authService returns the current auth process, if any.
func (m *Master) authProc() *proc {
	if s := m.svcs["auth"]; s != nil {
		for _, p := range s.procs {
			if !p.shutdown {
				return p
			}
		}
	}
	return nil
}
