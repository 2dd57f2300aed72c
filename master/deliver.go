package master

import (
	"context"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cote/auth/masterclient"
	"cote/proto"
)

// deliveryRoute remembers where a worker's DeliverReply goes back to.
type deliveryRoute struct {
	lmtp *proc
	seq  uint64 // the lmtp process's Seq
}

// confirmDelivery looks the recipient up in userdb itself: the lmtp
// process talks to the outside world and is not trusted for the uid, gid
// and home a worker is started with. When the user's worker runs, that
// lookup was made when the worker started (its uid, gid and home are fixed
// for its life): the delivery goes to it with those fields, without asking
// auth again. So does a delivery to another name of the same mail, once
// auth confirmed it and route found that mail's worker (samemail.go).
func (m *Master) confirmDelivery(p *proc, d *proto.Deliver, msg *os.File) {
	w := m.liveWorker(d.User)
	if w == nil {
		w = m.mailOwner(p, d.User)
	}
	if w != nil {
		m.sendDelivery(w, &pendingUser{login: p, d: d, client: msg, user: w.user, fields: w.fields, uid: w.uid, gid: w.gid})
		return
	}
	tempFail := func() {
		msg.Close()
		p.ctl.Send(&proto.DeliverReply{Seq: d.Seq, Code: 451, Enhanced: "4.3.0", Message: "Temporary internal failure"})
	}
	if m.authc == nil {
		c, err := masterclient.Dial(m.cfg.RuntimePath("auth-master"))
		if err != nil {
			m.log.Error("delivery: connect to auth", "err", err)
			tempFail()
			return
		}
		m.authc = c
	}
	authc := m.authc
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		user, fields, err := authc.User(ctx, d.User, "lmtp")
		m.events <- userEvent{login: p, d: d, client: msg, authc: authc, user: user, fields: fields, err: err}
	}()
}

func (m *Master) routeDelivery(ev userEvent) {
	pu := &pendingUser{login: ev.login, d: ev.d, client: ev.client, user: ev.user, fields: ev.fields}
	if ev.err != nil {
		if m.authc == ev.authc {
			m.authc.Close()
			m.authc = nil
		}
		m.log.Error("delivery: userdb lookup failed", "user", ev.d.User, "err", ev.err)
		m.fail(pu, 0, ev.err)
		return
	}
	if err := m.checkUser(pu); err != nil {
		m.log.Error("delivery refused", "user", ev.user, "err", err)
		m.fail(pu, 0, err)
		return
	}
	m.route(pu)
}

// maxMailOwners bounds an lmtp process's mailOwners; when full it starts
// again empty (an entry only saves an auth lookup).
const maxMailOwners = 10000

// mailOwner is the running worker that holds the mail of recipient
// name, as route found it earlier for the lmtp process p, or nil.
func (m *Master) mailOwner(p *proc, name string) *proc {
	w := p.mailOwners[name]
	if w == nil {
		return nil
	}
	if m.liveWorker(w.user) != w {
		delete(p.mailOwners, name)
		return nil
	}
	return w
}

// rememberMailOwner notes for the lmtp process p that w holds the mail
// of recipient name.
func (m *Master) rememberMailOwner(p *proc, name string, w *proc) {
	if p.mailOwners == nil || len(p.mailOwners) >= maxMailOwners {
		p.mailOwners = map[string]*proc{}
	}
	p.mailOwners[name] = w
}

// nameFreeLocation says whether the user's mail location (userdb's mail
// field, else mail_location) is the same whatever name the user is
// reached by: it has no % variable (%u, %n, %d); ~ is the home, which is
// a field of its own.
func nameFreeLocation(fields []string, def string) bool {
	loc := def
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f, "mail="); ok {
			loc = v
		}
	}
	return !strings.Contains(loc, "%")
}

// sendDelivery gives a delivery to the worker under the worker's own
// sequence number.
func (m *Master) sendDelivery(w *proc, pu *pendingUser) {
	defer pu.client.Close()
	w.lastSent++
	d := *pu.d
	d.Seq = w.lastSent
	d.User = pu.user
	d.Fields = pu.fields
	if err := w.ctl.Send(&d, pu.client); err != nil {
		m.log.Error("hand delivery to worker", "user", pu.user, "worker_pid", w.pid, "err", err)
		pu.login.ctl.Send(&proto.DeliverReply{Seq: pu.d.Seq, Code: 451, Enhanced: "4.3.0", Message: "Temporary internal failure"})
		return
	}
	if w.deliveries == nil {
		w.deliveries = map[uint64]deliveryRoute{}
	}
	w.deliveries[d.Seq] = deliveryRoute{lmtp: pu.login, seq: pu.d.Seq}
	m.giveChannel(pu.login, w, pu.d.User)
}

