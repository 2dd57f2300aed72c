package proto

import "fmt"

// Type identifies a control message.
type Type uint8

// Control message types. Numbers are part of the wire format: never reuse
// one.
const (
	TypeHello            Type = 1
	TypeConfig           Type = 2
	TypeStatus           Type = 3
	TypeShutdown         Type = 4
	TypeAuthConnect      Type = 5
	TypeAuthConnectReply Type = 6
	TypeHandoff          Type = 7
	TypeHandoffReply     Type = 8
	TypeUserSession      Type = 9
	TypeWorkerIdle       Type = 10
	TypeWorkerExit       Type = 11
	TypeDeliver          Type = 12
	TypeDeliverReply     Type = 13
	TypeAdmin            Type = 14
	TypeAdminReply       Type = 15
	TypeMetrics          Type = 16
	TypeHibernate        Type = 17
	TypeUnhibernate      Type = 18
	TypeHibernateEnd     Type = 19
	TypeQuotaCheck       Type = 20
	TypeQuotaCheckReply  Type = 21
	TypeUnauthenticate   Type = 22
	TypeWorkerAssign     Type = 23
	TypeDeliverChannel   Type = 24
	// 30 and up: profiling (profile.go), numbered apart so that other
	// additions can take 23 onwards.
	TypeProfile      Type = 30
	TypeProfileReply Type = 31
)

// Message is one control message.
type Message interface {
	Type() Type
	encode(*Encoder)
	decode(*Decoder)
}

func newMessage(t Type) (Message, error) {
	switch t {
	case TypeHello:
		return new(Hello), nil
	case TypeConfig:
		return new(Config), nil
	case TypeStatus:
		return new(Status), nil
	case TypeShutdown:
		return new(Shutdown), nil
	case TypeAuthConnect:
		return new(AuthConnect), nil
	case TypeAuthConnectReply:
		return new(AuthConnectReply), nil
	case TypeHandoff:
		return new(Handoff), nil
	case TypeHandoffReply:
		return new(HandoffReply), nil
	case TypeUserSession:
		return new(UserSession), nil
	case TypeWorkerIdle:
		return new(WorkerIdle), nil
	case TypeWorkerExit:
		return new(WorkerExit), nil
	case TypeDeliver:
		return new(Deliver), nil
	case TypeDeliverReply:
		return new(DeliverReply), nil
	case TypeAdmin:
		return new(Admin), nil
	case TypeAdminReply:
		return new(AdminReply), nil
	case TypeMetrics:
		return new(Metrics), nil
	case TypeQuotaCheck:
		return new(QuotaCheck), nil
	case TypeQuotaCheckReply:
		return new(QuotaCheckReply), nil
	case TypeHibernate:
		return new(Hibernate), nil
	case TypeUnhibernate:
		return new(Unhibernate), nil
	case TypeHibernateEnd:
		return new(HibernateEnd), nil
	case TypeUnauthenticate:
		return new(Unauthenticate), nil
	case TypeDeliverChannel:
		return new(DeliverChannel), nil
	case TypeWorkerAssign:
		return new(WorkerAssign), nil
	case TypeProfile:
		return new(Profile), nil
	case TypeProfileReply:
		return new(ProfileReply), nil
	}
	return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformed, t)
}

// fdCount is how many descriptors each message type carries.
func fdCount(t Type) int {
	switch t {
	case TypeConfig, TypeAuthConnectReply, TypeHandoff, TypeUserSession, TypeDeliver, TypeUnhibernate, TypeUnauthenticate, TypeProfile, TypeDeliverChannel:
		return 1
	case TypeHibernate:
		return 2
	}
	return 0
}

// Hello is the first message in each direction. The master sends the role
// it started the child for; the child answers with its own role and pid.
type Hello struct {
	Version uint32
	Role    string
	PID     uint32
}

func (*Hello) Type() Type { return TypeHello }
func (m *Hello) encode(e *Encoder) {
	e.Uint(uint64(m.Version))
	e.String(m.Role)
	e.Uint(uint64(m.PID))
}
func (m *Hello) decode(d *Decoder) {
	m.Version = d.Uint32()
	m.Role = d.String()
	m.PID = d.Uint32()
}

// Config delivers the validated configuration, master to child, right
// after Hello and again never: a reload starts new children. The attached
// descriptor is a sealed memfd holding Size bytes of JSON (config.Settings
// with what the role must not see removed).
type Config struct {
	Generation uint64
	Size       uint64
}

func (*Config) Type() Type { return TypeConfig }
func (m *Config) encode(e *Encoder) {
	e.Uint(m.Generation)
	e.Uint(m.Size)
}
func (m *Config) decode(d *Decoder) {
	m.Generation = d.Uint()
	m.Size = d.Uint()
	if m.Size > MaxConfig {
		d.fail("config of %d bytes", m.Size)
	}
}

