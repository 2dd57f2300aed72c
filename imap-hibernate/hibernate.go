// Package imaphibernate is the imap-hibernate process (docs/hibernate.md):
// one unprivileged process that holds the IMAP sessions idle in IDLE that
// their workers handed over, so that an idle user keeps no worker. For
// each session it holds only two descriptors, the client socket and a
// change-notification descriptor the worker set up, in one epoll set. It
// sends "* OK Still here" keepalives (imap_idle_notify_interval); on client
// input or a mailbox change it gives the socket back to the master
// (Unhibernate, with the bytes it read) for a worker to resume the
// session. It knows nothing of the session's state or its mail, and links
// no storage: the master keeps the state and checks the socket it gets
// back.
package imaphibernate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"cote/metrics"
	"cote/proto"
)

// Options configure the process.
type Options struct {
	Ctl *proto.Conn
	Log *slog.Logger
	// IdleNotify is the keepalive interval (imap_idle_notify_interval);
	// 0 or less sends none.
	IdleNotify time.Duration
	// MaxSessions is how many sessions the process holds
	// (service imap-hibernate { client_limit }); more are given back.
	MaxSessions int
	// Done is closed when the master is gone.
	Done <-chan struct{}
	// Metrics counts hibernated sessions; nil counts nothing.
	Metrics *metrics.Registry
}

// keepalive is the line a hibernated IDLE sends (RFC 2177 leaves the
// text free; Dovecot's).
const keepalive = "* OK Still here\r\n"

// tick is how often the event loop wakes at most for keepalives.
const tick = time.Second

// session is one hibernated session: two raw descriptors in the epoll set.
type session struct {
	id       uint64
	user     string
	remote   string
	client   int // the client socket
	notify   int // readable when the mailbox may have changed
	since    time.Time
	next     time.Time // next keepalive
	unsent   []byte    // the rest of a keepalive the socket did not take
	finished bool      // handed back or closed
}

// server is the running process. The event loop and the control reader
// share it.
type server struct {
	o     Options
	log   *slog.Logger
	epfd  int
	wake  int // eventfd in the epoll set: stop the loop
	gauge *metrics.Gauge

	mu       sync.Mutex // guards the fields below
	sessions map[uint64]*session
	byFD     map[int32]*session
	stopping bool
	changed  bool // the session count changed since the last Status
}

// Run serves until Shutdown, the master's death or the end of the control
// channel.
func Run(o Options) error {
	if o.MaxSessions <= 0 {
		o.MaxSessions = 1000
	}
	if fit := sessionsThatFit(); fit < o.MaxSessions {
		o.Log.Info("client_limit lowered to what the open-file limit holds", "client_limit", o.MaxSessions, "sessions", fit)
		o.MaxSessions = fit
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	defer unix.Close(epfd)
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	defer unix.Close(wake)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	o.Metrics.Help("imap_hibernated_sessions", "IMAP sessions held by imap-hibernate.")
	s := &server{o: o, log: o.Log, epfd: epfd, wake: wake,
		gauge:    o.Metrics.Gauge("imap_hibernated_sessions"),
		sessions: map[uint64]*session{}, byFD: map[int32]*session{}}
	o.Ctl.Send(&proto.Status{Clients: 0, Available: uint32(o.MaxSessions)})

	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		s.loop()
	}()
	now := false
	var err2 error
	msgs := make(chan ctlMsg)
	go s.readControl(msgs)
wait:
	for {
		select {
		case <-o.Done:
			now = true
			break wait
		case cm := <-msgs:
			if cm.err != nil {
				now = true
				if !proto.IsClosed(cm.err) {
					err2 = fmt.Errorf("control channel: %w", cm.err)
				}
				break wait
			}
			switch m := cm.msg.(type) {
			case *proto.Hibernate:
				s.add(m, cm.files[0], cm.files[1])
			case *proto.Shutdown:
				now = m.Now
				break wait
			default:
				for _, f := range cm.files {
					f.Close()
				}
				now = true
				err2 = fmt.Errorf("unexpected control message type %d", cm.msg.Type())
				break wait
			}
		}
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-loopDone
	s.stopAll(now)
	return err2
}

type ctlMsg struct {
	msg   proto.Message
	files []*os.File
	err   error
}

func (s *server) readControl(out chan<- ctlMsg) {
	for {
		m, files, err := s.o.Ctl.Recv()
		select {
		case out <- ctlMsg{m, files, err}:
		case <-s.o.Done:
			for _, f := range files {
				f.Close()
			}
			return
		}
		if err != nil {
			return
		}
	}
}

// rawFD takes a received descriptor out of its os.File (and Go's
// poller): a duplicate the event loop owns.
func rawFD(f *os.File) (int, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(d uintptr) { fd, derr = unix.FcntlInt(d, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, derr
}

// add takes a session. A session it cannot hold goes back at once.
func (s *server) add(m *proto.Hibernate, client, notify *os.File) {
	ses := &session{id: m.ID, user: m.User, remote: m.Conn.RemoteAddr, client: -1, notify: -1, since: time.Now()}
	if s.o.IdleNotify > 0 {
		ses.next = ses.since.Add(s.o.IdleNotify)
	}
	cfd, cerr := rawFD(client)
	nfd, nerr := rawFD(notify)
	ses.client, ses.notify = cfd, nfd
	giveBack := func(reason string, err error) {
		s.log.Warn("cannot hold session, giving it back", "user", ses.user, "reason", reason, "err", err)
		if ses.notify >= 0 {
			unix.Close(ses.notify)
		}
		s.handBack(ses, reason, nil)
	}
	if cerr != nil {
		// Nothing to give back: the master drops the session.
		if nfd >= 0 {
			unix.Close(nfd)
		}
		s.o.Ctl.Send(&proto.HibernateEnd{ID: m.ID, Reason: proto.HibernateEndError})
		return
	}
	if nerr != nil {
		giveBack(proto.UnhibernateStop, nerr)
		return
	}
	s.mu.Lock()
	if s.stopping || len(s.sessions) >= s.o.MaxSessions {
		s.mu.Unlock()
		giveBack(proto.UnhibernateStop, errors.New("client_limit reached or stopping"))
		return
	}
	s.sessions[ses.id] = ses
	s.byFD[int32(cfd)] = ses
	s.byFD[int32(nfd)] = ses
	s.changed = true
	s.mu.Unlock()
	// Both are registered after the maps hold them: an event may come at
	// once.
	err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, cfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(cfd)})
	if err == nil {
		err = unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, nfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(nfd)})
	}
	if err != nil {
		if s.remove(ses) {
			giveBack(proto.UnhibernateStop, err)
		}
		return
	}
	s.log.Debug("session hibernated", "user", ses.user, "remote", ses.remote, "session_id", ses.id)
}

