package master

import (
	"slices"
	"syscall"

	"cote/proto"
)

// Spare workers (`service worker { process_min_avail = N }`): the master
// keeps N worker processes started ahead of need, so that the first login
// of a user, a delivery or an admin command for a user without a worker
// does not wait for a process to start (an exec of the Go binary, its
// runtime start and the Hello and Config exchange). A spare runs as root
// and has read nothing but its Config; the master takes one for a user
// with WorkerAssign, and the spare drops to the user's uid, gid and groups
// and asserts them before it reads anything else (worker.assign). From
// then on it is that user's worker for its life, as if it had been started
// for the user. docs/ipc.md weighs this against starting each worker with
// its ids.

// spareEvent is a spare worker that started (p) or failed to (err).
type spareEvent struct {
	p   *proc
	err error
}

// spareTarget is how many spare workers the current configuration asks
// for.
func (m *Master) spareTarget() int {
	if m.cfg == nil {
		return 0
	}
	if svc := m.cfg.Service("worker"); svc != nil {
		return svc.ProcessMinAvail
	}
	return 0
}

// workerLimit is the worker service's process_limit; spares count
// towards it.
func (m *Master) workerLimit() int {
	if svc := m.cfg.Service("worker"); svc != nil && svc.ProcessLimit > 0 {
		return svc.ProcessLimit
	}
	return 1024
}

// fillSpares starts spare workers until there are as many as configured
// (counting those starting). The start runs off the event loop, so that
// logins are not held up by it; the spare joins the pool when its
// handshake is done (spareStarted).
func (m *Master) fillSpares() {
	if m.stopping {
		return
	}
	want, limit := m.spareTarget(), m.workerLimit()
	for len(m.spares)+m.sparesStarting < want && m.workerCount()+m.sparesStarting+len(m.starting)+len(m.slotQueue) < limit {
		m.sparesStarting++
		sp := spawnSpec{role: proto.RoleWorker, service: "worker", settings: m.cfg, gen: m.gen}
		go func() {
			p, err := m.spawn(sp)
			m.events <- spareEvent{p: p, err: err}
		}()
	}
}

// spareStarted adds a started spare to the pool, or stops it when the
// configuration changed or the master stops meanwhile.
func (m *Master) spareStarted(ev spareEvent) {
	m.sparesStarting--
	if ev.err != nil {
		// maintain retries a second later.
		m.log.Error("start spare worker", "err", ev.err)
		return
	}
	p := ev.p
	if p.exited {
		return
	}
	m.procs[p.pid] = p
	if p.gen != m.gen || m.stopping {
		m.stopSpare(p)
		return
	}
	m.spares = append(m.spares, p)
	if n := len(m.spares); n >= m.spareTarget() && m.sparesReady != m.gen {
		m.sparesReady = m.gen
		m.log.Info("spare workers ready", "count", n, "generation", m.gen)
	}
}

// takeSpare removes and returns the oldest usable spare, or nil.
func (m *Master) takeSpare() *proc {
	for len(m.spares) > 0 {
		p := m.spares[0]
		m.spares = m.spares[1:]
		if p.exited || p.shutdown {
			continue
		}
		if p.gen != m.gen {
			m.stopSpare(p)
			continue
		}
		return p
	}
	return nil
}

// assignSpare makes a spare the worker of pu's user. False: the spare
// could not be told (it is killed) and the caller starts a worker instead.
func (m *Master) assignSpare(w *proc, pu *pendingUser) bool {
	a := &proto.WorkerAssign{User: pu.user, UID: uint32(pu.uid), GID: uint32(pu.gid), Groups: []uint32{uint32(pu.gid)}}
	if err := w.ctl.Send(a); err != nil {
		m.log.Error("assign spare worker", "worker_pid", w.pid, "user", pu.user, "err", err)
		syscall.Kill(w.pid, syscall.SIGKILL)
		return false
	}
	w.user = pu.user
	user := pu.user
	w.logUser.Store(&user)
	return true
}

// stopSpare shuts a spare down and forgets it.
func (m *Master) stopSpare(p *proc) {
	m.spares = slices.DeleteFunc(m.spares, func(q *proc) bool { return q == p })
	if !p.shutdown && !p.exited {
		p.shutdown = true
		p.ctl.Send(&proto.Shutdown{Now: true})
	}
}

// stopSpares shuts every spare down (the configuration changed: spares
// hold the old one).
func (m *Master) stopSpares() {
	for _, p := range slices.Clone(m.spares) {
		m.stopSpare(p)
	}
}
