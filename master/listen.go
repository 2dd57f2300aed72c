package master

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"cote/config"
)

// boundListener is a socket the master bound. Listeners survive reloads:
// the same address keeps the same socket.
type boundListener struct {
	key       string // "tcp ADDR" or "unix PATH"
	name      string // listener name in the service
	ssl       bool
	file      *os.File
	activated bool // passed by systemd: never unlinked or rebound
}

// listenerSet binds what a configuration asks for, reusing sockets of the
// previous generation.
type listenerSet struct {
	byKey map[string]*boundListener
}

func (ls *listenerSet) bindService(s *config.Settings, svc *config.Service, ids *idResolver) ([]*boundListener, error) {
	var out []*boundListener
	used := map[string]bool{}
	for _, il := range svc.InetListeners {
		if il.Port == 0 {
			continue
		}
		addrs := splitList(il.Address)
		if len(addrs) == 0 {
			addrs = s.Listen
		}
		for _, a := range addrs {
			host := a
			switch a {
			case "*":
				host = "0.0.0.0"
			case "::", "[::]":
				host = "::"
			}
			addr := net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(il.Port))
			key := "tcp " + addr
			if used[key] {
				continue
			}
			used[key] = true
			b, err := ls.bind(key, func() (*os.File, error) {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					return nil, err
				}
				defer l.Close()
				return l.(*net.TCPListener).File()
			})
			if err != nil {
				return nil, fmt.Errorf("service %s: inet_listener %s: %w", svc.Name, il.Name, err)
			}
			b.name, b.ssl = il.Name, il.SSL
			out = append(out, b)
		}
	}
	for _, ul := range svc.UnixListeners {
		if ul.Mode == 0 {
			continue
		}
		path := ul.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.BaseDir, path)
		}
		uid, gid := -1, -1
		if ul.User != "" {
			u, err := ids.user(ul.User)
			if err != nil {
				return nil, fmt.Errorf("service %s: unix_listener %s: %w", svc.Name, ul.Path, err)
			}
			uid, gid = u.uid, u.gid
		}
		if ul.Group != "" {
			g, err := ids.group(ul.Group)
			if err != nil {
				return nil, fmt.Errorf("service %s: unix_listener %s: %w", svc.Name, ul.Path, err)
			}
			gid = g
		}
		b, err := ls.bind("unix "+path, func() (*os.File, error) {
			os.Remove(path)
			l, err := net.Listen("unix", path)
			if err != nil {
				return nil, err
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			defer l.Close()
			return l.(*net.UnixListener).File()
		})
		if err != nil {
			return nil, fmt.Errorf("service %s: unix_listener %s: %w", svc.Name, ul.Path, err)
		}
		// Mode and owner follow the config on every load (systemd's
		// SocketMode/SocketUser rule for activated sockets).
		if b.activated {
			b.name = filepath.Base(ul.Path)
			out = append(out, b)
			continue
		}
		if err := os.Chmod(path, os.FileMode(ul.Mode)); err != nil {
			return nil, err
		}
		if (uid >= 0 || gid >= 0) && os.Getuid() == 0 {
			if err := os.Chown(path, uid, gid); err != nil {
				return nil, err
			}
		}
		b.name = filepath.Base(ul.Path)
		out = append(out, b)
	}
	return out, nil
}

func (ls *listenerSet) bind(key string, open func() (*os.File, error)) (*boundListener, error) {
	if ls.byKey == nil {
		ls.byKey = map[string]*boundListener{}
	}
	if b, ok := ls.byKey[key]; ok {
		return b, nil
	}
	f, err := open()
	if err != nil {
		return nil, err
	}
	if f, err = inheritable(f); err != nil {
		return nil, err
	}
	b := &boundListener{key: key, file: f}
	ls.byKey[key] = b
	return b, nil
}

// retain closes every listener not in keep.
func (ls *listenerSet) retain(keep map[string]bool) {
	for k, b := range ls.byKey {
		if !keep[k] {
			b.file.Close()
			if p, ok := strings.CutPrefix(k, "unix "); ok && !b.activated {
				os.Remove(p)
			}
			delete(ls.byKey, k)
		}
	}
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// inheritable returns a copy of a listening socket that exec can pass
// without side effects. exec takes each file's Fd(), and for a file that
// os knows as non-blocking Fd() switches the socket to blocking mode: the
// mode belongs to the open file description that every login process
// shares, so a spawn would leave the other processes' accept(2) calls
// blocking in the kernel, deaf to Close. A file wrapped while blocking is
// left alone by Fd(); each child makes its own copy non-blocking.
func inheritable(f *os.File) (*os.File, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup int
	var derr error
	if err := rc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	if err := unix.SetNonblock(dup, false); err != nil {
		unix.Close(dup)
		return nil, err
	}
	return os.NewFile(uintptr(dup), f.Name()), nil
}
