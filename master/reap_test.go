package master

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAwaitExitHoldsNoThread: children the master waits for (a worker
// per active user) keep no thread of the master's each, and each wait
// ends when its child does, for the Wait after it to reap.
func TestAwaitExitHoldsNoThread(t *testing.T) {
	const children = 100
	before := threads(t)
	done := make(chan error, children)
	cmds := make([]*exec.Cmd, children)
	for i := range cmds {
		cmd := exec.Command("sleep", "1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
		go func() {
			awaitExit(cmd.Process.Pid)
			done <- cmd.Wait()
		}()
	}
	time.Sleep(300 * time.Millisecond) // every child runs, every wait waits
	if during := threads(t); during-before > children/4 {
		t.Errorf("waiting for %d children: %d threads, %d before", children, during, before)
	}
	for range children {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Wait: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a wait did not end after its child did")
		}
	}
	for _, cmd := range cmds {
		if cmd.ProcessState == nil || !cmd.ProcessState.Exited() {
			t.Fatalf("pid %d: not reaped", cmd.Process.Pid)
		}
	}
	// A child that ended before the wait began.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	awaitExit(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Errorf("Wait of an ended child: %v", err)
	}
}

func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}
