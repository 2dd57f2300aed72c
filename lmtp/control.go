package lmtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cote/proto"
)

// ErrControlClosed is what deliveries and auth connections fail with once
// the control channel to the master is gone.
var ErrControlClosed = errors.New("lmtp: control channel to master closed")

// authConnectTimeout bounds the master's answer to AuthConnect.
const authConnectTimeout = 10 * time.Second

// ControlDeliverer is the lmtp process's side of its control channel to
// the master. It is the channel's one reader (Run): it delivers through
// the master (proto.Deliver, answered by proto.DeliverReply with the same
// Seq), asks for auth-userdb connections (proto.AuthConnect), reports the
// process's load (proto.Status), and passes proto.Shutdown to a callback.
type ControlDeliverer struct {
	ctl        *proto.Conn
	log        *slog.Logger
	onShutdown func(now bool)

	seq atomic.Uint64

	mu      sync.Mutex // guards waiters, err and channels
	waiters map[uint64]chan ctlReply
	err     error         // set when Run returns
	broken  chan struct{} // closed when Run returns
	// channels are the delivery channels the master gave (channel.go),
	// by recipient name.
	channels map[string]*deliveryChannel

	status statusReporter
}

type ctlReply struct {
	msg   proto.Message
	files []*os.File
}

// NewControlDeliverer wraps the control channel. onShutdown (may be nil)
// is called from Run's goroutine for each proto.Shutdown; it must not
// block. Call Run in a goroutine before anything else.
func NewControlDeliverer(ctl *proto.Conn, log *slog.Logger, onShutdown func(now bool)) *ControlDeliverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &ControlDeliverer{
		ctl: ctl, log: log, onShutdown: onShutdown,
		waiters: make(map[uint64]chan ctlReply),
		broken:  make(chan struct{}),
	}
	c.status.kick = make(chan struct{}, 1)
	return c
}

// Run reads the control channel until it fails (the master closed it or
// sent something malformed) and returns that error; every pending and
// later call then fails with ErrControlClosed. It also sends the Status
// reports ReportClients asks for.
func (c *ControlDeliverer) Run() error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.status.run(c, stop)
	}()
	err := c.read()
	close(stop)
	wg.Wait()
	c.mu.Lock()
	c.err = err
	clear(c.waiters) // each waiter sees broken
	close(c.broken)
	c.mu.Unlock()
	return err
}

func (c *ControlDeliverer) read() error {
	for {
		m, files, err := c.ctl.Recv()
		if err != nil {
			return err
		}
		var seq uint64
		switch m := m.(type) {
		case *proto.DeliverReply:
			seq = m.Seq
		case *proto.QuotaCheckReply:
			seq = m.Seq
		case *proto.AuthConnectReply:
			seq = m.Seq
		case *proto.DeliverChannel:
			c.addChannel(m.User, files[0])
			continue
		case *proto.Shutdown:
			closeFiles(files)
			if c.onShutdown != nil {
				c.onShutdown(m.Now)
			}
			continue
		default:
			closeFiles(files)
			c.log.Warn("unexpected control message", "type", m.Type())
			continue
		}
		c.mu.Lock()
		ch := c.waiters[seq]
		delete(c.waiters, seq)
		if ch != nil {
			ch <- ctlReply{msg: m, files: files} // buffered: one reply per seq
		}
		c.mu.Unlock()
		if ch == nil {
			closeFiles(files)
			c.log.Warn("control reply for no pending request", "type", m.Type(), "seq", seq)
		}
	}
}

// call sends the message build makes for a fresh Seq and waits for the
// reply with that Seq. The caller owns the reply's files.
func (c *ControlDeliverer) call(ctx context.Context, build func(seq uint64) proto.Message, files ...*os.File) (ctlReply, error) {
	seq := c.seq.Add(1)
	ch := make(chan ctlReply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return ctlReply{}, ErrControlClosed
	}
	c.waiters[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, seq)
		c.mu.Unlock()
		// read delivers under mu: a reply that raced with our giving up
		// is in ch now.
		select {
		case r := <-ch:
			closeFiles(r.files)
		default:
		}
	}()
	m := build(seq)
	if err := c.ctl.Send(m, files...); err != nil {
		return ctlReply{}, fmt.Errorf("send %T: %w", m, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.broken:
		return ctlReply{}, ErrControlClosed
	case <-ctx.Done():
		return ctlReply{}, ctx.Err()
	}
}

