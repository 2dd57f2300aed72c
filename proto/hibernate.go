package proto

// Hibernation of IMAP sessions idle in IDLE (docs/hibernate.md). A worker
// hands a session to the master (Hibernate with the client socket and a
// change-notification descriptor); the master keeps the session's identity
// and state and passes the descriptors on to the imap-hibernate process
// (Hibernate again, with its own ID); that process watches both and gives
// the client socket back (Unhibernate) on client input or a mailbox change,
// or reports the client gone (HibernateEnd). The master then routes the
// session to the user's worker as a UserSession with Resume set.

// Limits of hibernation.
const (
	// MaxHibernateState bounds the exported state of one session; a
	// session whose state is larger is not hibernated.
	MaxHibernateState = 64 << 10
)

// Hibernate reasons for Unhibernate and HibernateEnd.
const (
	UnhibernateInput   = "input"   // the client sent something (DONE)
	UnhibernateChange  = "change"  // the notification descriptor fired
	UnhibernateStop    = "stop"    // imap-hibernate is shutting down
	HibernateEndClosed = "closed"  // the client closed the connection
	HibernateEndError  = "error"   // a read or keepalive write failed
	HibernateEndLimit  = "limit"   // imap-hibernate holds too many sessions
	HibernateEndFailed = "refused" // imap-hibernate could not take the session
)

// Hibernate moves a session idle in IDLE out of its worker. Worker to
// master: ID is 0, State is the session's exported state (package imap),
// Conn the session's connection facts; the master ignores User and uses
// the worker's. Master to imap-hibernate: ID names the session from then
// on and State is empty (the master keeps it). The two descriptors are the
// client socket (for TLS clients the worker's end of the login process's
// proxy socketpair) and a descriptor that becomes readable when the
// selected mailbox may have changed (an inotify instance, or an eventfd
// that never fires when no mailbox is selected).
type Hibernate struct {
	ID    uint64
	User  string
	Conn  ConnInfo
	State []byte
}

func (*Hibernate) Type() Type { return TypeHibernate }
func (m *Hibernate) encode(e *Encoder) {
	e.Uint(m.ID)
	e.String(m.User)
	m.Conn.encode(e)
	e.Blob(m.State)
}
func (m *Hibernate) decode(d *Decoder) {
	m.ID = d.Uint()
	m.User = d.String()
	m.Conn.decode(d)
	m.State = d.Blob(MaxHibernateState)
}

// Unhibernate gives a hibernated session back, imap-hibernate to master,
// with the client socket attached. ClientInput holds what the client sent
// while hibernated (imap-hibernate read it to notice the input); the
// worker processes it first. The master checks that the socket is the one
// it hibernated under ID before it routes the session to a worker.
type Unhibernate struct {
	ID          uint64
	Reason      string
	ClientInput []byte
}

func (*Unhibernate) Type() Type { return TypeUnhibernate }
func (m *Unhibernate) encode(e *Encoder) {
	e.Uint(m.ID)
	e.String(m.Reason)
	e.Blob(m.ClientInput)
}
func (m *Unhibernate) decode(d *Decoder) {
	m.ID = d.Uint()
	m.Reason = d.String()
	m.ClientInput = d.Blob(MaxLeftover)
}

// HibernateEnd tells the master, imap-hibernate to master, that a
// hibernated session ended there (the client disconnected) and its state
// can be dropped.
type HibernateEnd struct {
	ID     uint64
	Reason string
}

func (*HibernateEnd) Type() Type { return TypeHibernateEnd }
func (m *HibernateEnd) encode(e *Encoder) {
	e.Uint(m.ID)
	e.String(m.Reason)
}
func (m *HibernateEnd) decode(d *Decoder) {
	m.ID = d.Uint()
	m.Reason = d.String()
}
