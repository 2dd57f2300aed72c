package worker

import (
	"errors"
	"fmt"
	"net"
	"os"

	"cote/proto"
)

// Hibernation (docs/hibernate.md): an IMAP session idle in IDLE for
// imap_hibernate_timeout leaves the worker. Its engine exports its state;
// the worker sends it with the client socket and the mailbox's change
// notifier to the master (Hibernate), which passes the descriptors to
// imap-hibernate. The session comes back as a UserSession with Resume,
// to this worker or, if this one has exited meanwhile, a new one.

// hibernateHook returns the imap.Options.Hibernate of a session on conn.
func (w *Worker) hibernateHook(conn net.Conn, m *proto.UserSession) func(state []byte, notify *os.File) error {
	return func(state []byte, notify *os.File) error {
		defer notify.Close()
		if len(state) > proto.MaxHibernateState {
			return fmt.Errorf("state of %d bytes", len(state))
		}
		// A duplicate; the session closes its own once this returns.
		f, err := connFile(conn)
		if err != nil {
			return err
		}
		defer f.Close()
		return w.o.Ctl.Send(&proto.Hibernate{User: m.User, Conn: m.Conn, State: state}, f, notify)
	}
}

// ChangeNotifier passes the mail_log wrapper's store's change notifier
// through, so that sessions of users with mail_log can hibernate.
func (s *loggedStore) ChangeNotifier(mailbox string) (*os.File, error) {
	n, ok := s.Store.(interface {
		ChangeNotifier(string) (*os.File, error)
	})
	if !ok {
		return nil, errors.New("the store cannot notify of changes")
	}
	return n.ChangeNotifier(mailbox)
}
