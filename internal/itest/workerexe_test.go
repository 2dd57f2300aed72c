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

	// cote alone in a directory.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	data, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	alone := filepath.Join(dir, "cote")
	must(t, os.WriteFile(alone, data, 0o755))
	s2 := startServer(t, serverOpts{bin: alone})
	if exe, comm, _ := workerExe(t, s2); exe != alone || comm != "cote" {
		t.Errorf("without cote-worker, the worker runs %s as %q, want %s as cote", exe, comm, alone)
	}
}