// Status is sent by a child whenever its load changes: Clients is the
// number of connections or sessions it serves, Available how many more it
// will take (0 when full).
type Status struct {
	Clients   uint32
	Available uint32
}

func (*Status) Type() Type { return TypeStatus }
func (m *Status) encode(e *Encoder) {
	e.Uint(uint64(m.Clients))
	e.Uint(uint64(m.Available))
}
func (m *Status) decode(d *Decoder) {
	m.Clients = d.Uint32()
	m.Available = d.Uint32()
}

// Shutdown asks a child to stop accepting new work and to exit once its
// sessions are done (or at once when Now is set).
type Shutdown struct {
	Now bool
}

func (*Shutdown) Type() Type          { return TypeShutdown }
func (m *Shutdown) encode(e *Encoder) { e.Bool(m.Now) }
func (m *Shutdown) decode(d *Decoder) { m.Now = d.Bool() }

// Auth sockets a child may ask the master to connect it to.
const (
	AuthSocketLogin  = "auth-login"  // auth-client protocol; login processes only
	AuthSocketUserdb = "auth-userdb" // auth-master protocol (USER, PASS); the lmtp process only
)

// AuthConnect asks the master for a new connection to one of auth's
// sockets. A login process is chrooted into an empty directory and cannot
// connect by path; the lmtp process gets a userdb connection made by the
// master (root), so that auth does not restrict it to its own uid. Socket
// empty means AuthSocketLogin. The master refuses a socket the role may not
// have.
type AuthConnect struct {
	Seq    uint64
	Socket string
}

func (*AuthConnect) Type() Type { return TypeAuthConnect }
func (m *AuthConnect) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.Socket)
}
func (m *AuthConnect) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Socket = d.String()
}

// AuthConnectReply answers AuthConnect. When OK, the attached descriptor
// is a connected stream socket to the auth socket asked for; a refusal
// carries /dev/null.
type AuthConnectReply struct {
	Seq    uint64
	OK     bool
	Reason string
}

func (*AuthConnectReply) Type() Type { return TypeAuthConnectReply }
func (m *AuthConnectReply) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.Bool(m.OK)
	e.String(m.Reason)
}
func (m *AuthConnectReply) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.OK = d.Bool()
	m.Reason = d.String()
}

// Conn describes the client connection being handed over.
type ConnInfo struct {
	Protocol   string // "imap", "pop3"
	LocalAddr  string // host:port
	RemoteAddr string // host:port
	SessionID  string
	Secured    bool // TLS, loopback or a trusted network
	TLS        bool // the client speaks TLS to the login process
	ClientID   string
}

func (c *ConnInfo) encode(e *Encoder) {
	e.String(c.Protocol)
	e.String(c.LocalAddr)
	e.String(c.RemoteAddr)
	e.String(c.SessionID)
	e.Bool(c.Secured)
	e.Bool(c.TLS)
	e.String(c.ClientID)
}

func (c *ConnInfo) decode(d *Decoder) {
	c.Protocol = d.String()
	c.LocalAddr = d.String()
	c.RemoteAddr = d.String()
	c.SessionID = d.String()
	c.Secured = d.Bool()
	c.TLS = d.Bool()
	c.ClientID = d.String()
}

// Handoff is sent login to master after auth answered OK. The attached
// descriptor is the client connection (for TLS clients, the worker's end
// of a socketpair the login process proxies). The login process is not
// trusted for the identity: the master redeems AuthPID, AuthID and Cookie
// with auth over the auth-master socket (REQUEST) and routes by what auth
// answers.
type Handoff struct {
	Seq     uint64
	AuthPID uint32 // SPID auth sent on the login's auth connection
	AuthID  uint32 // the AUTH request id
	Cookie  string // COOKIE auth sent on that connection, hex
	Conn    ConnInfo
	// Tag is the IMAP tag of the LOGIN/AUTHENTICATE command, which the
	// worker answers. Empty for POP3.
	Tag string
	// SendCapability asks the worker for an untagged CAPABILITY before the
	// tagged OK, for clients that did not see the post-login list.
	SendCapability bool
	// Leftover holds bytes the login process read from the client past the
	// end of the login command; the worker processes them first.
	Leftover []byte
}

func (*Handoff) Type() Type { return TypeHandoff }
func (m *Handoff) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.Uint(uint64(m.AuthPID))
	e.Uint(uint64(m.AuthID))
	e.String(m.Cookie)
	m.Conn.encode(e)
	e.String(m.Tag)
	e.Bool(m.SendCapability)
	e.Blob(m.Leftover)
}
func (m *Handoff) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.AuthPID = d.Uint32()
	m.AuthID = d.Uint32()
	m.Cookie = d.String()
	m.Conn.decode(d)
	m.Tag = d.String()
	m.SendCapability = d.Bool()
	m.Leftover = d.Blob(MaxLeftover)
}

