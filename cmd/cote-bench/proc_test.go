package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestTreeCPUCountsShortProcesses starts twenty processes that each use a
// few milliseconds of CPU and then sleep, as cote's workers do after a
// delivery, and checks that the process tree's CPU counts them: whole
// clock ticks per process counted next to none of it.
func TestTreeCPUCountsShortProcesses(t *testing.T) {
	srv := server{pid: os.Getpid()}
	before, ok := srv.cpu()
	if !ok {
		t.Fatal("no CPU time for this process")
	}
	self0 := selfCPU()
	var cmds []*exec.Cmd
	for range 20 {
		c := exec.Command("sh", "-c", `i=0; while [ $i -lt 4000 ]; do i=$((i+1)); done; echo; exec sleep 30`)
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		out.Read(make([]byte, 1)) // its work is done
		cmds = append(cmds, c)
	}
	after, _ := srv.cpu()
	self1 := selfCPU()
	var children time.Duration
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
		ru := c.ProcessState.SysUsage().(*syscall.Rusage)
		children += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	got := after - before - (self1 - self0)
	t.Logf("children used %v, the tree's CPU grew by %v besides this process's", children, got)
	if children < 20*time.Millisecond {
		t.Fatalf("the children used only %v: too little to tell", children)
	}
	if got < children*8/10 || got > children*12/10+10*time.Millisecond {
		t.Errorf("the tree's CPU grew by %v, the children used %v", got, children)
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
