package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cote/admin"
	"cote/auth/masterclient"
	"cote/metrics"
	"cote/privsep"
	"cote/proto"
)

// control handles one message from a child.
func (m *Master) control(p *proc, msg proto.Message, files []*os.File) {
	bad := func(why string) {
		for _, f := range files {
			f.Close()
		}
		m.log.Error("unexpected control message, killing child", "child_role", p.role, "child_pid", p.pid, "type", msg.Type(), "why", why)
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	if p.role == proto.RoleWorker && p.user == "" {
		// A spare worker has no user and no session: it only reports
		// metrics.
		if _, ok := msg.(*proto.Metrics); !ok {
			bad("message from a spare worker")
			return
		}
	}
	switch msg := msg.(type) {
	case *proto.Status:
		p.status = *msg
		if s := m.svcs[p.service]; s != nil && p.gen == m.gen && p.role != proto.RoleWorker {
			if err := m.fill(s); err != nil {
				m.log.Error("start service", "service", s.name, "err", err)
			}
		}
	case *proto.AuthConnect:
		socket := msg.Socket
		if socket == "" {
			socket = proto.AuthSocketLogin
		}
		switch {
		case socket == proto.AuthSocketLogin && isLogin(p.role):
		case socket == proto.AuthSocketUserdb && p.role == proto.RoleLMTP:
		default:
			bad("auth socket " + socket + " is not for this role")
			return
		}
		path := filepath.Join(m.cfg.BaseDir, socket)
		go func() {
			reply := &proto.AuthConnectReply{Seq: msg.Seq}
			f, err := dialFile(path)
			if err != nil {
				// The message type always carries a descriptor; a refusal
				// carries /dev/null.
				reply.Reason = err.Error()
				if null, nerr := os.Open(os.DevNull); nerr == nil {
					p.ctl.Send(reply, null)
					null.Close()
				}
				return
			}
			defer f.Close()
			reply.OK = true
			p.ctl.Send(reply, f)
		}()
	case *proto.Handoff:
		if !isLogin(p.role) {
			bad("handoff from a non-login process")
			return
		}
		m.confirm(p, msg, files[0])
	case *proto.Deliver:
		if p.role != proto.RoleLMTP {
			bad("delivery from a process that is not lmtp")
			return
		}
		m.confirmDelivery(p, msg, files[0])
	case *proto.QuotaCheck:
		if p.role != proto.RoleLMTP {
			bad("quota check from a process that is not lmtp")
			return
		}
		m.confirmQuotaCheck(p, msg)
	case *proto.QuotaCheckReply:
		if p.role != proto.RoleWorker || !m.quotaCheckReply(p, msg) {
			bad("quota check reply nobody asked for")
		}
	case *proto.DeliverReply:
		if p.role != proto.RoleWorker || !m.deliveryReply(p, msg) {
			bad("delivery reply nobody asked for")
		}
	case *proto.Metrics:
		snap, err := metrics.Decode(msg.Snapshot)
		if err != nil {
			bad("malformed metrics snapshot")
			return
		}
		m.metrics.agg.Update(p.pid, snap)
	case *proto.AdminReply:
		if p.role != proto.RoleWorker || !m.adminReply(p, msg) {
			bad("admin reply nobody asked for")
		}
	case *proto.Hibernate:
		if p.role != proto.RoleWorker {
			bad("hibernation from a non-worker")
			return
		}
		m.hibernate(p, msg, files[0], files[1])
	case *proto.Unhibernate:
		if p.role != proto.RoleHibernate {
			bad("unhibernation from a process that is not imap-hibernate")
			return
		}
		if !m.unhibernate(p, msg, files[0]) {
			files = nil // unhibernate closed it
			bad("unhibernation of a session imap-hibernate does not hold")
		}
	case *proto.Unauthenticate:
		if p.role != proto.RoleWorker {
			bad("unauthenticate from a non-worker")
			return
		}
		if !m.unauthenticate(p, msg, files[0]) {
			files = nil // unauthenticate closed it
			bad("unauthenticate of a session the worker cannot give back")
		}
	case *proto.HibernateEnd:
		if p.role != proto.RoleHibernate || !m.hibernateEnd(p, msg) {
			bad("end of a session imap-hibernate does not hold")
		}
	case *proto.WorkerIdle:
		if p.role != proto.RoleWorker {
			bad("idle report from a non-worker")
			return
		}
		if msg.Lingering {
			m.workerIdle(p, msg.LastSeq)
			return
		}
		if m.quiet(p, msg.LastSeq) {
			m.grantExit(p)
		}
	default:
		bad("message not accepted from children")
	}
}

func isLogin(role string) bool {
	return role == proto.RoleIMAPLogin || role == proto.RolePOP3Login || role == proto.RoleSieveLogin
}

func dialFile(path string) (*os.File, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*net.UnixConn).File()
}