// giveChannel gives lmtp process p and worker w the two ends of a
// delivery channel (proto.DeliverChannel) for p's deliveries to name,
// unless p was given one to w for it already: p's next deliveries to
// name then go to w without the master. The worker's end carries the
// user and fields the master confirmed.
func (m *Master) giveChannel(p, w *proc, name string) {
	if p.exited || p.channels[name] == w {
		return
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		m.log.Warn("delivery channel", "err", err)
		return
	}
	lf, wf := os.NewFile(uintptr(fds[0]), "delivery-lmtp"), os.NewFile(uintptr(fds[1]), "delivery-worker")
	defer lf.Close()
	defer wf.Close()
	if err := w.ctl.Send(&proto.DeliverChannel{User: w.user, Fields: w.fields}, wf); err != nil {
		return
	}
	if err := p.ctl.Send(&proto.DeliverChannel{User: name}, lf); err != nil {
		return
	}
	if p.channels == nil || len(p.channels) >= maxMailOwners {
		p.channels = map[string]*proc{}
	}
	p.channels[name] = w
}

// liveWorker is the running worker of user (the canonical name auth gave
// when the worker was started), or nil.
func (m *Master) liveWorker(user string) *proc {
	w := m.workers[user]
	if w == nil || w.exiting || w.shutdown || w.exited || w.user != user || w.fields == nil {
		return nil
	}
	return w
}

// deliveryReply passes a worker's answer back to the lmtp process.
func (m *Master) deliveryReply(w *proc, r *proto.DeliverReply) bool {
	route, ok := w.deliveries[r.Seq]
	if !ok {
		return false
	}
	delete(w.deliveries, r.Seq)
	reply := *r
	reply.Seq = route.seq
	if !route.lmtp.exited {
		route.lmtp.ctl.Send(&reply)
	}
	return true
}

// confirmQuotaCheck looks the recipient up in userdb, as for a delivery,
// and routes the check to the user's worker.
func (m *Master) confirmQuotaCheck(p *proc, qc *proto.QuotaCheck) {
	w := m.liveWorker(qc.User)
	if w == nil {
		w = m.mailOwner(p, qc.User)
	}
	if w != nil {
		m.sendQuotaCheck(w, &pendingUser{login: p, qc: qc, user: w.user, fields: w.fields, uid: w.uid, gid: w.gid})
		return
	}
	m.lookupUser(qc.User, func(user string, fields []string, err error) {
		pu := &pendingUser{login: p, qc: qc, user: user, fields: fields}
		if err != nil {
			m.fail(pu, 0, err)
			return
		}
		if err := m.checkUser(pu); err != nil {
			m.fail(pu, 0, err)
			return
		}
		m.route(pu)
	})
}

func (m *Master) sendQuotaCheck(w *proc, pu *pendingUser) {
	w.lastSent++
	qc := *pu.qc
	qc.Seq = w.lastSent
	qc.User = pu.user
	qc.Fields = pu.fields
	if err := w.ctl.Send(&qc); err != nil {
		m.fail(pu, 0, err)
		return
	}
	if w.quotaChecks == nil {
		w.quotaChecks = map[uint64]deliveryRoute{}
	}
	w.quotaChecks[qc.Seq] = deliveryRoute{lmtp: pu.login, seq: pu.qc.Seq}
}

func (m *Master) quotaCheckReply(w *proc, r *proto.QuotaCheckReply) bool {
	route, ok := w.quotaChecks[r.Seq]
	if !ok {
		return false
	}
	delete(w.quotaChecks, r.Seq)
	reply := *r
	reply.Seq = route.seq
	if !route.lmtp.exited {
		route.lmtp.ctl.Send(&reply)
	}
	return true
}

// failDeliveries answers every delivery a dead worker left unanswered
// with a temporary failure, so the MTA retries; nothing was acknowledged.
func (m *Master) failDeliveries(w *proc) {
	for seq, route := range w.quotaChecks {
		delete(w.quotaChecks, seq)
		if !route.lmtp.exited {
			route.lmtp.ctl.Send(&proto.QuotaCheckReply{Seq: route.seq, Temp: true})
		}
	}
	for seq, route := range w.deliveries {
		delete(w.deliveries, seq)
		if !route.lmtp.exited {
			route.lmtp.ctl.Send(&proto.DeliverReply{Seq: route.seq, Code: 451, Enhanced: "4.3.0", Message: "Temporary internal failure"})
		}
	}
}
