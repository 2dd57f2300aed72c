package proto

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

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
		peer, b := seqpacketPair(t, "b")
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer unix.Close(peer)
			for i := range each {
				m := &Metrics{Snapshot: payload(c, i)}
				if err := unix.Sendmsg(peer, Encode(m), nil, nil, 0); err != nil {
					errs <- err
					return
				}
				if i == each/2 {
					// One byte over the limit, as a peer that ignores it.
					over := append([]byte{Version, byte(TypeMetrics)}, make([]byte, MaxPacket-1)...)
					if err := unix.Sendmsg(peer, over, nil, nil, 0); err != nil {
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

// seqpacketPair makes a channel for a test: the raw descriptor of the
// peer's end, which the caller closes, and a Conn of the other end.
func seqpacketPair(t *testing.T, name string) (peer int, c *Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err = FileConn(fds[1], name)
	if err != nil {
		unix.Close(fds[0])
		t.Fatal(err)
	}
	return fds[0], c
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

// TestWaitingReadersHoldNoBuffer: a channel whose reader waits for its
// next packet holds no receive buffer (the master and the lmtp process
// wait on every worker's channel), and each reader still gets its packet
// once it comes, with a read deadline still ending a wait.
func TestWaitingReadersHoldNoBuffer(t *testing.T) {
	const chans = 200
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peers := make([]int, chans)
	got := make(chan error, chans)
	for i := range chans {
		peer, c := seqpacketPair(t, "waiting")
		peers[i] = peer
		defer unix.Close(peer)
		defer c.Close()
		go func() {
			m, _, err := c.Recv()
			if err == nil && !bytes.Equal(m.(*Metrics).Snapshot, payload(i, 1)) {
				err = fmt.Errorf("channel %d: another packet", i)
			}
			got <- err
		}()
	}
	time.Sleep(200 * time.Millisecond) // every reader is waiting
	var waiting runtime.MemStats
	runtime.ReadMemStats(&waiting)
	held := int64(waiting.HeapInuse) - int64(before.HeapInuse)
	// 200 buffers would be 25 MB; goroutines and sockets are a little.
	if held > 4<<20 {
		t.Errorf("%d waiting readers: heap grew by %d KB (%d KB each), want no %d KB buffer each",
			chans, held>>10, held/chans>>10, (MaxPacket+1)>>10)
	}
	for i, fd := range peers {
		if err := unix.Sendmsg(fd, Encode(&Metrics{Snapshot: payload(i, 1)}), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	for range chans {
		if err := <-got; err != nil {
			t.Error(err)
		}
	}

	peer, c := seqpacketPair(t, "deadline")
	defer c.Close()
	c.UnixConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := c.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Recv past the read deadline: %v, want a deadline error", err)
	}
	unix.Close(peer) // once: the test closes it here
	c.UnixConn().SetReadDeadline(time.Time{})
	if _, _, err := c.Recv(); !IsClosed(err) {
		t.Errorf("Recv after the peer closed: %v, want a closed channel", err)
	}
}
