package itest

import (
	"strings"
	"testing"
)

// TestDeliverWorkerLimitEvictsIdle: with the worker process_limit taken
// by workers that linger idle after their deliveries, a delivery to
// another user still succeeds: the master evicts the worker idle longest
// to make room, and the limit holds. Workers with a session open are not
// idle: when every worker has one, the delivery is deferred (451) and the
// sessions carry on.
func TestDeliverWorkerLimitEvictsIdle(t *testing.T) {
	s := startServer(t, serverOpts{
		users: map[string]int{"alice": 1, "bob": 2, "carol": 3},
		extra: "service worker {\n  process_limit = 2\n  idle_kill = 5 mins\n}\n",
	})
	lmtp := s.addr("lmtp")
	workers := func() int { return len(byRole(children(s.cmd.Process.Pid), "worker")) }
	deliver := func(user string) string {
		t.Helper()
		got := lmtpDeliver(t, lmtp, "to "+user, user+"@example.org")
		return got[user+"@example.org"]
	}

	for _, u := range []string{"demo", "alice"} {
		if code := deliver(u); code != "250" {
			t.Fatalf("delivery to %s: %s, want 250", u, code)
		}
	}
	if n := workers(); n != 2 {
		t.Fatalf("%d workers after delivering to demo and alice, want 2 (lingering)", n)
	}
	// The limit is full of idle workers: bob's delivery evicts demo's
	// worker (idle longest), carol's then alice's.
	for i, u := range []string{"bob", "carol"} {
		if code := deliver(u); code != "250" {
			t.Fatalf("delivery to %s with the worker limit full of idle workers: %s, want 250", u, code)
		}
		s.waitLog(t, "evicting the longest idle worker", i+1)
		if n := workers(); n > 2 {
			t.Errorf("%d workers after delivering to %s, want at most process_limit 2", n, u)
		}
	}
	log := s.log.String()
	if !strings.Contains(log, "worker_user=demo") || !strings.Contains(log, "worker_user=alice") {
		t.Errorf("evicted workers are not demo's and alice's (oldest idle first):\n%s", log)
	}
	for _, u := range []string{"demo", "alice", "bob", "carol"} {
		if got := inboxSubjects(t, s, u, "INBOX"); len(got) != 1 || got[0] != "to "+u {
			t.Errorf("%s's INBOX: %q, want [\"to %s\"]", u, got, u)
		}
	}

	// Two users with a session open fill the limit: nothing is idle, so
	// a delivery to a third is deferred and the sessions stay.
	a := login(t, s, "alice")
	defer a.Close()
	b := login(t, s, "bob")
	defer b.Close()
	s.waitChildren(t, func(ps []procInfo) bool { return len(byRole(ps, "worker")) == 2 })
	if code := deliver("carol"); code != "451" {
		t.Errorf("delivery to carol with every worker busy: %s, want 451", code)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Errorf("alice's session after the refused delivery: NOOP: %v", err)
	}
	if err := b.Noop().Wait(); err != nil {
		t.Errorf("bob's session after the refused delivery: NOOP: %v", err)
	}
}
