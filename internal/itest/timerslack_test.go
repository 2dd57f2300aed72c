package itest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// threadSlacks reads the timer slack (ns) of each thread of pid.
func threadSlacks(t *testing.T, pid int) map[string]int {
	t.Helper()
	tids, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	must(t, err)
	out := map[string]int{}
	for _, tid := range tids {
		b, err := os.ReadFile(filepath.Join("/proc", tid.Name(), "timerslack_ns"))
		if os.IsNotExist(err) {
			continue // the thread exited
		}
		must(t, err)
		out[tid.Name()], _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return out
}

// TestWorkerTimerSlack: every thread of a worker runs with the timer
// slack of proto.WorkerTimerSlack (1 ms), which the master gives it at
// start; the master's own threads keep theirs.
func TestWorkerTimerSlack(t *testing.T) {
	s := startServer(t, serverOpts{})
	rc := rawDialPOP3(t, s)
	rc.send("USER demo\r\nPASS demo\r\n")
	rc.expect("+OK")
	rc.expect("+OK Logged in")
	ws := byRole(children(s.cmd.Process.Pid), "worker")
	if len(ws) != 1 {
		t.Fatalf("%d workers, want 1", len(ws))
	}
	for tid, ns := range threadSlacks(t, ws[0].pid) {
		if ns != 1_000_000 {
			t.Errorf("worker thread %s: timer slack %d ns, want 1000000", tid, ns)
		}
	}
	for tid, ns := range threadSlacks(t, s.cmd.Process.Pid) {
		if ns == 1_000_000 {
			t.Errorf("master thread %s: timer slack %d ns, want its own", tid, ns)
		}
	}
	rc.send("QUIT\r\n")
	rc.expect("+OK")
}
