package proto

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Conn is one end of a control channel.
type Conn struct {
	c  *net.UnixConn
	rc syscall.RawConn // c's, for read; nil if it has none

	rmu sync.Mutex // serializes Recv

	hmu      sync.Mutex // guards handlers
	handlers map[Type]func(Message, []*os.File)
}

// Handle has Recv pass messages of type t to fn instead of returning
// them, for messages every role answers the same way (Profile), so that
// no role's own loop needs to know them. fn runs on the goroutine calling
// Recv and owns the files; it must not block. A nil fn removes the
// handler.
func (c *Conn) Handle(t Type, fn func(Message, []*os.File)) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if fn == nil {
		delete(c.handlers, t)
		return
	}
	if c.handlers == nil {
		c.handlers = map[Type]func(Message, []*os.File){}
	}
	c.handlers[t] = fn
}

func (c *Conn) handler(t Type) func(Message, []*os.File) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.handlers[t]
}

// NewConn wraps a connected SOCK_SEQPACKET Unix socket.
func NewConn(c *net.UnixConn) *Conn {
	rc, err := c.SyscallConn()
	if err != nil {
		rc = nil // read fails
	}
	return &Conn{c: c, rc: rc}
}

// recvBuf is the room one read takes: a whole packet and one byte more,
// to tell a packet over MaxPacket, and the descriptors' control message.
type recvBuf struct {
	pkt [MaxPacket + 1]byte
	oob []byte
}

// recvBufs holds the receive buffers: a read copies its packet out, so
// a buffer is needed only while a read runs, not for each channel. The
// master and the lmtp process hold a channel to every worker; a buffer
// each was 128 KB of heap per worker in both, allocated and zeroed at
// each worker's start. A channel's reader waits for its next packet
// without one (read).
var recvBufs = sync.Pool{New: func() any {
	return &recvBuf{oob: make([]byte, unix.CmsgSpace(MaxFDs*4))}
}}

// FileConn makes a Conn of an inherited descriptor, checking that it is a
// SOCK_SEQPACKET socket. It takes ownership of fd.
func FileConn(fd int, name string) (*Conn, error) {
	return ConnFromFile(os.NewFile(uintptr(fd), name))
}

// ConnFromFile makes a Conn of a SOCK_SEQPACKET socket file, such as the
// child end of Pair, and closes f.
func ConnFromFile(f *os.File) (*Conn, error) {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(d uintptr) { fd = int(d) })
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("control descriptor %d: %w", fd, err)
	}
	if typ != unix.SOCK_SEQPACKET {
		f.Close()
		return nil, fmt.Errorf("control descriptor %d is not a SOCK_SEQPACKET socket", fd)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("control descriptor %d: %w", fd, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("control descriptor %d is not a Unix socket", fd)
	}
	return NewConn(uc), nil
}

// Pair makes a control socketpair: a Conn for the parent and a file for
// the child to inherit as FDControl. Both ends are close-on-exec; exec.Cmd
// clears that on what it passes.
func Pair() (*Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	pf := os.NewFile(uintptr(fds[0]), "control")
	cf := os.NewFile(uintptr(fds[1]), "control-child")
	c, err := net.FileConn(pf)
	pf.Close()
	if err != nil {
		cf.Close()
		return nil, nil, err
	}
	return NewConn(c.(*net.UnixConn)), cf, nil
}

// Close closes the channel.
func (c *Conn) Close() error { return c.c.Close() }

// UnixConn returns the underlying socket, for deadlines and peer checks.
func (c *Conn) UnixConn() *net.UnixConn { return c.c }

// Send writes one message with the descriptors its type carries. The
// caller keeps ownership of files.
func (c *Conn) Send(m Message, files ...*os.File) error {
	if len(files) != fdCount(m.Type()) {
		return fmt.Errorf("proto: message type %d carries %d descriptors, got %d", m.Type(), fdCount(m.Type()), len(files))
	}
	e := &Encoder{buf: []byte{Version, byte(m.Type())}}
	m.encode(e)
	if len(e.buf) > MaxPacket {
		return fmt.Errorf("proto: message type %d of %d bytes exceeds %d", m.Type(), len(e.buf), MaxPacket)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			// Not f.Fd(): it would switch a non-blocking socket, and so
			// every process sharing it, to blocking mode.
			rc, err := f.SyscallConn()
			if err != nil {
				return fmt.Errorf("proto: descriptor %s: %w", f.Name(), err)
			}
			rc.Control(func(fd uintptr) { fds[i] = int(fd) })
		}
		oob = unix.UnixRights(fds...)
	}
	n, oobn, err := c.c.WriteMsgUnix(e.buf, oob, nil)
	if err != nil {
		return err
	}
	if n != len(e.buf) || oobn != len(oob) {
		return errors.New("proto: short write")
	}
	return nil
}

