package master

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// UNAUTHENTICATE (RFC 8437, RFC 5804 section 2.14.1): a worker gives a
// session back, and the master passes it to a login process, which serves
// it in the not-authenticated state. The worker runs as the user and is
// not trusted to choose the login process or to describe the connection:
//
//   - A TLS client's descriptor is the worker's end of a socketpair that
//     a login process made and still proxies. Linux gives both ends of a
//     socketpair the peer credentials of the process that created it, so
//     SO_PEERCRED names that login process, and it alone can continue
//     the session (it holds the TLS state).
//   - Any other descriptor (a TCP or Unix client socket) goes to a login
//     process of the session's protocol that takes clients.
//
// The login process reads addresses and TLS state from the socket or from
// its own proxy, never from the message.

// unauthRole maps a session protocol to the login role that serves it
// before authentication.
func unauthRole(protocol string) string {
	switch protocol {
	case "imap":
		return proto.RoleIMAPLogin
	case "sieve":
		return proto.RoleSieveLogin
	}
	return ""
}

// unauthenticate routes a session worker w gave back; it owns client. It
// returns false for a message the worker may not send (the caller kills
// it).
func (m *Master) unauthenticate(w *proc, msg *proto.Unauthenticate, client *os.File) bool {
	defer client.Close()
	role := unauthRole(msg.Protocol)
	if role == "" {
		return false
	}
	if _, _, err := sockID(client); err != nil {
		m.log.Error("unauthenticate: the descriptor is not a socket", "user", w.user, "err", err)
		return false
	}
	target := m.proxyOwner(client, role)
	if target == nil {
		target = m.loginFor(role)
	}
	if target == nil {
		m.log.Warn("unauthenticate: no login process to take the session, disconnecting it",
			"user", w.user, "protocol", msg.Protocol, "session", msg.SessionID)
		return true
	}
	out := &proto.Unauthenticate{Protocol: msg.Protocol, SessionID: msg.SessionID, Leftover: msg.Leftover}
	if err := target.ctl.Send(out, client); err != nil {
		m.log.Error("unauthenticate: pass session to login process", "user", w.user, "login_pid", target.pid, "err", err)
		return true
	}
	m.log.Debug("session unauthenticated", "user", w.user, "worker_pid", w.pid, "login_pid", target.pid, "session", msg.SessionID)
	return true
}

// proxyOwner returns the live login process of role that created the
// socketpair client is an end of, or nil when client is not such a socket.
func (m *Master) proxyOwner(client *os.File, role string) *proc {
	pid, err := socketPairCreator(client)
	if err != nil || pid <= 0 {
		return nil
	}
	p := m.procs[pid]
	if p == nil || p.role != role || p.exited {
		return nil
	}
	return p
}

// socketPairCreator returns the pid in a Unix socket's peer credentials:
// for a socketpair, the process that created it.
func socketPairCreator(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		pid  int
		cerr error
	)
	err = rc.Control(func(fd uintptr) {
		sa, err := unix.Getsockname(int(fd))
		if err != nil {
			cerr = err
			return
		}
		if _, ok := sa.(*unix.SockaddrUnix); !ok {
			cerr = errors.New("not a Unix socket")
			return
		}
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			cerr = err
			return
		}
		pid = int(cred.Pid)
	})
	if err != nil {
		return 0, err
	}
	return pid, cerr
}

// loginFor picks a login process of role of the current generation that
// takes clients, the least loaded first.
func (m *Master) loginFor(role string) *proc {
	var best *proc
	for _, p := range m.procs {
		if p.role != role || p.exited || p.shutdown || p.gen != m.gen {
			continue
		}
		if best == nil || p.status.Available > best.status.Available {
			best = p
		}
	}
	return best
}
