package worker

import (
	"errors"
	"fmt"
	"net"
	"os"

	"cote/proto"
)

// unauthHook returns the Unauthenticate option of an IMAP or ManageSieve
// session on conn: after UNAUTHENTICATE (RFC 8437, RFC 5804 section
// 2.14.1) the session is no longer this user's, and
// this process, which runs as the user, must not serve it. The client
// descriptor (for a TLS client, the end of its login process's proxy) goes
// to the master, which gives it to a login process (docs/ipc.md); the
// session closes its own copy once this returns.
func (w *Worker) unauthHook(conn net.Conn, m *proto.UserSession) func(leftover []byte) error {
	return func(leftover []byte) error {
		if len(leftover) > proto.MaxLeftover {
			return fmt.Errorf("%d bytes pipelined after UNAUTHENTICATE", len(leftover))
		}
		f, err := connFile(conn)
		if err != nil {
			return err
		}
		defer f.Close()
		return w.o.Ctl.Send(&proto.Unauthenticate{Protocol: m.Conn.Protocol, SessionID: m.Conn.SessionID, Leftover: leftover}, f)
	}
}

// connFile duplicates the descriptor of a session's connection (under
// the byte counting), for handing the connection to the master; the
// session closes its own copy.
func connFile(conn net.Conn) (*os.File, error) {
	if cc, ok := conn.(*countingConn); ok {
		conn = cc.Conn
	}
	fc, ok := conn.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, errors.New("the connection has no descriptor")
	}
	return fc.File()
}
