package proto

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRecvSharedBuffers has many channels read at once, with packets
// from a few bytes to MaxPacket, so that reads share the pooled receive
// buffers: each message must arrive whole and as sent, and a packet over
// MaxPacket is refused without spoiling the next read.
func TestRecvSharedBuffers(t *testing.T) {
	const chans, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*chans)
	for c := range chans {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := FileConn(fds[1], "b")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer unix.Close(fds[0])
			for i := range each {
				m := &Metrics{Snapshot: payload(c, i)}
				if err := unix.Sendmsg(fds[0], Encode(m), nil, nil, 0); err != nil {
					errs <- err
					return
				}
				if i == each/2 {
					// One byte over the limit, as a peer that ignores it.
					over := append([]byte{Version, byte(TypeMetrics)}, make([]byte, MaxPacket-1)...)
					if err := unix.Sendmsg(fds[0], over, nil, nil, 0); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
		go func() {
			defer wg.Done()
			defer b.Close()
			for i := range each {
				m, _, err := b.Recv()
				if err != nil {
					errs <- fmt.Errorf("channel %d message %d: %v", c, i, err)
					return
				}
				if got, want := m.(*Metrics).Snapshot, payload(c, i); !bytes.Equal(got, want) {
					errs <- fmt.Errorf("channel %d message %d: %d bytes starting %q, want %d starting %q",
						c, i, len(got), got[:min(len(got), 8)], len(want), want[:8])
					return
				}
				if i == each/2 {
					if _, _, err := b.Recv(); !errors.Is(err, ErrMalformed) {
						errs <- fmt.Errorf("channel %d: a packet of %d bytes: error %v, want ErrMalformed", c, MaxPacket+1, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// payload is message i of channel c: its size runs from a few bytes to
// the most a Metrics packet holds, its bytes name c and i.
func payload(c, i int) []byte {
	size := 16 + (i*7919)%(MaxPacket-64)
	if i%5 == 0 {
		size = MaxPacket - 2 - 4 // type, version and the length prefix
	}
	p := bytes.Repeat(fmt.Appendf(nil, "%02d:%03d;", c, i), size/7+1)
	return p[:size]
}