// Handoff statuses.
const (
	HandoffOK       = 0
	HandoffInternal = 1 // temporary failure; the login tells the client
	HandoffRefused  = 2 // auth did not confirm the request
)

// HandoffReply answers Handoff, master to login. On HandoffOK the worker
// owns the client and has answered (or will answer) the login command; the
// login process closes its copy of a plaintext descriptor, or keeps
// proxying TLS. Otherwise the login process answers the client itself.
type HandoffReply struct {
	Seq       uint64
	Status    uint32
	WorkerPID uint32
	Reason    string
}

func (*HandoffReply) Type() Type { return TypeHandoffReply }
func (m *HandoffReply) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.Uint(uint64(m.Status))
	e.Uint(uint64(m.WorkerPID))
	e.String(m.Reason)
}
func (m *HandoffReply) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Status = d.Uint32()
	m.WorkerPID = d.Uint32()
	m.Reason = d.String()
}

// UserSession gives a worker a new client session, master to worker, with
// the client descriptor attached. User and Fields come from auth (the
// userdb reply to REQUEST), never from the login process.
type UserSession struct {
	Seq            uint64
	User           string
	Fields         []string // userdb fields, "key=value"
	AuthMech       string
	Conn           ConnInfo
	Tag            string
	SendCapability bool
	Leftover       []byte
	// Resume is set for a session coming back from imap-hibernate: the
	// state the worker exported (package imap); Tag and SendCapability
	// are then unused and Leftover is what the client sent meanwhile.
	Resume []byte
	// MailOf is set when User's mail is held by the worker of another
	// name (the master found the same uid, gid, home and mail location,
	// e.g. "jane" logging in while deliveries to "jane@example.com" keep
	// that worker running): the worker's own user, which the worker
	// checks. Empty when User is the worker's user.
	MailOf string
}

func (*UserSession) Type() Type { return TypeUserSession }
func (m *UserSession) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.User)
	e.Strings(m.Fields)
	e.String(m.AuthMech)
	m.Conn.encode(e)
	e.String(m.Tag)
	e.Bool(m.SendCapability)
	e.Blob(m.Leftover)
	e.Blob(m.Resume)
	e.String(m.MailOf)
}
func (m *UserSession) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.User = d.String()
	m.Fields = d.Strings(1024)
	m.AuthMech = d.String()
	m.Conn.decode(d)
	m.Tag = d.String()
	m.SendCapability = d.Bool()
	m.Leftover = d.Blob(MaxLeftover)
	m.Resume = d.Blob(MaxHibernateState)
	m.MailOf = d.String()
}

// WorkerIdle tells the master, worker to master, that the worker has had no
// session for its linger time and would exit. LastSeq is the last
// UserSession, Deliver, QuotaCheck or Admin it received; the master grants
// the exit (WorkerExit) only if it sent nothing since, and routes later
// work to a new worker.
//
// With Lingering set, the worker has just become idle (no session, no
// delivery or command under way) and starts its linger: it does not ask to
// exit yet, but the master may grant the exit at once (WorkerExit) to make
// room for another user's worker when process_limit is reached, under the
// same LastSeq rule.
type WorkerIdle struct {
	LastSeq   uint64
	Lingering bool
}

func (*WorkerIdle) Type() Type { return TypeWorkerIdle }
func (m *WorkerIdle) encode(e *Encoder) {
	e.Uint(m.LastSeq)
	e.Bool(m.Lingering)
}
func (m *WorkerIdle) decode(d *Decoder) { m.LastSeq, m.Lingering = d.Uint(), d.Bool() }

// WorkerExit grants a WorkerIdle: the worker closes its storage and exits.
type WorkerExit struct{}

func (*WorkerExit) Type() Type      { return TypeWorkerExit }
func (*WorkerExit) encode(*Encoder) {}
func (*WorkerExit) decode(*Decoder) {}

// Deliver hands one recipient's copy of a message, lmtp to master and
// master to worker, with the message attached as a sealed memfd (or an
// unlinked temp file) the receiver can only read. The lmtp process resolved
// the recipient with a userdb lookup; User and Fields are what auth
// answered. The master routes by User, like a session, and renumbers Seq
// for the worker; the DeliverReply travels back the same way.
type Deliver struct {
	Seq        uint64
	User       string
	Fields     []string // userdb fields
	MailFrom   string   // envelope sender, without <>
	RcptTo     string   // the recipient address as given in RCPT TO
	Detail     string   // the +detail part of the address, if any
	Mailbox    string   // mailbox to deliver to, "" for INBOX (lmtp_save_to_detail_mailbox)
	Size       uint64
	RemoteAddr string // the MTA's address
	SessionID  string
	// Shared says the transaction has other recipients too: as in
	// Dovecot, the stored copy then carries no Delivered-To, so that
	// one recipient's address does not show in another's copy and all
	// copies are the same message.
	Shared bool
}

