package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPrivilegeSpareWorkers: with `service worker { process_min_avail }`
// the master keeps spare workers, root and without a user, and a login
// takes one: it then runs with exactly that user's ids (real, effective,
// saved, filesystem), no_new_privs and no chroot, serves that user's
// second login too, never another user's, and the pool is filled again.
// A reload replaces the spares, which hold the old configuration.
func TestPrivilegeSpareWorkers(t *testing.T) {
	requireRoot(t, "spare workers start as root and drop at their first user")
	s := startServer(t, serverOpts{users: map[string]int{"alice": 1},
		extra: "service worker {\n  process_min_avail = 2\n}\n"})
	spares := func(ps []procInfo) []procInfo {
		var out []procInfo
		for _, p := range byRole(ps, "worker") {
			if allIDs(p.uid, 0) {
				out = append(out, p)
			}
		}
		return out
	}
	s.waitLog(t, "spare workers ready", 1)
	ps := s.waitChildren(t, func(ps []procInfo) bool { return len(spares(ps)) == 2 })
	before := map[int]bool{}
	for _, p := range spares(ps) {
		before[p.pid] = true
	}

	demo := login(t, s, "demo")
	alice := login(t, s, "alice")
	demo2 := login(t, s, "demo")
	ps = s.waitChildren(t, func(ps []procInfo) bool {
		return len(byRole(ps, "worker")) == 4 && len(spares(ps)) == 2
	})
	users := map[int]int{} // uid -> pid
	for _, p := range byRole(ps, "worker") {
		if allIDs(p.uid, 0) {
			continue
		}
		if !p.noNewPriv {
			t.Errorf("worker pid %d lacks no_new_privs", p.pid)
		}
		if p.root != "/" {
			t.Errorf("worker pid %d root %q", p.pid, p.root)
		}
		if !allIDs(p.uid, 50100) && !allIDs(p.uid, 50101) {
			t.Errorf("worker pid %d uid %v, want all of 50100 (demo) or 50101 (alice)", p.pid, p.uid)
		}
		if p.gid != p.uid || len(p.groups) != 1 || p.groups[0] != p.gid[0] {
			t.Errorf("worker pid %d gid %v groups %v, want the uid %v and only that group", p.pid, p.gid, p.groups, p.uid)
		}
		// The drop happened with the runtime's threads running: every
		// thread must have the ids and no_new_privs, not just the first.
		for _, bad := range threadsNotLike(p.pid, p) {
			t.Errorf("worker pid %d: %s", p.pid, bad)
		}
		if _, dup := users[p.uid[0]]; dup {
			t.Errorf("two workers for uid %d", p.uid[0])
		}
		users[p.uid[0]] = p.pid
	}
	// The logins took the spares that were there before them.
	for uid, pid := range users {
		if !before[pid] {
			t.Errorf("worker of uid %d (pid %d) was not one of the spares %v", uid, pid, before)
		}
	}
	for _, c := range []interface{ Close() error }{demo, alice, demo2} {
		c.Close()
	}
	refilled := map[int]bool{}
	for _, p := range spares(ps) {
		refilled[p.pid] = true
	}

	s.signal(syscall.SIGHUP)
	s.waitLog(t, "spare workers ready", 2)
	s.waitChildren(t, func(ps []procInfo) bool {
		sp := spares(ps)
		if len(sp) != 2 {
			return false
		}
		for _, p := range sp {
			if refilled[p.pid] {
				return false
			}
		}
		return true
	})
}

// waitLog waits until the server's log has n lines containing text.
func (s *server) waitLog(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.log.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %d log lines with %q:\n%s", n, text, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// threadsNotLike describes every thread of pid whose ids, groups or
// no_new_privs differ from want's (as read from /proc/PID/task/TID).
func threadsNotLike(pid int, want procInfo) []string {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	var bad []string
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// /proc/TID is the thread's view, with the same fields as the
		// process's.
		got, ok := readProc(tid)
		if !ok {
			continue // the thread ended meanwhile
		}
		if got.uid != want.uid || got.gid != want.gid || !slices.Equal(got.groups, want.groups) || !got.noNewPriv {
			bad = append(bad, fmt.Sprintf("thread %d has uid %v gid %v groups %v no_new_privs %v, want uid %v gid %v groups %v no_new_privs true",
				tid, got.uid, got.gid, got.groups, got.noNewPriv, want.uid, want.gid, want.groups))
		}
	}
	return bad
}
