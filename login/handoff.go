package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// handoffTimeout bounds the wait for the master's HandoffReply.
const handoffTimeout = 30 * time.Second

// HandoffRequest is the protocol-specific part of a handoff.
type HandoffRequest struct {
	// Tag is the IMAP tag of the login command, which the worker
	// answers; empty for POP3.
	Tag string
	// SendCapability asks the worker for an untagged CAPABILITY before
	// its tagged OK.
	SendCapability bool
	// Leftover is every byte read from the client past the login
	// command, normally Client.Buffered(); at most proto.MaxLeftover.
	Leftover []byte
}

// HandoffError is a handoff the master did not complete. Status is
// proto.HandoffInternal (temporary) or proto.HandoffRefused.
type HandoffError struct {
	Status uint32
	Reason string
}

func (e *HandoffError) Error() string {
	return fmt.Sprintf("login: handoff failed (status %d): %s", e.Status, e.Reason)
}

// Handoff passes an authenticated client to the master, which routes it
// to the user's worker. On nil the worker owns the client and answers
// the login command: the Protocol must return from Serve without writing
// anything. On a *HandoffError the client stays with the Protocol in the
// pre-auth state and the Protocol answers the command itself.
//
// A plaintext client's socket is passed as it is and closed here once
// the master has it. For a TLS client the worker gets one end of a
// socketpair, and after Serve returns this process proxies between the
// TLS connection and the other end for the rest of the session.
func (c *Client) Handoff(ctx context.Context, a *AuthSuccess, h HandoffRequest) error {
	if a == nil {
		return errors.New("login: Handoff without a successful authentication")
	}
	if len(h.Leftover) > proto.MaxLeftover {
		c.log.Error("handoff leftover too large", "bytes", len(h.Leftover))
		return &HandoffError{Status: proto.HandoffInternal, Reason: "leftover too large"}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	var (
		pass *os.File // what the worker gets
		ours net.Conn // our socketpair end for TLS
		err  error
	)
	var ino uint64
	if c.tlsConn != nil {
		pass, ours, err = socketPair()
		if err == nil {
			_, ino, err = fileIno(pass)
			if err != nil {
				pass.Close()
				ours.Close()
			}
		}
		if err == nil {
			// Known before the master hears of the client: the worker
			// may give a pipelined UNAUTHENTICATE back before the
			// HandoffReply is read.
			c.srv.registerProxy(ino, c)
		}
	} else {
		pass, err = connFile(c.raw)
	}
	if err != nil {
		c.log.Error("handoff descriptor", "err", err)
		return &HandoffError{Status: proto.HandoffInternal, Reason: err.Error()}
	}
	m := &proto.Handoff{
		AuthPID: a.spid,
		AuthID:  a.id,
		Cookie:  a.cookie,
		Conn: proto.ConnInfo{
			Protocol:   c.srv.Protocol.Name(),
			LocalAddr:  c.laddr.String(),
			RemoteAddr: c.raddr.String(),
			SessionID:  c.sessionID,
			Secured:    c.Secured(),
			TLS:        c.TLS(),
			ClientID:   c.clientID,
		},
		Tag:            h.Tag,
		SendCapability: h.SendCapability,
		Leftover:       h.Leftover,
	}
	r, err := c.srv.ctl.call(ctx, handoffTimeout, func(seq uint64) proto.Message {
		m.Seq = seq
		return m
	}, pass)
	pass.Close()
	if err != nil {
		if ours != nil {
			ours.Close()
			c.srv.forgetProxy(c)
		}
		// The master may have routed the client anyway: a worker may be
		// talking to it, so it cannot stay here.
		c.log.Error("handoff: no answer from master, dropping client", "err", err)
		c.close()
		return &HandoffError{Status: proto.HandoffInternal, Reason: err.Error()}
	}
	rep := r.msg.(*proto.HandoffReply)
	if rep.Status != proto.HandoffOK {
		if ours != nil {
			ours.Close()
			c.srv.forgetProxy(c)
		}
		c.lastUser = a.User
		c.logEvent(slog.LevelWarn, "Login failed: handoff refused", "status", rep.Status, "reason", rep.Reason)
		return &HandoffError{Status: rep.Status, Reason: rep.Reason}
	}
	c.handedOff = true
	c.r.Discard(c.r.Buffered()) // now the worker's
	l := &loginLog{user: a.User, mech: a.Mech, service: c.srv.Protocol.Name(), pid: os.Getpid(),
		mpid: int(rep.WorkerPID), session: c.sessionID, tls: c.TLS(), secured: c.Secured()}
	l.rip, l.rport = hostPort(c.raddr)
	l.lip, l.lport = hostPort(c.laddr)
	logLogin(c.log, c.srv.LogFormat, c.srv.LogFormatElements, l)
	if ours == nil {
		// The worker has the socket; our copy goes. Closing one
		// descriptor of a shared socket sends nothing to the client.
		c.close()
		return nil
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.pair = ours
	}
	c.mu.Unlock()
	if closed {
		ours.Close()
		c.srv.forgetProxy(c)
	}
	return nil
}

// connFile duplicates a socket's descriptor.
func connFile(nc net.Conn) (*os.File, error) {
	fc, ok := nc.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("connection %T has no descriptor", nc)
	}
	return fc.File()
}

// socketPair makes a stream socketpair: a file for the worker and a
// net.Conn for the proxy.
func socketPair() (*os.File, net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	of := os.NewFile(uintptr(fds[0]), "tls-proxy")
	ours, err := net.FileConn(of)
	of.Close()
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[1]), "tls-proxy-worker"), ours, nil
}

// proxy copies between the TLS connection and the worker's socketpair
// until the session ends. When the client half-closes, the worker sees
// EOF and may still write; when the worker's side ends, the client gets
// a TLS close_notify and everything is closed.
func (c *Client) proxy() {
	c.raw.SetDeadline(time.Time{})
	c.mu.Lock()
	pair := c.pair
	c.mu.Unlock()
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		_, err := io.Copy(pair, c.tlsConn)
		if err != nil {
			c.log.Debug("proxy: client side ended", "err", err)
			c.close()
			return
		}
		if cw, ok := pair.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	_, err := io.Copy(c.tlsConn, pair)
	if err != nil {
		c.log.Debug("proxy: worker side ended", "err", err)
	} else {
		c.raw.SetWriteDeadline(time.Now().Add(writeTimeout))
		c.tlsConn.CloseWrite()
	}
	c.close()
	<-upDone
	c.log.Debug("proxy finished")
}
