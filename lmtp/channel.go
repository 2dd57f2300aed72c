package lmtp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"cote/proto"
)

// errChannelGone is a delivery channel's error when the worker closed
// its end (it exited) before it answered: it did not make the delivery,
// which goes through the master again.
var errChannelGone = errors.New("lmtp: delivery channel closed")

// deliveryChannel is the lmtp process's end of a delivery channel
// (proto.DeliverChannel) to the worker that holds one recipient's mail.
// Deliveries on it are numbered by the channel; its reader passes each
// DeliverReply to the call waiting for it.
type deliveryChannel struct {
	conn *proto.Conn

	mu      sync.Mutex // guards seq, waiters and gone
	seq     uint64
	waiters map[uint64]chan *proto.DeliverReply
	gone    bool
}

// addChannel takes the channel the master gave for deliveries to name; a
// second one for a name that has one (deliveries that crossed) is closed.
func (c *ControlDeliverer) addChannel(name string, f *os.File) {
	conn, err := proto.ConnFromFile(f)
	if err != nil {
		c.log.Warn("delivery channel", "err", err)
		return
	}
	ch := &deliveryChannel{conn: conn, waiters: make(map[uint64]chan *proto.DeliverReply)}
	c.mu.Lock()
	if c.channels == nil {
		c.channels = make(map[string]*deliveryChannel)
	}
	if old := c.channels[name]; old != nil && !old.closed() || c.err != nil {
		c.mu.Unlock()
		conn.Close()
		return
	}
	c.channels[name] = ch
	c.mu.Unlock()
	go ch.read()
}

// channel is the delivery channel for name, or nil.
func (c *ControlDeliverer) channel(name string) *deliveryChannel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.channels[name]
}

// dropChannel forgets name's channel ch (closed by its worker).
func (c *ControlDeliverer) dropChannel(name string, ch *deliveryChannel) {
	c.mu.Lock()
	if c.channels[name] == ch {
		delete(c.channels, name)
	}
	c.mu.Unlock()
	ch.conn.Close()
}

func (ch *deliveryChannel) closed() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.gone
}

// read passes replies to their callers until the worker closes the
// channel; the calls still waiting then get errChannelGone.
func (ch *deliveryChannel) read() {
	for {
		m, files, err := ch.conn.Recv()
		closeFiles(files)
		if err != nil {
			break
		}
		r, ok := m.(*proto.DeliverReply)
		if !ok {
			break // the worker sends nothing else
		}
		ch.mu.Lock()
		w := ch.waiters[r.Seq]
		delete(ch.waiters, r.Seq)
		ch.mu.Unlock()
		if w != nil {
			w <- r // buffered: one reply per Seq
		}
	}
	ch.mu.Lock()
	ch.gone = true
	for seq, w := range ch.waiters {
		delete(ch.waiters, seq)
		close(w)
	}
	ch.mu.Unlock()
	ch.conn.Close()
}

// deliver sends d and msg over the channel and waits for the worker's
// reply. errChannelGone means the worker did not make the delivery.
func (ch *deliveryChannel) deliver(ctx context.Context, d *proto.Deliver, msg *os.File) (*proto.DeliverReply, error) {
	w := make(chan *proto.DeliverReply, 1)
	ch.mu.Lock()
	if ch.gone {
		ch.mu.Unlock()
		return nil, errChannelGone
	}
	ch.seq++
	seq := ch.seq
	ch.waiters[seq] = w
	ch.mu.Unlock()
	m := *d
	m.Seq = seq
	if err := ch.conn.Send(&m, msg); err != nil {
		ch.mu.Lock()
		delete(ch.waiters, seq)
		ch.mu.Unlock()
		// A send that failed was not read: the worker's end is gone.
		return nil, fmt.Errorf("%w: %w", errChannelGone, err)
	}
	select {
	case r, ok := <-w:
		if !ok {
			return nil, errChannelGone
		}
		reply := *r
		reply.Seq = d.Seq
		return &reply, nil
	case <-ctx.Done():
		ch.mu.Lock()
		delete(ch.waiters, seq)
		ch.mu.Unlock()
		return nil, ctx.Err()
	}
}
