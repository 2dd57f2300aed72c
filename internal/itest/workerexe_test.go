package itest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// workerExe returns the executable and process name of the server's one
// worker, started by a login.
func workerExe(t *testing.T, s *server) (exe, comm string, p procInfo) {
	t.Helper()
	c := login(t, s, "demo")
	defer c.Logout()
	ws := byRole(s.waitChildren(t, hasRoles("worker")), "worker")
	if len(ws) != 1 {
		t.Fatalf("%d workers, want 1", len(ws))
	}
	p = ws[0]
	exe, err := os.Readlink("/proc/" + strconv.Itoa(p.pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	return exe, strings.TrimSpace(string(b)), p
}

// TestWorkerExecutable: with cote-worker beside cote (as make build and
// make install lay them out), workers run from it, under the user's ids
// like any worker, and show as cote-worker; with cote alone, workers run
// from cote. Each of its threads shows as cote-worker too.
func TestWorkerExecutable(t *testing.T) {
	s := startServer(t, serverOpts{})
	want := filepath.Join(binDir, "cote-worker")
	exe, comm, p := workerExe(t, s)
	if exe != want || comm != "cote-worker" {
		t.Errorf("worker runs %s as %q, want %s as cote-worker", exe, comm, want)
	}
	// Every thread, as top -H and perf show them.
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(p.pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/task/" + task.Name() + "/comm")
		if err == nil && strings.TrimSpace(string(b)) != "cote-worker" {
			t.Errorf("worker thread %s is named %q, want cote-worker", task.Name(), strings.TrimSpace(string(b)))
		}
	}
	if os.Getuid() == 0 && (p.uid[0] != 50100 || p.uid[1] != 50100) {
		t.Errorf("worker from cote-worker has uids %v, want demo's 50100", p.uid)
	}
	// It keeps the stacks its sessions grew (internal/runners).
	if env, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ"); err != nil {
		t.Error(err)
	} else if !slices.Contains(strings.Split(string(env), "\x00"), "GODEBUG=gcshrinkstackoff=1") {
		t.Errorf("worker's environment %q has no GODEBUG=gcshrinkstackoff=1", env)
	}
	if !strings.Contains(s.log.String(), "workers run from "+want) {
		t.Errorf("the log does not say workers run from %s:\n%s", want, s.log.String())
	}
	if strings.Contains(s.log.String(), "cannot execute") {
		t.Errorf("the worker was not executed with its user's ids:\n%s", s.log.String())
	}

	// cote alone in a directory.
	alone := installBin(t, sharedTempDir(t), "cote", 0o755)
	s2 := startServer(t, serverOpts{bin: alone})
	if exe, comm, _ := workerExe(t, s2); exe != alone || comm != "cote" {
		t.Errorf("without cote-worker, the worker runs %s as %q, want %s as cote", exe, comm, alone)
	}
	if strings.Contains(s2.log.String(), "cannot execute") {
		t.Errorf("children of cote alone were not executed with their ids:\n%s", s2.log.String())
	}
}

// TestWorkerExecByRootOnly: a cote-worker that only root may execute
// (mode 0700) cannot be executed with a user's ids. The master says so
// once and starts such workers as root; each drops to its user itself,
// as before the exec with the user's ids, and serves as usual.
func TestWorkerExecByRootOnly(t *testing.T) {
	requireRoot(t, "workers under their users' ids")
	// Every user may reach the binaries; only cote-worker's own mode
	// keeps them out.
	dir := sharedTempDir(t)
	installBin(t, dir, "cote-worker", 0o700)
	s := startServer(t, serverOpts{bin: installBin(t, dir, "cote", 0o755), users: map[string]int{"alice": 1}})
	exe, _, p := workerExe(t, s)
	if want := filepath.Join(dir, "cote-worker"); exe != want {
		t.Errorf("worker runs %s, want %s", exe, want)
	}
	if !allIDs(p.uid, 50100) || !allIDs(p.gid, 50100) || p.procOwner != 0 || !p.noNewPriv || p.execUID != 0 {
		t.Errorf("demo's worker: uid %v gid %v, /proc/PID/environ owned by %d, no_new_privs %v, executed as uid %d; want 50100, 50100, root, true, root",
			p.uid, p.gid, p.procOwner, p.noNewPriv, p.execUID)
	}
	alice := login(t, s, "alice")
	defer alice.Logout()
	isAlice := func(w procInfo) bool { return w.uid[0] == 50101 }
	ws := byRole(s.waitChildren(t, func(ps []procInfo) bool { return slices.ContainsFunc(byRole(ps, "worker"), isAlice) }), "worker")
	w := ws[slices.IndexFunc(ws, isAlice)]
	if !allIDs(w.uid, 50101) || !allIDs(w.gid, 50101) || w.procOwner != 0 {
		t.Errorf("alice's worker: uid %v gid %v, /proc owned by %d; want 50101, 50101, root", w.uid, w.gid, w.procOwner)
	}
	if n := strings.Count(s.log.String(), "cannot execute "+filepath.Join(dir, "cote-worker")+" with a child's own ids"); n != 1 {
		t.Errorf("the log says %d times that the worker cannot be executed with a user's ids, want once:\n%s", n, s.log.String())
	}
}
