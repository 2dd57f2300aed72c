package itest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireProgram returns the path of an outside program a test drives,
// and fails the test (never skips it) naming the Debian package that
// ships the program when it is missing.
func requireProgram(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found: install Debian's %s (scripts/test-deps.sh does)", name, pkg)
	return ""
}

// requireRoot fails a test that starts an outside daemon needing root.
func requireRoot(t *testing.T, what string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatalf("this test starts %s, which needs root (CI runs as root)", what)
	}
}

// liveProcs lists the pids of processes that are alive (not zombies:
// an orphaned daemon child may wait for a pid 1 that does not reap) and
// for which match is true, given the pid and its environment.
func liveProcs(match func(pid int, environ []string) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X' {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if match(pid, strings.Split(string(env), "\x00")) {
			out = append(out, pid)
		}
	}
	return out
}

// waitGone waits until no live process matches; it kills what is left at
// the deadline and returns the pids it had to kill.
func waitGone(match func(pid int, environ []string) bool, within time.Duration) []int {
	deadline := time.Now().Add(within)
	for {
		left := liveProcs(match)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// descendants lists the live descendants of pid.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children(p) {
			out = append(out, c.pid)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// waitTCP waits until addr accepts connections.
func waitTCP(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %v: %v", addr, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
