package worker

import (
	"context"
	"fmt"
	"os"
	"time"

	"cote/proto"
)

// channelDelivery is a delivery that came over a delivery channel, with
// the user and fields of the channel put in.
type channelDelivery struct {
	d   *proto.Deliver
	msg *os.File
	ch  *proto.Conn // where the DeliverReply goes
}

// readChannel serves a delivery channel (proto.DeliverChannel) the
// master made for the lmtp process: it passes each Deliver on to the
// worker's loop through direct, with the user and fields the master
// gave, until the lmtp process closes the channel or sends anything
// else. Once ctx is done (the worker ends) it takes nothing more: a
// delivery it did not pass on gets no reply, and the lmtp process sends
// it through the master again.
func (w *Worker) readChannel(ctx context.Context, m *proto.DeliverChannel, f *os.File, direct chan<- channelDelivery) error {
	w.mu.Lock()
	user := w.user
	w.mu.Unlock()
	if user != "" && m.User != user {
		f.Close()
		return fmt.Errorf("channel for %q in the worker of %q", m.User, user)
	}
	ch, err := proto.ConnFromFile(f)
	if err != nil {
		return err
	}
	go func() {
		// The worker's end stays open once ctx is done: the deliveries
		// it took answer over it before the worker exits, which closes
		// it. Reading stops at once.
		stop := context.AfterFunc(ctx, func() { ch.UnixConn().SetReadDeadline(time.Now()) })
		defer stop()
		for {
			msg, files, err := ch.Recv()
			if err != nil {
				if ctx.Err() == nil {
					ch.Close() // the lmtp process closed its end
				}
				return
			}
			d, ok := msg.(*proto.Deliver)
			if !ok {
				for _, f := range files {
					f.Close()
				}
				w.o.Log.Warn("delivery channel: unexpected message", "type", msg.Type())
				ch.Close()
				return
			}
			d.User, d.Fields = m.User, m.Fields
			select {
			case direct <- channelDelivery{d: d, msg: files[0], ch: ch}:
			case <-ctx.Done():
				files[0].Close() // not answered: sent again through the master
				return
			}
		}
	}()
	return nil
}
