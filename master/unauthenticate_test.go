package master

import (
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// The master finds the login process that made a TLS proxy's socketpair
// by the socket's peer credentials, and nothing else: a socketpair made
// by another process, or a TCP socket, is not a proxy end.
func TestProxyOwner(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	end := os.NewFile(uintptr(fds[0]), "pair")
	defer end.Close()
	unix.Close(fds[1])
	login := &proc{role: proto.RoleIMAPLogin, pid: os.Getpid()}
	m := &Master{procs: map[int]*proc{os.Getpid(): login}}
	if got := m.proxyOwner(end, proto.RoleIMAPLogin); got != login {
		t.Errorf("proxyOwner(socketpair made by pid %d) = %v, want the imap-login process", os.Getpid(), got)
	}
	if got := m.proxyOwner(end, proto.RoleSieveLogin); got != nil {
		t.Errorf("proxyOwner for another role = %v, want nil", got)
	}
	m.procs = map[int]*proc{os.Getpid(): {role: proto.RoleWorker, pid: os.Getpid()}}
	if got := m.proxyOwner(end, proto.RoleIMAPLogin); got != nil {
		t.Errorf("proxyOwner(socketpair made by a worker) = %v, want nil", got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.procs = map[int]*proc{os.Getpid(): login}
	if got := m.proxyOwner(f, proto.RoleIMAPLogin); got != nil {
		t.Errorf("proxyOwner(TCP socket) = %v, want nil", got)
	}
}

// A plaintext session goes to a login process of the role that takes
// clients: of this generation, not stopping, the least loaded.
func TestLoginFor(t *testing.T) {
	busy := &proc{role: proto.RoleIMAPLogin, pid: 1, gen: 2, status: proto.Status{Available: 1}}
	free := &proc{role: proto.RoleIMAPLogin, pid: 2, gen: 2, status: proto.Status{Available: 900}}
	old := &proc{role: proto.RoleIMAPLogin, pid: 3, gen: 1, status: proto.Status{Available: 1000}}
	stopping := &proc{role: proto.RoleIMAPLogin, pid: 4, gen: 2, shutdown: true, status: proto.Status{Available: 1000}}
	sieve := &proc{role: proto.RoleSieveLogin, pid: 5, gen: 2, status: proto.Status{Available: 1000}}
	m := &Master{gen: 2, procs: map[int]*proc{1: busy, 2: free, 3: old, 4: stopping, 5: sieve}}
	if got := m.loginFor(proto.RoleIMAPLogin); got != free {
		t.Errorf("loginFor(imap-login) = %+v, want pid 2", got)
	}
	if got := m.loginFor(proto.RolePOP3Login); got != nil {
		t.Errorf("loginFor(pop3-login) = %+v, want nil", got)
	}
	if unauthRole("pop3") != "" || unauthRole("imap") != proto.RoleIMAPLogin || unauthRole("sieve") != proto.RoleSieveLogin {
		t.Errorf("unauthRole maps wrongly")
	}
}
