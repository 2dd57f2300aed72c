package itest

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSocketActivation starts the master as systemd does with a socket
// unit: the IMAP listening socket is inherited as descriptor 3 with
// LISTEN_PID and LISTEN_FDS set, and the master serves on it instead of
// binding its own.
func TestSocketActivation(t *testing.T) {
	s := startServer(t, serverOpts{})
	s.stop()
	l, err := net.Listen("tcp", s.addr("imap"))
	if err != nil {
		t.Fatalf("bind the socket to pass: %v", err)
	}
	f, err := l.(*net.TCPListener).File()
	must(t, err)
	l.Close()
	// LISTEN_PID must name the process that reads it: sh's exec keeps its
	// pid.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=imap exec "$0" -c "$1"`, binPath, s.conf)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	must(t, cmd.Start())
	f.Close()
	s.cmd, s.stopped = cmd, false
	s.waitListening("imap")
	c := login(t, s, "demo")
	c.Logout()
	if !strings.Contains(s.log.String(), "using socket-activated listener") {
		t.Errorf("the master did not use the inherited socket:\n%s", s.log.String())
	}
}
