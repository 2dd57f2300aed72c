// Package proto is the one contract between cote's processes: the
// descriptor layout and environment every child is started with, the
// messages on the master<->child control channel, their versions and
// limits, and the line codec of Dovecot's auth protocols. docs/ipc.md
// describes the same in prose.
//
// The control channel is a Unix SOCK_SEQPACKET socketpair: one message per
// packet, descriptors attached as SCM_RIGHTS. Every packet starts with a
// two-byte header, the protocol version and the message type, followed by
// the message body (see codec.go). The first message in each direction is
// a Hello. A peer that sends an unknown or malformed message is dropped
// (the master kills such a child).
//
// This package links only the standard library and golang.org/x/sys.
package proto

// Version is the control-channel protocol version carried in every packet
// header and in Hello.
const Version = 4

// Limits of the control channel.
const (
	// MaxPacket is the largest control packet, header included.
	MaxPacket = 128 << 10
	// MaxFDs is the most descriptors one packet may carry.
	MaxFDs = 4
	// MaxLeftover is the most bytes a login process may forward that it
	// read from the client past the login command.
	MaxLeftover = 64 << 10
	// MaxString bounds every string field.
	MaxString = 16 << 10
	// MaxConfig bounds the size of a delivered configuration.
	MaxConfig = 64 << 20
)

// Descriptor layout of every child process (besides 0, 1 and 2: stdin is
// /dev/null, stdout and stderr are the log pipe the master reads).
const (
	// FDControl is the child's end of the control socketpair.
	FDControl = 3
	// FDMasterDead is the read end of a pipe whose write end only the
	// master holds: EOF on it means the master is gone.
	FDMasterDead = 4
	// FDListenFirst is the first of the role's listening sockets, in the
	// order EnvListeners names them.
	FDListenFirst = 5
)

// Environment of every child process.
const (
	// EnvRole names the role the child must run; it must match the
	// hidden subcommand.
	EnvRole = "COTE_ROLE"
	// EnvListeners lists the inherited listeners, comma-separated, each
	// "name" or "name:ssl" (implicit TLS), in descriptor order from
	// FDListenFirst.
	EnvListeners = "COTE_LISTENERS"
	// EnvSetUID, EnvSetGID, EnvSetGroups and EnvChroot ask a child that was
	// started as root to drop to these credentials before it reads
	// anything but its control channel (see package privsep). Groups are
	// comma-separated numbers.
	EnvSetUID    = "COTE_SETUID"
	EnvSetGID    = "COTE_SETGID"
	EnvSetGroups = "COTE_SETGROUPS"
	EnvChroot    = "COTE_CHROOT"
	// EnvLogFormat is "text" or "json", the format of log lines the
	// child writes to stderr for the master to collect.
	EnvLogFormat = "COTE_LOG_FORMAT"
	// EnvRlimitAS is the RLIMIT_AS (bytes) the child sets on itself
	// before it drops privileges: a limit the master set from outside
	// with prlimit could fail once the child runs as another uid.
	EnvRlimitAS = "COTE_RLIMIT_AS"
)

// WorkerTimerSlack is the kernel timer slack, in nanoseconds, of every
// thread of a worker (child/timerslack.go says why). The master
// starts a worker from a thread with this slack: a child inherits the
// slack of the thread that forks it and keeps it across execve, and each
// thread of the child inherits it from the thread that starts it. A
// worker that finds another slack sets it on all its threads itself.
const WorkerTimerSlack = 1_000_000

// Role names, used as hidden subcommands of the cote binary, in EnvRole,
// and in Hello.
const (
	RoleMaster     = "master"
	RoleAuth       = "auth"
	RoleIMAPLogin  = "imap-login"
	RolePOP3Login  = "pop3-login"
	RoleWorker     = "worker"
	RoleLMTP       = "lmtp"
	RoleSieveLogin = "managesieve-login"
	RoleHibernate  = "imap-hibernate"
)
