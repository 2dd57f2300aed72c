package master

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"cote/proto"
)

// Hibernation of IMAP sessions (docs/hibernate.md). A worker hands an
// idle IDLE session over (Hibernate); the master keeps the session's
// identity and state and passes only the descriptors to imap-hibernate,
// under an ID of its own. When imap-hibernate gives a session back
// (Unhibernate), the master checks that the socket is the one it gave
// under that ID and routes the session to the user's worker, starting one
// if needed, as a UserSession with Resume. imap-hibernate is never trusted
// for identity: it names an ID, and the user, userdb fields, uid and gid
// are those of the worker the session came from.

// hibernation is the master's record of hibernated sessions; it belongs
// to the event loop.
type hibernation struct {
	last uint64
	byID map[uint64]*hibernated
}

// hibernated is one session held by imap-hibernate.
type hibernated struct {
	id       uint64
	user     string
	fields   []string
	uid, gid int
	conn     proto.ConnInfo
	state    []byte
	dev, ino uint64 // the client socket's identity
	holder   *proc  // the imap-hibernate process holding it
}

// resumeWork is a session coming back from imap-hibernate, as work for
// the user's worker.
type resumeWork struct {
	conn  proto.ConnInfo
	state []byte
	input []byte // what the client sent while hibernated
}

func (m *Master) hibernations() *hibernation {
	if m.hib == nil {
		m.hib = &hibernation{byID: map[uint64]*hibernated{}}
	}
	return m.hib
}

// hibernateHeadroom is how much room the imap-hibernate processes keep:
// with less, the master starts another (up to process_limit), so that
// sessions arriving while it starts still find room.
const hibernateHeadroom = 256

// hibernateProc returns the imap-hibernate process to take the next
// session: the one with most room (by its last Status, less what was sent
// to it since). A full one gives the session back, and it stays in its
// worker until its next try.
func (m *Master) hibernateProc() *proc {
	s := m.svcs["imap-hibernate"]
	if s == nil {
		return nil
	}
	var best *proc
	starting := false
	for _, p := range s.procs {
		if p.shutdown || p.exited {
			continue
		}
		if p.status.Available == 0 && p.status.Clients == 0 {
			starting = true // no Status from it yet
			continue
		}
		if best == nil || p.status.Available > best.status.Available {
			best = p
		}
	}
	if best != nil && best.status.Available < hibernateHeadroom && !starting &&
		len(s.procs) < s.limit() && time.Now().After(s.throttledUntil) {
		if err := m.startProc(s); err != nil {
			m.log.Error("start another imap-hibernate", "err", err)
		}
	}
	return best
}

// hibernate takes a session from worker w and passes its descriptors to
// imap-hibernate. Without one (or if it cannot take it) the session goes
// straight back to the user's worker. It owns client and notify.
func (m *Master) hibernate(w *proc, msg *proto.Hibernate, client, notify *os.File) {
	defer notify.Close()
	dev, ino, err := sockID(client)
	if err != nil {
		client.Close()
		m.log.Error("hibernate: client descriptor", "user", w.user, "err", err)
		return
	}
	rec := &hibernated{user: w.user, fields: w.fields, uid: w.uid, gid: w.gid,
		conn: msg.Conn, state: msg.State, dev: dev, ino: ino}
	hp := m.hibernateProc()
	if hp == nil || m.stopping {
		m.resume(rec, client, nil)
		return
	}
	h := m.hibernations()
	h.last++
	rec.id, rec.holder = h.last, hp
	if err := hp.ctl.Send(&proto.Hibernate{ID: rec.id, User: rec.user, Conn: rec.conn}, client, notify); err != nil {
		m.log.Error("hibernate: pass session to imap-hibernate", "user", w.user, "err", err)
		m.resume(rec, client, nil)
		return
	}
	client.Close()
	h.byID[rec.id] = rec
	if hp.status.Available > 0 {
		// Until its next Status says otherwise.
		hp.status.Available--
		hp.status.Clients++
	}
}

// unhibernate routes a session imap-hibernate gave back; it owns client.
// It returns false for a session imap-hibernate does not hold or a socket
// that is not the session's: the caller kills the process.
func (m *Master) unhibernate(hp *proc, msg *proto.Unhibernate, client *os.File) bool {
	h := m.hibernations()
	rec := h.byID[msg.ID]
	if rec == nil || rec.holder != hp {
		client.Close()
		return false
	}
	dev, ino, err := sockID(client)
	if err != nil || dev != rec.dev || ino != rec.ino {
		client.Close()
		m.log.Error("unhibernate: the descriptor is not the session's socket", "user", rec.user, "err", err)
		return false
	}
	delete(h.byID, msg.ID)
	m.resume(rec, client, msg.ClientInput)
	return true
}

// hibernateEnd forgets a session that ended in imap-hibernate.
func (m *Master) hibernateEnd(hp *proc, msg *proto.HibernateEnd) bool {
	h := m.hibernations()
	rec := h.byID[msg.ID]
	if rec == nil || rec.holder != hp {
		return false
	}
	delete(h.byID, msg.ID)
	return true
}

// hibernateGone forgets the sessions of an imap-hibernate that exited:
// their sockets closed with it.
func (m *Master) hibernateGone(hp *proc) {
	if m.hib == nil {
		return
	}
	n := 0
	for id, rec := range m.hib.byID {
		if rec.holder == hp {
			delete(m.hib.byID, id)
			n++
		}
	}
	if n > 0 && !m.stopping {
		m.log.Warn("imap-hibernate exited holding sessions; their clients were disconnected", "sessions", n)
	}
}

// resume routes a session back to its user's worker; it owns client.
func (m *Master) resume(rec *hibernated, client *os.File, input []byte) {
	m.route(&pendingUser{r: &resumeWork{conn: rec.conn, state: rec.state, input: input},
		client: client, user: rec.user, fields: rec.fields, uid: rec.uid, gid: rec.gid})
}

// sendResume gives a worker a session back from hibernation.
func (m *Master) sendResume(w *proc, pu *pendingUser) {
	defer pu.client.Close()
	w.lastSent++
	us := &proto.UserSession{Seq: w.lastSent, User: pu.user, Fields: pu.fields, Conn: pu.r.conn,
		Leftover: pu.r.input, Resume: pu.r.state}
	if pu.user != w.user {
		us.MailOf = w.user // route: holderOfMail
	}
	if err := w.ctl.Send(us, pu.client); err != nil {
		m.log.Error("resume session in worker", "user", pu.user, "worker_pid", w.pid, "err", err)
	}
}

// sockID returns the device and inode of a descriptor.
func sockID(f *os.File) (dev, ino uint64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, errors.New("no stat")
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return 0, 0, fmt.Errorf("not a socket (%v)", fi.Mode().Type())
	}
	return uint64(st.Dev), st.Ino, nil
}