// pendingUser is work for a user's worker that auth confirmed: a session
// handed over by a login process, or a delivery from the lmtp process.
type pendingUser struct {
	login     *proc             // the login or lmtp process it came from
	h         *proto.Handoff    // a session, or
	d         *proto.Deliver    // a delivery, or
	a         *proto.Admin      // an admin command, or
	qc        *proto.QuotaCheck // a quota check at RCPT, or
	r         *resumeWork       // a session back from imap-hibernate
	client    *os.File          // the client socket, or the message
	adminConn net.Conn          // where the admin command's answer goes
	user      string
	fields    []string
	uid       int
	gid       int
}

// fail answers the process the work came from and drops the work.
func (m *Master) fail(pu *pendingUser, status uint32, err error) {
	if pu.qc != nil {
		pu.login.ctl.Send(&proto.QuotaCheckReply{Seq: pu.qc.Seq, Temp: true})
		return
	}
	if pu.a != nil {
		answer(pu.adminConn, admin.Errorf("%v", err))
		return
	}
	if pu.r != nil {
		pu.client.Close()
		m.log.Error("resume hibernated session", "user", pu.user, "err", err)
		return
	}
	if pu.d != nil {
		pu.client.Close()
		pu.login.ctl.Send(&proto.DeliverReply{Seq: pu.d.Seq, Code: 451, Enhanced: "4.3.0", Message: "Temporary internal failure"})
		return
	}
	m.refuse(pu.login, pu.h, pu.client, status, err)
}

// userEvent is the result of asking auth who a user is: redeeming a
// handoff (h set) or looking up a delivery's recipient (d set).
type userEvent struct {
	login  *proc
	h      *proto.Handoff
	d      *proto.Deliver
	client *os.File
	authc  *masterclient.Client
	user   string
	fields []string
	err    error
}

// confirm asks auth, over the auth-master socket, who the handed-over
// client really is (REQUEST with the login process's pid as the master
// knows it, the request id and the cookie). The login process never names
// the user.
func (m *Master) confirm(p *proc, h *proto.Handoff, client *os.File) {
	ap := m.authProc()
	if ap == nil {
		m.refuse(p, h, client, proto.HandoffInternal, errNoAuth)
		return
	}
	if int(h.AuthPID) != ap.pid {
		m.log.Warn("handoff refused: it names an auth process that is not running",
			"login_pid", p.pid, "auth_pid", h.AuthPID)
		m.refuse(p, h, client, proto.HandoffRefused, errors.New("unknown auth process"))
		return
	}
	if m.authc == nil {
		c, err := masterclient.Dial(filepath.Join(m.cfg.BaseDir, "auth-master"))
		if err != nil {
			m.refuse(p, h, client, proto.HandoffInternal, err)
			return
		}
		m.authc = c
	}
	authc := m.authc
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		user, fields, err := authc.Request(ctx, uint32(p.pid), h.AuthID, h.Cookie)
		m.events <- userEvent{login: p, h: h, client: client, authc: authc, user: user, fields: fields, err: err}
	}()
}

func (m *Master) refuse(p *proc, h *proto.Handoff, client *os.File, status uint32, err error) {
	client.Close()
	p.ctl.Send(&proto.HandoffReply{Seq: h.Seq, Status: status, Reason: err.Error()})
}

func (m *Master) routeConfirmed(ev userEvent) {
	if ev.d != nil {
		m.routeDelivery(ev)
		return
	}
	if ev.err != nil {
		if errors.Is(ev.err, masterclient.ErrRefused) {
			m.log.Warn("handoff refused: auth does not confirm it (forged or replayed, or the user has no userdb entry)",
				"login_pid", ev.login.pid, "auth_id", ev.h.AuthID, "remote", ev.h.Conn.RemoteAddr, "err", ev.err)
			m.refuse(ev.login, ev.h, ev.client, proto.HandoffRefused, ev.err)
			return
		}
		if m.authc == ev.authc {
			m.authc.Close()
			m.authc = nil
		}
		m.log.Error("handoff: auth request failed", "err", ev.err)
		m.refuse(ev.login, ev.h, ev.client, proto.HandoffInternal, ev.err)
		return
	}
	pu := &pendingUser{login: ev.login, h: ev.h, client: ev.client, user: ev.user, fields: ev.fields}
	if err := m.checkUser(pu); err != nil {
		m.log.Error("login refused", "user", ev.user, "err", err)
		m.refuse(ev.login, ev.h, ev.client, proto.HandoffInternal, errors.New("user cannot log in"))
		return
	}
	m.route(pu)
}