// Deliver implements Deliverer: it sends d (with a Seq of its own) and
// msg to the master, which routes it to the worker of d.User, and waits
// for the DeliverReply.
func (c *ControlDeliverer) Deliver(ctx context.Context, d *proto.Deliver, msg *os.File) (*proto.DeliverReply, error) {
	if ch := c.channel(d.User); ch != nil {
		reply, err := ch.deliver(ctx, d, msg)
		if !errors.Is(err, errChannelGone) {
			return reply, err
		}
		c.dropChannel(d.User, ch) // unanswered: through the master
	}
	r, err := c.call(ctx, func(seq uint64) proto.Message {
		m := *d
		m.Seq = seq
		return &m
	}, msg)
	if err != nil {
		return nil, err
	}
	closeFiles(r.files)
	reply, ok := r.msg.(*proto.DeliverReply)
	if !ok {
		return nil, fmt.Errorf("master answered Deliver with message type %d", r.msg.Type())
	}
	return reply, nil
}

// CheckQuota asks the user's worker, through the master, whether a
// message of size bytes would go over the user's quota
// (lmtp_rcpt_check_quota). An error means the check could not be made.
func (c *ControlDeliverer) CheckQuota(ctx context.Context, user string, size int64) (over bool, err error) {
	r, err := c.call(ctx, func(seq uint64) proto.Message {
		return &proto.QuotaCheck{Seq: seq, User: user, Size: uint64(max(size, 0))}
	})
	if err != nil {
		return false, err
	}
	closeFiles(r.files)
	reply, ok := r.msg.(*proto.QuotaCheckReply)
	if !ok {
		return false, fmt.Errorf("master answered QuotaCheck with message type %d", r.msg.Type())
	}
	if reply.Temp {
		return false, errors.New("quota check failed")
	}
	return reply.Over, nil
}

// AuthConnect asks the master for a new connection to auth's userdb
// socket (proto.AuthSocketUserdb); it suits NewAuthUserdb.
func (c *ControlDeliverer) AuthConnect(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, authConnectTimeout)
	defer cancel()
	r, err := c.call(ctx, func(seq uint64) proto.Message {
		return &proto.AuthConnect{Seq: seq, Socket: proto.AuthSocketUserdb}
	})
	if err != nil {
		return nil, fmt.Errorf("auth connect: %w", err)
	}
	reply, ok := r.msg.(*proto.AuthConnectReply)
	if !ok {
		closeFiles(r.files)
		return nil, fmt.Errorf("auth connect: master answered with message type %d", r.msg.Type())
	}
	if !reply.OK || len(r.files) != 1 {
		closeFiles(r.files)
		return nil, fmt.Errorf("auth connect: refused by master: %s", reply.Reason)
	}
	conn, err := net.FileConn(r.files[0])
	r.files[0].Close()
	if err != nil {
		return nil, fmt.Errorf("auth connect: %w", err)
	}
	return conn, nil
}

// ReportClients records the number of connections for the master; Run
// sends a proto.Status with it (coalesced). Suits Server.OnClients.
func (c *ControlDeliverer) ReportClients(n, limit int) {
	c.status.set(n, limit)
}

// statusReporter coalesces Status reports.
type statusReporter struct {
	mu       sync.Mutex // guards n and limit
	n, limit int
	kick     chan struct{}
}

func (r *statusReporter) set(n, limit int) {
	r.mu.Lock()
	r.n, r.limit = n, limit
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *statusReporter) run(c *ControlDeliverer, stop <-chan struct{}) {
	last := proto.Status{Clients: ^uint32(0)}
	for {
		select {
		case <-stop:
			return
		case <-r.kick:
		}
		r.mu.Lock()
		m := proto.Status{Clients: uint32(r.n), Available: uint32(max(r.limit-r.n, 0))}
		if r.limit <= 0 {
			m.Available = 1
		}
		r.mu.Unlock()
		if m == last {
			continue
		}
		last = m
		if err := c.ctl.Send(&m); err != nil {
			c.log.Warn("send status", "err", err)
		}
	}
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
