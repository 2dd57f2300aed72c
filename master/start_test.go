package master

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"cote/proto"
)

// fakeProc is a proc whose control channel the test holds the other end
// of.
func fakeProc(t *testing.T, role string, pid int) (*proc, *proto.Conn) {
	t.Helper()
	ours, theirs, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := proto.ConnFromFile(theirs)
	theirs.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ours.Close(); peer.Close() })
	return &proc{role: role, pid: pid, ctl: ours}, peer
}

// recvType receives one message from c and checks its type.
func recvType[M proto.Message](t *testing.T, c *proto.Conn) M {
	t.Helper()
	c.UnixConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, files, err := c.Recv()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatalf("Recv() = %v, want a %T", err, *new(M))
	}
	m, ok := msg.(M)
	if !ok {
		t.Fatalf("Recv() = %T, want %T", msg, *new(M))
	}
	return m
}

// TestWorkerStartQueues: work for a user whose worker is being started
// off the event loop waits for it and reaches it in order once it runs;
// if the start fails, every piece of waiting work is refused.
func TestWorkerStartQueues(t *testing.T) {
	for _, fails := range []bool{false, true} {
		login, loginPeer := fakeProc(t, proto.RoleIMAPLogin, 10)
		m := &Master{procs: map[int]*proc{}, workers: map[string]*proc{}, waiting: map[string][]*pendingUser{},
			log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		work := func(seq uint64) *pendingUser {
			null, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			return &pendingUser{login: login, user: "demo", fields: []string{"uid=1000"}, uid: 1000, gid: 1000, client: null,
				h: &proto.Handoff{Seq: seq, Conn: proto.ConnInfo{Protocol: "imap"}, Tag: "a"}}
		}
		m.starting = map[string][]*pendingUser{"demo": {work(1)}}
		m.route(work(2))
		if n := len(m.starting["demo"]); n != 2 {
			t.Fatalf("work queued for a starting worker: %d, want 2", n)
		}
		ev := workerStartEvent{user: "demo"}
		var workerPeer *proto.Conn
		if fails {
			ev.err = errors.New("exec failed")
		} else {
			ev.w, workerPeer = fakeProc(t, proto.RoleWorker, 11)
			ev.w.user = "demo"
		}
		m.workerStarted(ev)
		if _, ok := m.starting["demo"]; ok {
			t.Errorf("demo still starting after workerStarted")
		}
		for seq := uint64(1); seq <= 2; seq++ {
			if !fails {
				if us := recvType[*proto.UserSession](t, workerPeer); us.Seq != seq || us.User != "demo" {
					t.Errorf("worker got session seq %d user %q, want seq %d demo", us.Seq, us.User, seq)
				}
			}
			want := uint32(proto.HandoffOK)
			if fails {
				want = proto.HandoffInternal
			}
			if r := recvType[*proto.HandoffReply](t, loginPeer); r.Seq != seq || r.Status != want {
				t.Errorf("fails=%v: handoff reply seq %d status %d, want seq %d status %d", fails, r.Seq, r.Status, seq, want)
			}
		}
		if !fails && m.workers["demo"] != ev.w {
			t.Errorf("started worker not registered for demo")
		}
	}
}
