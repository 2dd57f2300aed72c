package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cote/proto"
)

// control multiplexes the control channel to the master: requests carry a
// sequence number and the one reader goroutine (run) hands each reply to
// the caller waiting for that number.
type control struct {
	conn       *proto.Conn
	log        *slog.Logger
	onShutdown func(now bool)
	// onUnauth takes a session a worker gave back (UNAUTHENTICATE)
	// and owns its descriptor.
	onUnauth func(m *proto.Unauthenticate, f *os.File)

	seq atomic.Uint64

	mu      sync.Mutex // guards waiters
	waiters map[uint64]chan ctlReply
}

type ctlReply struct {
	msg   proto.Message
	files []*os.File
}

func newControl(conn *proto.Conn, log *slog.Logger, onShutdown func(bool)) *control {
	return &control{conn: conn, log: log, onShutdown: onShutdown, waiters: make(map[uint64]chan ctlReply)}
}

// errControlTimeout reports that the master did not answer in time.
var errControlTimeout = errors.New("login: no answer from master")

// call sends the message build makes for a fresh sequence number, with
// files, and waits for the reply with that number. The caller owns the
// files of the reply.
func (c *control) call(ctx context.Context, timeout time.Duration, build func(seq uint64) proto.Message, files ...*os.File) (ctlReply, error) {
	seq := c.seq.Add(1)
	ch := make(chan ctlReply, 1)
	c.mu.Lock()
	c.waiters[seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, seq)
		c.mu.Unlock()
		// run delivers under mu, so a reply that raced with our giving up
		// is in ch by now; close its descriptors.
		select {
		case r := <-ch:
			closeFiles(r.files)
		default:
		}
	}()
	m := build(seq)
	if err := c.conn.Send(m, files...); err != nil {
		return ctlReply{}, fmt.Errorf("send %T: %w", m, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return ctlReply{}, ctx.Err()
	case <-t.C:
		return ctlReply{}, errControlTimeout
	}
}

// run reads the control channel until it fails, dispatching replies and
// Shutdown. It returns the read error.
func (c *control) run() error {
	for {
		m, files, err := c.conn.Recv()
		if err != nil {
			return err
		}
		var seq uint64
		switch m := m.(type) {
		case *proto.AuthConnectReply:
			seq = m.Seq
		case *proto.HandoffReply:
			seq = m.Seq
		case *proto.Shutdown:
			closeFiles(files)
			c.onShutdown(m.Now)
			continue
		case *proto.Unauthenticate:
			if c.onUnauth == nil {
				closeFiles(files)
				c.log.Warn("session given back, but this process takes none")
				continue
			}
			c.onUnauth(m, files[0])
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
			// The caller gave up (timeout); nobody owns the reply.
			closeFiles(files)
			c.log.Warn("control reply for no pending request", "type", m.Type(), "seq", seq)
		}
	}
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
