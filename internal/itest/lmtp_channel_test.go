package itest

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLMTPDirectChannel: once a delivery to a user went to the user's
// worker, the next ones go from the lmtp process to that worker over
// the delivery channel the master gave both (proto.DeliverChannel),
// without the master: they are stored while the master is stopped. When
// the worker is gone, deliveries go through the master again.
func TestLMTPDirectChannel(t *testing.T) {
	requireRoot(t, "workers under distinct uids")
	s := startServer(t, serverOpts{users: map[string]int{"alice": 1}})
	login(t, s, "demo") // keeps demo's worker up
	if got := lmtpDeliver(t, s.addr("lmtp"), "through the master", "demo@example.org"); got["demo@example.org"] != "250" {
		t.Fatalf("first delivery: %v", got)
	}

	master := s.cmd.Process.Pid
	must(t, syscall.Kill(master, syscall.SIGSTOP))
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(master, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	got, err := lmtpDeliverWithin(s.addr("lmtp"), 20*time.Second, "master stopped", "demo@example.org")
	resume()
	if err != nil {
		t.Fatalf("delivery while the master is stopped: %v", err)
	}
	if got["demo@example.org"] != "250" {
		t.Fatalf("delivery while the master is stopped: %v", got)
	}

	// The worker is killed while idle: its end of the channel closes,
	// and the next delivery goes through the master to a new worker.
	must(t, syscall.Kill(userWorker(t, s, demoUID), syscall.SIGKILL))
	if got := lmtpDeliver(t, s.addr("lmtp"), "after the worker", "demo@example.org", "alice@example.org"); got["demo@example.org"] != "250" || got["alice@example.org"] != "250" {
		t.Fatalf("delivery after demo's worker was killed: %v", got)
	}
	want := "through the master|master stopped|after the worker"
	if subj := inboxSubjects(t, s, "demo", "INBOX"); strings.Join(subj, "|") != want {
		t.Errorf("demo's INBOX = %q, want %q", subj, want)
	}
	if subj := inboxSubjects(t, s, "alice", "INBOX"); strings.Join(subj, "|") != "after the worker" {
		t.Errorf("alice's INBOX = %q", subj)
	}
}