// route gives confirmed work to the user's worker, starting one if needed.
func (m *Master) route(pu *pendingUser) {
	if w := m.workers[pu.user]; w != nil {
		m.deliver(w, pu)
		return
	}
	if q, ok := m.slotWork[pu.user]; ok {
		// It waits for a slot an evicted worker frees (evict.go).
		m.slotWork[pu.user] = append(q, pu)
		return
	}
	if q, ok := m.starting[pu.user]; ok {
		// Its worker is being started: the work goes to it once it runs.
		m.starting[pu.user] = append(q, pu)
		return
	}
	if w, starting := m.holderOfMail(pu); pu.h != nil || pu.r != nil || pu.d != nil || pu.qc != nil {
		// A session keeps its name (UserSession.MailOf names the
		// worker's); a delivery runs under the worker's name and fields.
		switch {
		case w != nil:
			switch {
			case pu.d != nil:
				m.rememberMailOwner(pu.login, pu.d.User, w)
			case pu.qc != nil:
				m.rememberMailOwner(pu.login, pu.qc.User, w)
			}
			if pu.d != nil || pu.qc != nil {
				pu.user, pu.fields = w.user, w.fields
			}
			m.deliver(w, pu)
			return
		case starting != "":
			if pu.d != nil || pu.qc != nil {
				pu.user, pu.fields = starting, m.starting[starting][0].fields
			}
			m.starting[starting] = append(m.starting[starting], pu)
			return
		}
	}
	for _, p := range m.procs {
		if p.role == proto.RoleWorker && p.user == pu.user {
			// The user's previous worker is exiting: wait for it, so
			// that one process at a time owns the mail.
			m.waiting[pu.user] = append(m.waiting[pu.user], pu)
			return
		}
	}
	m.startWorker(pu.user, []*pendingUser{pu})
}

// checkUser applies first_valid_uid..last_valid_uid (uid 0 is never
// valid) and the gid range to the userdb reply.
func (m *Master) checkUser(pu *pendingUser) error {
	f := fieldMap(pu.fields)
	uid, err := m.fieldID(f["uid"], true)
	if err != nil {
		return fmt.Errorf("userdb uid: %w", err)
	}
	gid, err := m.fieldID(f["gid"], false)
	if err != nil {
		return fmt.Errorf("userdb gid: %w", err)
	}
	c := m.cfg
	if uid == 0 {
		return errors.New("userdb gives uid 0")
	}
	if uid < int(c.FirstValidUID) || (c.LastValidUID != 0 && uid > int(c.LastValidUID)) {
		return fmt.Errorf("uid %d is outside first_valid_uid..last_valid_uid (%d..%d)", uid, c.FirstValidUID, c.LastValidUID)
	}
	if gid < int(c.FirstValidGID) || (c.LastValidGID != 0 && gid > int(c.LastValidGID)) {
		return fmt.Errorf("gid %d is outside first_valid_gid..last_valid_gid (%d..%d)", gid, c.FirstValidGID, c.LastValidGID)
	}
	if !m.root && uid != os.Getuid() {
		return fmt.Errorf("uid %d: a non-root master can only serve uid %d", uid, os.Getuid())
	}
	pu.uid, pu.gid = uid, gid
	return nil
}

func (m *Master) fieldID(v string, isUser bool) (int, error) {
	if v == "" {
		if !m.root {
			if isUser {
				return os.Getuid(), nil
			}
			return os.Getgid(), nil
		}
		return 0, errors.New("missing")
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n, nil
	}
	if isUser {
		u, err := m.ids.user(v)
		return u.uid, err
	}
	return m.ids.group(v)
}

func fieldMap(fields []string) map[string]string {
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return out
}

func (m *Master) workerCount() int {
	n := 0
	for _, p := range m.procs {
		if p.role == proto.RoleWorker {
			n++
		}
	}
	return n
}

