package master

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// adoptActivated takes the listening sockets systemd passed under socket
// activation (LISTEN_PID, LISTEN_FDS; sd_listen_fds(3)) and files them
// under the keys bindService looks up, so that a configured listener with
// the same address uses the inherited socket instead of binding its own.
// It returns the keys adopted. Sockets that no listener claims are closed
// after the first plan, with a warning.
func (ls *listenerSet) adoptActivated() ([]string, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, nil
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if ls.byKey == nil {
		ls.byKey = map[string]*boundListener{}
	}
	var keys []string
	for fd := 3; fd < 3+n; fd++ {
		unix.CloseOnExec(fd)
		key, err := socketKey(fd)
		if err != nil {
			unix.Close(fd)
			return keys, fmt.Errorf("socket-activated descriptor %d: %w", fd, err)
		}
		f, err := inheritable(os.NewFile(uintptr(fd), key))
		if err != nil {
			return keys, fmt.Errorf("socket-activated descriptor %d: %w", fd, err)
		}
		ls.byKey[key] = &boundListener{key: key, file: f, activated: true}
		keys = append(keys, key)
	}
	return keys, nil
}

// socketKey names a listening socket the way bindService does.
func socketKey(fd int) (string, error) {
	if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc == 0 {
		return "", fmt.Errorf("not a listening socket")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return "tcp " + net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return "tcp " + net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrUnix:
		return "unix " + a.Name, nil
	}
	return "", fmt.Errorf("unsupported socket family")
}
