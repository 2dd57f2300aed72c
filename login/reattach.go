package login

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"

	"cote/proto"
)

// A session comes back from its worker after UNAUTHENTICATE (RFC 8437,
// RFC 5804 section 2.14.1) as proto.Unauthenticate with the client
// descriptor; docs/login.md describes the design. The worker has answered
// the command; the session continues here in the not-authenticated state,
// without a greeting, reading first what the worker had read past the
// command.
//
// A plaintext client's descriptor is its socket, and it becomes a client
// of this process like an accepted one (addresses and trust taken from
// the socket). A TLS client's descriptor is the worker's end of the
// socketpair that one of this process's clients proxies (the master sends
// it to the process that made the pair): the proxy goes on, and a new
// client is served over that end, with the proxying client's TLS state,
// addresses and trust. Another LOGIN passes the same end to the next
// worker.
//
// A reattached client does not take a client slot: it is one of the
// process's connections already (its proxy holds one), or was one of a
// process's a moment ago.

// reattach serves a session a worker gave back; it owns f.
func (s *Server) reattach(m *proto.Unauthenticate, f *os.File) {
	defer f.Close()
	if m.Protocol != s.Protocol.Name() {
		s.Log.Warn("session given back for another protocol, dropping it", "protocol", m.Protocol)
		return
	}
	_, ino, ferr := fileIno(f)
	nc, err := net.FileConn(f)
	if err != nil || ferr != nil {
		s.Log.Error("session given back: bad descriptor", "err", err, "stat_err", ferr)
		return
	}
	s.mu.Lock()
	via := s.proxies[ino]
	if s.stopping && via == nil {
		// A plaintext client cannot be taken once the process stops:
		// the master gives those only to processes that take clients.
		s.mu.Unlock()
		nc.Close()
		return
	}
	c := s.newReattached(nc, via, m)
	s.clients[c] = struct{}{}
	s.status.set(len(s.clients))
	// Under mu: via is still registered, so its goroutine still holds
	// s.wg and Serve is not past Wait; a plaintext one is accepted only
	// before stopping, which Serve sets under mu before it waits.
	s.wg.Add(1)
	s.mu.Unlock()
	c.logEvent(slog.LevelInfo, "Unauthenticated: session back from the worker", "leftover", len(m.Leftover))
	go func() {
		defer s.wg.Done()
		s.runClient(s.cctx, c, false)
	}()
}

// newReattached makes the client of a session given back on nc. via is
// the client proxying its TLS, or nil for a plaintext one.
func (s *Server) newReattached(nc net.Conn, via *Client, m *proto.Unauthenticate) *Client {
	c := s.newClient(nc, Listener{Name: "unauthenticate"})
	c.reattached = true
	if via != nil {
		c.via = via
		c.local, c.remote, c.laddr, c.raddr = via.local, via.remote, via.laddr, via.raddr
		c.trusted, c.sessionID = via.trusted, via.sessionID
	} else if validSessionID(m.SessionID) {
		c.sessionID = m.SessionID
	}
	c.log = s.Log.With("session", c.sessionID, "remote", c.raddr.String(), "listener", "unauthenticate")
	if len(m.Leftover) > 0 {
		c.pre = bytes.NewReader(m.Leftover)
		c.r = bufio.NewReaderSize(io.MultiReader(c.pre, nc), ReadBufferSize)
	}
	return c
}

// validSessionID accepts what sessionID makes: base64, 16 or 32
// characters.
func validSessionID(id string) bool {
	if len(id) != 16 && len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '+' || b == '/' || b == '=') {
			return false
		}
	}
	return true
}

// registerProxy records c as proxying TLS for the socketpair end with
// inode ino.
func (s *Server) registerProxy(ino uint64, c *Client) {
	s.mu.Lock()
	s.proxies[ino] = c
	c.proxyIno = ino
	s.mu.Unlock()
}

// forgetProxy drops c's proxy record once its proxy has ended.
func (s *Server) forgetProxy(c *Client) {
	s.mu.Lock()
	if c.proxyIno != 0 && s.proxies[c.proxyIno] == c {
		delete(s.proxies, c.proxyIno)
	}
	s.mu.Unlock()
}

// fileIno returns the device and inode of a descriptor.
func fileIno(f *os.File) (dev, ino uint64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, os.ErrInvalid
	}
	return uint64(st.Dev), st.Ino, nil
}