func (m *Master) startWorker(user string, pending []*pendingUser) {
	defer m.fillSpares()
	if w := m.takeSpare(); w != nil && m.assignSpare(w, pending[0]) {
		m.workers[user] = w
		w.fields, w.uid, w.gid = pending[0].fields, pending[0].uid, pending[0].gid
		for _, pu := range pending {
			m.deliver(w, pu)
		}
		return
	}
	limit := m.workerLimit()
	fail := func(err error) {
		for _, pu := range pending {
			m.fail(pu, proto.HandoffInternal, err)
		}
	}
	if m.workerCount()+len(m.starting) >= limit {
		if m.evictIdle() {
			m.queueForSlot(user, pending)
			return
		}
		m.log.Warn("service(worker): process_limit reached and no worker is idle, work refused", "limit", limit, "user", user)
		fail(errors.New("process_limit reached"))
		return
	}
	var t *privsep.Target
	if m.root {
		pu := pending[0]
		t = &privsep.Target{UID: pu.uid, GID: pu.gid, Groups: []int{pu.gid}}
	}
	// The exec and the handshake run off the event loop, so that other
	// users' logins do not wait for them; work for this user that comes
	// meanwhile queues in m.starting (route).
	if m.starting == nil {
		m.starting = map[string][]*pendingUser{}
	}
	m.starting[user] = pending
	sp := spawnSpec{role: proto.RoleWorker, service: "worker", user: user, target: t, settings: m.cfg, gen: m.gen}
	go func() {
		w, err := m.spawn(sp)
		m.events <- workerStartEvent{user: user, w: w, err: err}
	}()
}

// workerStartEvent is a worker started for a user (w), or the failure to
// start it.
type workerStartEvent struct {
	user string
	w    *proc
	err  error
}

// workerStarted hands a started worker the work that waited for it.
func (m *Master) workerStarted(ev workerStartEvent) {
	pending := m.starting[ev.user]
	delete(m.starting, ev.user)
	fail := func(err error) {
		for _, pu := range pending {
			m.fail(pu, proto.HandoffInternal, err)
		}
	}
	if ev.err != nil {
		m.log.Error("start worker", "user", ev.user, "err", ev.err)
		fail(errors.New("cannot start worker"))
		return
	}
	w := ev.w
	if w.exited {
		// It died before this event; reap has seen it already.
		fail(errors.New("worker exited at start"))
		return
	}
	m.procs[w.pid] = w
	if m.stopping {
		w.shutdown = true
		w.ctl.Send(&proto.Shutdown{Now: true})
		fail(errors.New("stopping"))
		return
	}
	m.workers[ev.user] = w
	w.fields, w.uid, w.gid = pending[0].fields, pending[0].uid, pending[0].gid
	for _, pu := range pending {
		m.deliver(w, pu)
	}
}

// deliver hands confirmed work to its user's worker.
func (m *Master) deliver(w *proc, pu *pendingUser) {
	if pu.a != nil {
		m.sendAdmin(w, pu)
		return
	}
	if pu.d != nil {
		m.sendDelivery(w, pu)
		return
	}
	if pu.r != nil {
		m.sendResume(w, pu)
		return
	}
	if pu.qc != nil {
		m.sendQuotaCheck(w, pu)
		return
	}
	defer pu.client.Close()
	w.lastSent++
	us := &proto.UserSession{
		Seq: w.lastSent, User: pu.user, Fields: pu.fields, Conn: pu.h.Conn,
		Tag: pu.h.Tag, SendCapability: pu.h.SendCapability, Leftover: pu.h.Leftover,
	}
	if pu.user != w.user {
		us.MailOf = w.user // holderOfMail found it holds this user's mail
	}
	for _, f := range pu.fields {
		if v, ok := strings.CutPrefix(f, "auth_mech="); ok {
			us.AuthMech = v
		}
	}
	if err := w.ctl.Send(us, pu.client); err != nil {
		m.log.Error("hand session to worker", "user", pu.user, "worker_pid", w.pid, "err", err)
		pu.login.ctl.Send(&proto.HandoffReply{Seq: pu.h.Seq, Status: proto.HandoffInternal, Reason: "worker unavailable"})
		return
	}
	pu.login.ctl.Send(&proto.HandoffReply{Seq: pu.h.Seq, Status: proto.HandoffOK, WorkerPID: uint32(w.pid)})
}

// workerGone forgets an exited worker, fails the deliveries it had not
// answered, and starts a new one for work that waited for it.
func (m *Master) workerGone(p *proc) {
	if p.user == "" {
		m.spares = slices.DeleteFunc(m.spares, func(q *proc) bool { return q == p })
		m.serveSlotQueue()
		return
	}
	if m.workers[p.user] == p {
		delete(m.workers, p.user)
	}
	m.failDeliveries(p)
	m.failAdmins(p)
	m.serveSlotQueue()
	pending := m.waiting[p.user]
	delete(m.waiting, p.user)
	if len(pending) > 0 && !m.stopping {
		m.startWorker(p.user, pending)
	}
}
