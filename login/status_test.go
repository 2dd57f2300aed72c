package login

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"cote/proto"
)

// TestStatusReporter: the master hears at once when a login process
// becomes busy, full, not full or idle; a count that moves within those
// reaches it at most once per statusEvery, with the latest count.
func TestStatusReporter(t *testing.T) {
	master, childEnd, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	c, err := net.FileConn(childEnd)
	childEnd.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctl := &control{conn: proto.NewConn(c.(*net.UnixConn)), log: slog.New(slog.DiscardHandler)}
	defer ctl.conn.Close()
	r := newStatusReporter(ctl, ctl.log, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.run(ctx)

	got := make(chan proto.Status, 10)
	go func() {
		for {
			m, _, err := master.Recv()
			if err != nil {
				return
			}
			if s, ok := m.(*proto.Status); ok {
				got <- *s
			}
		}
	}()
	expect := func(within time.Duration, want proto.Status) time.Duration {
		t.Helper()
		start := time.Now()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("status %+v, want %+v", s, want)
			}
		case <-time.After(within):
			t.Fatalf("no status %+v within %v", want, within)
		}
		return time.Since(start)
	}
	quiet := func(d time.Duration) {
		t.Helper()
		select {
		case s := <-got:
			t.Fatalf("status %+v sent, want none yet", s)
		case <-time.After(d):
		}
	}

	r.set(1) // busy: at once
	expect(time.Second, proto.Status{Clients: 1, Available: 2})
	start := time.Now()
	r.set(2) // a count: later, with the latest
	quiet(statusEvery / 4)
	expect(2*statusEvery, proto.Status{Clients: 2, Available: 1})
	if d := time.Since(start); d < statusEvery/2 {
		t.Errorf("the count came after %v, want about %v", d, statusEvery)
	}
	r.set(3) // full: at once
	if d := expect(time.Second, proto.Status{Clients: 3, Available: 0}); d > statusEvery/2 {
		t.Errorf("full was sent after %v", d)
	}
	r.set(2) // room again: at once
	expect(statusEvery/2, proto.Status{Clients: 2, Available: 1})
	r.set(0) // idle: at once
	expect(statusEvery/2, proto.Status{Clients: 0, Available: 3})
}