// remove takes a session out of the maps and the epoll set; it reports
// false when the session was already finished.
func (s *server) remove(ses *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ses.finished {
		return false
	}
	ses.finished = true
	delete(s.sessions, ses.id)
	delete(s.byFD, int32(ses.client))
	delete(s.byFD, int32(ses.notify))
	s.changed = true
	unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, ses.client, nil)
	unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, ses.notify, nil)
	return true
}

// loop waits for events until stopping.
func (s *server) loop() {
	events := make([]unix.EpollEvent, 256)
	lastStatus := time.Now()
	for {
		n, err := unix.EpollWait(s.epfd, events, int(tick/time.Millisecond))
		if err != nil && !errors.Is(err, unix.EINTR) {
			s.log.Error("epoll_wait", "err", err)
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == int32(s.wake) {
				return
			}
			s.mu.Lock()
			ses := s.byFD[ev.Fd]
			s.mu.Unlock()
			if ses == nil {
				continue
			}
			if int(ev.Fd) == ses.client {
				s.clientReady(ses)
			} else {
				s.changedMailbox(ses)
			}
		}
		now := time.Now()
		s.keepalives(now)
		if now.Sub(lastStatus) >= tick {
			lastStatus = now
			s.reportStatus()
		}
	}
}

// clientReady reads what the client sent and hands the session back with
// it; EOF with nothing read ends the session here.
func (s *server) clientReady(ses *session) {
	buf := make([]byte, 0, 4096)
	eof := false
	var rerr error
	for len(buf) < proto.MaxLeftover {
		if cap(buf)-len(buf) == 0 {
			buf = append(buf, make([]byte, min(cap(buf), proto.MaxLeftover-len(buf)))...)[:len(buf)]
		}
		// MSG_DONTWAIT: the socket may be in blocking mode.
		n, _, err := unix.Recvfrom(ses.client, buf[len(buf):cap(buf)], unix.MSG_DONTWAIT)
		if n > 0 {
			buf = buf[:len(buf)+n]
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			break
		}
		if err != nil {
			rerr = err
			break
		}
		if n == 0 {
			eof = true
			break
		}
	}
	if len(buf) == 0 && (eof || rerr != nil) {
		if !s.remove(ses) {
			return
		}
		reason := proto.HibernateEndClosed
		if rerr != nil {
			reason = proto.HibernateEndError
		}
		s.log.Debug("hibernated client disconnected", "user", ses.user, "remote", ses.remote, "err", rerr)
		s.end(ses, reason)
		return
	}
	if len(buf) == 0 {
		return // spurious wakeup
	}
	if s.remove(ses) {
		unix.Close(ses.notify)
		s.handBack(ses, proto.UnhibernateInput, buf)
	}
}

// changedMailbox hands the session back for a worker to send the changes.
func (s *server) changedMailbox(ses *session) {
	if s.remove(ses) {
		unix.Close(ses.notify)
		s.handBack(ses, proto.UnhibernateChange, nil)
	}
}

