package worker

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"cote/config"
	"cote/proto"
)

// TestAssignRefused: a worker takes WorkerAssign only as its first user
// work, for a named user, never uid 0, and never a second one. (The
// drop itself is checked on the real binary, as root, by the itests.)
func TestAssignRefused(t *testing.T) {
	tests := []struct {
		name string
		w    *Worker
		m    *proto.WorkerAssign
		want string
	}{
		{"second user", &Worker{user: "alice"}, &proto.WorkerAssign{User: "bob", UID: 1001, GID: 1001}, `to the worker of "alice"`},
		{"same user again", &Worker{user: "alice"}, &proto.WorkerAssign{User: "alice", UID: 1001, GID: 1001}, `to the worker of "alice"`},
		{"no user", &Worker{}, &proto.WorkerAssign{UID: 1001, GID: 1001}, "without a user"},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name string
			w    *Worker
			m    *proto.WorkerAssign
			want string
		}{"uid 0", &Worker{}, &proto.WorkerAssign{User: "root"}, "uid 0"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.assign(tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("assign(%+v) = %v, want an error with %q", tt.m, err, tt.want)
			}
		})
	}
}

// TestSpareRefusesWorkBeforeAssign runs a worker on a control channel.
// As root (where it is a spare) it must exit on user work that comes
// before its WorkerAssign; as another user (no spare: nothing to drop) it
// takes one WorkerAssign and must exit on a second.
func TestSpareRefusesWorkBeforeAssign(t *testing.T) {
	master, childEnd, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	ctl, err := proto.ConnFromFile(childEnd)
	childEnd.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(Options{Ctl: ctl, Settings: &config.Settings{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Done: make(chan struct{})})
	}()
	want := "before WorkerAssign"
	if os.Geteuid() == 0 {
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		if err := master.Send(&proto.UserSession{Seq: 1, User: "demo", Conn: proto.ConnInfo{Protocol: "imap"}, Tag: "a"}, null); err != nil {
			t.Fatal(err)
		}
	} else {
		want = `to the worker of "demo"`
		uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
		for _, user := range []string{"demo", "alice"} {
			if err := master.Send(&proto.WorkerAssign{User: user, UID: uid, GID: gid}); err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v, want an error with %q", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("worker did not exit; want an error with %q", want)
	}
}