func (*Deliver) Type() Type { return TypeDeliver }
func (m *Deliver) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.User)
	e.Strings(m.Fields)
	e.String(m.MailFrom)
	e.String(m.RcptTo)
	e.String(m.Detail)
	e.String(m.Mailbox)
	e.Uint(m.Size)
	e.String(m.RemoteAddr)
	e.String(m.SessionID)
	e.Bool(m.Shared)
}
func (m *Deliver) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.User = d.String()
	m.Fields = d.Strings(1024)
	m.MailFrom = d.String()
	m.RcptTo = d.String()
	m.Detail = d.String()
	m.Mailbox = d.String()
	m.Size = d.Uint()
	m.RemoteAddr = d.String()
	m.SessionID = d.String()
	m.Shared = d.Bool()
}

// DeliverReply answers Deliver with the LMTP reply for that recipient: Code
// 250 only once the copy is durable; 4xx for temporary failures (a worker
// that died, disk full), 5xx for permanent ones (over quota, rejected by
// Sieve).
type DeliverReply struct {
	Seq      uint64
	Code     uint32 // SMTP reply code
	Enhanced string // enhanced status code, e.g. "2.0.0"
	Message  string
}

func (*DeliverReply) Type() Type { return TypeDeliverReply }
func (m *DeliverReply) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.Uint(uint64(m.Code))
	e.String(m.Enhanced)
	e.String(m.Message)
}
func (m *DeliverReply) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Code = d.Uint32()
	m.Enhanced = d.String()
	m.Message = d.String()
}

// MaxAdminPayload bounds an admin request or reply body.
const MaxAdminPayload = 96 << 10

// Admin carries an admin command (coteadm through the master's admin
// socket) to the worker of the user it concerns, master to worker, so that
// mailbox changes never race the user's live sessions. Request is the
// JSON-encoded admin.Request; the master has checked the caller.
type Admin struct {
	Seq     uint64
	User    string
	Fields  []string // userdb fields
	Request []byte
}

func (*Admin) Type() Type { return TypeAdmin }
func (m *Admin) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.User)
	e.Strings(m.Fields)
	e.Blob(m.Request)
}
func (m *Admin) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.User = d.String()
	m.Fields = d.Strings(1024)
	m.Request = d.Blob(MaxAdminPayload)
}

// AdminReply answers Admin, worker to master, with the JSON-encoded
// admin.Response.
type AdminReply struct {
	Seq      uint64
	Response []byte
}

func (*AdminReply) Type() Type { return TypeAdminReply }
func (m *AdminReply) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.Blob(m.Response)
}
func (m *AdminReply) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Response = d.Blob(MaxAdminPayload)
}

// Metrics carries a child's metrics snapshot (package metrics, JSON) to
// the master, which serves the sum over all processes.
type Metrics struct {
	Snapshot []byte
}

func (*Metrics) Type() Type          { return TypeMetrics }
func (m *Metrics) encode(e *Encoder) { e.Blob(m.Snapshot) }
func (m *Metrics) decode(d *Decoder) { m.Snapshot = d.Blob(MaxPacket) }

// QuotaCheck asks, lmtp to master and master to worker, whether a message
// of Size bytes would fit in User's quota (lmtp_rcpt_check_quota: refuse
// at RCPT rather than after DATA). The master renumbers Seq for the worker,
// as for Deliver, and looks the user up in userdb itself.
type QuotaCheck struct {
	Seq    uint64
	User   string
	Fields []string // userdb fields, set by the master for the worker
	Size   uint64   // 0 when the client gave no SIZE
}

func (*QuotaCheck) Type() Type { return TypeQuotaCheck }
func (m *QuotaCheck) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.User)
	e.Strings(m.Fields)
	e.Uint(m.Size)
}
func (m *QuotaCheck) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.User = d.String()
	m.Fields = d.Strings(1024)
	m.Size = d.Uint()
}

// QuotaCheckReply answers QuotaCheck: Over when the message would exceed
// the quota, Temp when the check failed (the recipient is then accepted
// and quota applies when the copy is stored).
type QuotaCheckReply struct {
	Seq  uint64
	Over bool
	Temp bool
}

func (*QuotaCheckReply) Type() Type { return TypeQuotaCheckReply }
func (m *QuotaCheckReply) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.Bool(m.Over)
	e.Bool(m.Temp)
}
func (m *QuotaCheckReply) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Over = d.Bool()
	m.Temp = d.Bool()
}