// handBack sends the client socket to the master and closes it here.
func (s *server) handBack(ses *session, reason string, input []byte) {
	if len(ses.unsent) > 0 && !s.flushUnsent(ses, 5*time.Second) {
		s.log.Info("hibernated client does not read; closing", "user", ses.user, "remote", ses.remote)
		s.end(ses, proto.HibernateEndError)
		return
	}
	f := os.NewFile(uintptr(ses.client), "client")
	err := s.o.Ctl.Send(&proto.Unhibernate{ID: ses.id, Reason: reason, ClientInput: input}, f)
	f.Close()
	if err != nil {
		s.log.Error("hand session back", "user", ses.user, "err", err)
		return
	}
	s.log.Debug("session unhibernated", "user", ses.user, "reason", reason, "hibernated_for", time.Since(ses.since).Round(time.Millisecond))
}

// end closes a session that ended here and tells the master.
func (s *server) end(ses *session, reason string) {
	unix.Close(ses.client)
	unix.Close(ses.notify)
	s.o.Ctl.Send(&proto.HibernateEnd{ID: ses.id, Reason: reason})
}

// keepalives sends "* OK Still here" to sessions whose time has come,
// only when nothing is queued on the socket (as Dovecot does).
func (s *server) keepalives(now time.Time) {
	if s.o.IdleNotify <= 0 {
		return
	}
	var due []*session
	s.mu.Lock()
	for _, ses := range s.sessions {
		if !now.Before(ses.next) || len(ses.unsent) > 0 {
			due = append(due, ses)
		}
	}
	s.mu.Unlock()
	for _, ses := range due {
		if len(ses.unsent) == 0 {
			ses.next = now.Add(s.o.IdleNotify)
			if q, err := unix.IoctlGetInt(ses.client, unix.SIOCOUTQ); err == nil && q > 0 {
				continue
			}
			ses.unsent = []byte(keepalive)
		}
		if err := s.write(ses); err != nil {
			if s.remove(ses) {
				s.log.Debug("keepalive failed", "user", ses.user, "remote", ses.remote, "err", err)
				s.end(ses, proto.HibernateEndError)
			}
		}
	}
}

// write sends what it can of ses.unsent without blocking.
func (s *server) write(ses *session) error {
	n, err := unix.SendmsgN(ses.client, ses.unsent, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	if n > 0 {
		ses.unsent = ses.unsent[n:]
	}
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}

// flushUnsent finishes a partly sent keepalive before the session goes
// back, waiting up to d for the socket.
func (s *server) flushUnsent(ses *session, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for len(ses.unsent) > 0 {
		if s.write(ses) != nil {
			return false
		}
		if len(ses.unsent) == 0 {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(ses.client), Events: unix.POLLOUT}}
		unix.Poll(fds, int(left/time.Millisecond)+1)
	}
	return true
}

func (s *server) reportStatus() {
	s.mu.Lock()
	changed, n := s.changed, len(s.sessions)
	s.changed = false
	s.mu.Unlock()
	s.gauge.Set(int64(n))
	if changed {
		s.o.Ctl.Send(&proto.Status{Clients: uint32(n), Available: uint32(max(0, s.o.MaxSessions-n))})
	}
}

// stopAll ends every session: on a graceful stop (a reload) they go back
// to workers, which may hibernate them again in the new imap-hibernate;
// when the server stops they get BYE.
func (s *server) stopAll(now bool) {
	s.mu.Lock()
	var all []*session
	for _, ses := range s.sessions {
		all = append(all, ses)
	}
	s.mu.Unlock()
	for _, ses := range all {
		if !s.remove(ses) {
			continue
		}
		if now {
			ses.unsent = append(ses.unsent, "* BYE Server shutting down.\r\n"...)
			s.flushUnsent(ses, 100*time.Millisecond)
			s.end(ses, proto.HibernateEndClosed)
			continue
		}
		unix.Close(ses.notify)
		s.handBack(ses, proto.UnhibernateStop, nil)
	}
}

// descriptorsPerSession is what one session holds here: the client's
// socket and its change notifier. reservedDescriptors are kept for the
// process itself (control channel, epoll, eventfd, logs) and for the
// moment a session arrives, when its descriptors exist twice (as
// received and as duplicated by rawFD).
const (
	descriptorsPerSession = 2
	reservedDescriptors   = 64
)

// sessionsThatFit is how many sessions the open-file limit allows. A
// session beyond it would make the kernel drop the descriptors of the
// next message on the control channel (MSG_CTRUNC), so the limit is a
// hard bound: the sessions over it are given back and stay in their
// workers, and the master starts another imap-hibernate process.
func sessionsThatFit() int {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 1 << 30
	}
	return max(1, (int(l.Cur)-reservedDescriptors)/descriptorsPerSession)
}