// Recv reads one message. Any descriptors received are returned as files
// the caller owns; on error every received descriptor has been closed.
// Messages of a type given to Handle go to their handler and Recv reads
// on.
func (c *Conn) Recv() (Message, []*os.File, error) {
	for {
		m, files, err := c.recv()
		if err != nil {
			return nil, nil, err
		}
		if h := c.handler(m.Type()); h != nil {
			h(m, files)
			continue
		}
		return m, files, nil
	}
}

func (c *Conn) recv() (Message, []*os.File, error) {
	c.rmu.Lock()
	pkt, files, flags, perr, err := c.read()
	c.rmu.Unlock()
	n := len(pkt)
	fail := func(err error) (Message, []*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	if err != nil {
		return fail(err)
	}
	if perr != nil {
		return fail(perr)
	}
	if n == 0 {
		return fail(errEOF)
	}
	if flags&unix.MSG_TRUNC != 0 || n > MaxPacket {
		return fail(fmt.Errorf("%w: packet over %d bytes", ErrMalformed, MaxPacket))
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return fail(fmt.Errorf("%w: descriptors truncated", ErrMalformed))
	}
	m, err := Decode(pkt, len(files))
	if err != nil {
		return fail(err)
	}
	return m, files, nil
}

// read waits until a packet is there, then takes a buffer of recvBufs,
// reads the packet and its descriptors and copies the packet out. A
// channel's reader spends its life waiting (the master's and the lmtp
// process's on each worker's channel): a buffer taken before the wait
// was 128 KB held per channel, 51 MB of the master's heap with 400
// workers running. perr is the error of the descriptors' parse.
func (c *Conn) read() (pkt []byte, files []*os.File, flags int, perr, err error) {
	if c.rc == nil {
		return nil, nil, 0, nil, errors.New("proto: channel without a descriptor to read")
	}
	var rerr error
	err = c.rc.Read(func(fd uintptr) bool {
		b := recvBufs.Get().(*recvBuf)
		defer recvBufs.Put(b)
		var n, oobn int
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), b.pkt[:], b.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			return false // wait for the socket to be readable
		}
		if oobn > 0 {
			files, perr = parseRights(b.oob[:oobn])
		}
		if rerr == nil {
			pkt = append(pkt, b.pkt[:n]...)
		}
		return true
	})
	if err == nil && rerr != nil {
		err = &net.OpError{Op: "read", Net: "unixpacket", Err: os.NewSyscallError("recvmsg", rerr)}
	}
	return pkt, files, flags, perr, err
}

var errEOF = fmt.Errorf("proto: channel closed: %w", os.ErrClosed)

// IsClosed reports whether err means the peer closed the channel.
func IsClosed(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET)
}

func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrMalformed, err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("%w: rights: %v", ErrMalformed, err)
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	if len(files) > MaxFDs {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("%w: %d descriptors", ErrMalformed, len(files))
	}
	return files, nil
}

// Decode parses one packet that arrived with nfds descriptors.
func Decode(pkt []byte, nfds int) (Message, error) {
	if len(pkt) < 2 {
		return nil, fmt.Errorf("%w: short packet", ErrMalformed)
	}
	if pkt[0] != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, pkt[0], Version)
	}
	m, err := newMessage(Type(pkt[1]))
	if err != nil {
		return nil, err
	}
	if nfds != fdCount(m.Type()) {
		return nil, fmt.Errorf("%w: message type %d with %d descriptors", ErrMalformed, m.Type(), nfds)
	}
	d := NewDecoder(pkt[2:])
	m.decode(d)
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// Encode returns the packet for m, for tests and fuzzing.
func Encode(m Message) []byte {
	e := &Encoder{buf: []byte{Version, byte(m.Type())}}
	m.encode(e)
	return e.buf
}
