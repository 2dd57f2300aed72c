package worker

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// TestChannelKeepsMasterUser: over a delivery channel the lmtp process
// reaches only the worker's own user. The user and userdb fields of a
// Deliver sent on it are replaced by those the master gave with the
// channel, whatever the lmtp process wrote; anything but a Deliver ends
// the channel.
func TestChannelKeepsMasterUser(t *testing.T) {
	w := &Worker{o: Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, user: "demo"}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	lmtp, err := proto.ConnFromFile(os.NewFile(uintptr(fds[0]), "lmtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer lmtp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	direct := make(chan channelDelivery)
	given := &proto.DeliverChannel{User: "demo", Fields: []string{"home=/home/demo"}}
	if err := w.readChannel(ctx, given, os.NewFile(uintptr(fds[1]), "worker"), direct); err != nil {
		t.Fatal(err)
	}
	msg, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer msg.Close()
	forged := &proto.Deliver{Seq: 1, User: "root", Fields: []string{"home=/root", "uid=0"}, RcptTo: "demo@example.org"}
	if err := lmtp.Send(forged, msg); err != nil {
		t.Fatal(err)
	}
	select {
	case cd := <-direct:
		cd.msg.Close()
		if cd.d.User != "demo" || len(cd.d.Fields) != 1 || cd.d.Fields[0] != "home=/home/demo" {
			t.Fatalf("delivery over the channel for %q with %q, want the master's demo and its fields", cd.d.User, cd.d.Fields)
		}
		if cd.d.RcptTo != "demo@example.org" || cd.d.Seq != 1 {
			t.Fatalf("delivery lost the lmtp process's fields: %+v", cd.d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery from the channel")
	}

	// Anything else ends the channel: the lmtp process sees it closed.
	if err := lmtp.Send(&proto.WorkerExit{}); err != nil {
		t.Fatal(err)
	}
	lmtp.UnixConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if m, _, err := lmtp.Recv(); !proto.IsClosed(err) {
		t.Fatalf("channel still open after a stray message: %T, %v", m, err)
	}

	// A channel for another user than the worker's is refused.
	fds2, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds2[0])
	if err := w.readChannel(ctx, &proto.DeliverChannel{User: "alice"}, os.NewFile(uintptr(fds2[1]), "worker"), direct); err == nil {
		t.Fatal("the worker of demo took a channel for alice")
	}
}
