package master

import (
	"errors"
	"time"

	"cote/proto"
)

// Eviction of idle workers. A worker lingers after its last session or
// delivery (service worker { idle_kill }), so that the next one for its
// user finds it running; but when the worker process_limit is reached,
// a lingering worker must not keep another user out. The master then
// grants the exit to the worker that has been idle longest, as if its
// linger had ended, and holds the new work until that worker has exited
// and its slot is free.
//
// A worker tells the master it is idle (WorkerIdle with Lingering) each
// time its last session or task ends. The report is good while the master
// has sent the worker nothing since (idleSeq == lastSent), the same rule
// as for the exit at the end of the linger, so that nothing routed to a
// worker is lost by evicting it.

// workerIdle records a worker's report that it has just become idle.
func (m *Master) workerIdle(p *proc, seq uint64) {
	if !m.quiet(p, seq) {
		return
	}
	p.idle, p.idleSeq, p.idleSince = true, seq, time.Now()
}

// quiet reports whether a worker that says it has nothing under way since
// seq really has nothing: the master sent it nothing since and awaits no
// answer from it.
func (m *Master) quiet(p *proc, seq uint64) bool {
	return seq == p.lastSent && len(p.deliveries) == 0 && len(p.quotaChecks) == 0 && len(p.admins) == 0 &&
		!p.exiting && !p.exited && !p.shutdown
}

// grantExit lets a worker exit: work for its user goes to a new worker,
// started once this one has gone (route).
func (m *Master) grantExit(p *proc) {
	p.exiting = true
	if m.workers[p.user] == p {
		delete(m.workers, p.user)
	}
	p.ctl.Send(&proto.WorkerExit{})
}

// evictIdle grants the exit to the user worker that has been idle longest,
// and reports whether there was one.
func (m *Master) evictIdle() bool {
	var oldest *proc
	for _, p := range m.workers {
		if !p.idle || !m.quiet(p, p.idleSeq) {
			continue
		}
		if oldest == nil || p.idleSince.Before(oldest.idleSince) {
			oldest = p
		}
	}
	if oldest == nil {
		return false
	}
	m.log.Info("service(worker): process_limit reached, evicting the longest idle worker",
		"worker_pid", oldest.pid, "worker_user", oldest.user, "idle", time.Since(oldest.idleSince).Round(time.Millisecond))
	m.grantExit(oldest)
	return true
}

// queueForSlot holds a user's work until a worker slot is free.
func (m *Master) queueForSlot(user string, pending []*pendingUser) {
	if m.slotWork == nil {
		m.slotWork = map[string][]*pendingUser{}
	}
	m.slotWork[user] = pending
	m.slotQueue = append(m.slotQueue, user)
}

// serveSlotQueue starts workers for the work that waits for a slot, oldest
// first, while there is room; when the master stops, the work is refused.
func (m *Master) serveSlotQueue() {
	for len(m.slotQueue) > 0 {
		if !m.stopping && m.workerCount()+len(m.starting) >= m.workerLimit() {
			return
		}
		user := m.slotQueue[0]
		m.slotQueue = m.slotQueue[1:]
		pending := m.slotWork[user]
		delete(m.slotWork, user)
		if m.stopping {
			for _, pu := range pending {
				m.fail(pu, proto.HandoffInternal, errors.New("stopping"))
			}
			continue
		}
		m.startWorker(user, pending)
	}
}
