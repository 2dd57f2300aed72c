// Package masterclient is the client side of Dovecot's auth-master
// protocol (src/lib-auth/auth-master.c), used by the cote master to redeem
// a login (REQUEST) and by delivery to look up users (USER). It does not
// link the auth server.
package masterclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"cote/proto"
)

var (
	// ErrRefused: the auth service does not confirm the login (unknown
	// client pid, wrong cookie, unknown, failed, expired or already
	// redeemed request, or no such user in the userdb).
	ErrRefused = errors.New("masterclient: login refused by auth")
	// ErrNotFound: USER found no such user.
	ErrNotFound = errors.New("masterclient: user not found")
	// ErrTemporary: the auth service failed (FAIL); try again later.
	ErrTemporary = errors.New("masterclient: temporary auth failure")
	// ErrClosed: the connection is gone.
	ErrClosed = errors.New("masterclient: connection closed")
)

// reply is one answer line, split.
type reply struct {
	fields []string
	err    error
}

// Client is an auth-master connection. It is safe for concurrent use;
// requests are multiplexed by id.
type Client struct {
	c   net.Conn
	wmu sync.Mutex // serializes writes

	mu      sync.Mutex // guards the fields below
	nextID  uint32
	pending map[uint32]chan reply
	err     error // set once the reader stops

	done chan struct{}
}

// Dial connects to the auth-master socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial auth master %s: %w", path, err)
	}
	return New(c), nil
}

// New starts a client on an open connection and sends the handshake.
func New(c net.Conn) *Client {
	cl := &Client{c: c, pending: map[uint32]chan reply{}, done: make(chan struct{})}
	go cl.read()
	cl.send(proto.AuthLine("VERSION", "1", "1"))
	return cl
}

// Close closes the connection; pending calls fail with ErrClosed.
func (cl *Client) Close() error {
	err := cl.c.Close()
	<-cl.done
	return err
}

func (cl *Client) send(line string) error {
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	_, err := io.WriteString(cl.c, line)
	return err
}

// read dispatches reply lines by id until the connection ends.
func (cl *Client) read() {
	defer close(cl.done)
	r := bufio.NewReaderSize(cl.c, proto.MaxAuthLine+1)
	err := func() error {
		handshake := true
		for {
			b, err := r.ReadSlice('\n')
			if err != nil {
				return err
			}
			f, err := proto.ParseAuthLine(string(b[:len(b)-1]))
			if err != nil {
				return err
			}
			switch {
			case f[0] == "VERSION":
				if len(f) < 2 || f[1] != "1" {
					return errors.New("masterclient: unsupported auth-master version")
				}
				handshake = false
				continue
			case f[0] == "SPID" || handshake:
				continue
			case len(f) < 2:
				return fmt.Errorf("masterclient: short reply %q", f[0])
			}
			id, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return fmt.Errorf("masterclient: bad reply id")
			}
			cl.mu.Lock()
			ch := cl.pending[uint32(id)]
			cl.mu.Unlock()
			if ch != nil {
				select {
				case ch <- reply{fields: f}:
				default: // a duplicate reply for the id; the first one counts
				}
			}
		}
	}()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	}
	cl.mu.Lock()
	cl.err = err
	for id, ch := range cl.pending {
		select {
		case ch <- reply{err: err}:
		default:
		}
		delete(cl.pending, id)
	}
	cl.mu.Unlock()
}

// call sends a command with a fresh id and waits for its final reply;
// more (for LIST) would receive intermediate lines.
func (cl *Client) call(ctx context.Context, cmd string, args ...string) ([]string, error) {
	ch := make(chan reply, 1)
	cl.mu.Lock()
	if cl.err != nil {
		cl.mu.Unlock()
		return nil, cl.err
	}
	cl.nextID++
	if cl.nextID == 0 {
		cl.nextID++
	}
	id := cl.nextID
	cl.pending[id] = ch
	cl.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		delete(cl.pending, id)
		cl.mu.Unlock()
	}()
	if err := cl.send(proto.AuthLine(append([]string{cmd, strconv.FormatUint(uint64(id), 10)}, args...)...)); err != nil {
		return nil, fmt.Errorf("masterclient: send %s: %w", cmd, err)
	}
	select {
	case r := <-ch:
		return r.fields, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// userReply reads USER id user fields... / NOTFOUND id / FAIL id.
func userReply(f []string, notFound error) (string, []string, error) {
	switch f[0] {
	case "USER":
		if len(f) < 3 {
			return "", nil, errors.New("masterclient: USER reply without a user")
		}
		return f[2], f[3:], nil
	case "NOTFOUND":
		return "", nil, notFound
	case "FAIL":
		if reason, ok := proto.AuthParams(f[2:])["reason"]; ok && reason != "" {
			return "", nil, fmt.Errorf("%w: %s", ErrTemporary, reason)
		}
		return "", nil, ErrTemporary
	}
	return "", nil, fmt.Errorf("masterclient: unexpected reply %q", f[0])
}

// Request redeems a login: it asks auth to confirm request authID of the
// login process clientPID with the connection cookie that process got,
// and returns the user and its userdb fields (uid=, gid=, home=, mail=,
// ..., auth_mech=). A login that auth does not confirm is ErrRefused; a
// failure of auth itself wraps ErrTemporary.
func (cl *Client) Request(ctx context.Context, clientPID, authID uint32, cookie string) (string, []string, error) {
	f, err := cl.call(ctx, "REQUEST", strconv.FormatUint(uint64(clientPID), 10), strconv.FormatUint(uint64(authID), 10), cookie)
	if err != nil {
		return "", nil, err
	}
	return userReply(f, ErrRefused)
}

// User looks a user up in the userdbs for service; ErrNotFound when
// unknown.
func (cl *Client) User(ctx context.Context, user, service string) (string, []string, error) {
	if strings.ContainsAny(service, "\t\n") {
		return "", nil, errors.New("masterclient: bad service name")
	}
	f, err := cl.call(ctx, "USER", user, "service="+service)
	if err != nil {
		return "", nil, err
	}
	return userReply(f, ErrNotFound)
}
