package child

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func threadSlack(t *testing.T, tid string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + tid + "/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSetTimerSlack checks that the slack reaches the calling thread,
// every other thread of the process (as root: sysmon's among them) and
// threads started afterwards.
func TestSetTimerSlack(t *testing.T) {
	const ns = 1_234_567
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Other threads, parked with their goroutines locked to them.
	stop := make(chan struct{})
	defer close(stop)
	for range 3 {
		ready := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(ready)
			<-stop
		}()
		<-ready
	}
	err := setTimerSlack(ns)
	if got := threadSlack(t, strconv.Itoa(unix.Gettid())); got != ns {
		t.Fatalf("calling thread's timer slack = %d, want %d (setTimerSlack: %v)", got, ns, err)
	}
	if os.Geteuid() != 0 {
		return // setting other threads' slack needs CAP_SYS_NICE
	}
	if err != nil {
		t.Fatalf("setTimerSlack(%d) as root = %v", ns, err)
	}
	tids, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		if got := threadSlack(t, tid.Name()); got != ns {
			t.Errorf("thread %s's timer slack = %d, want %d", tid.Name(), got, ns)
		}
	}
	// A thread started now inherits it.
	tidc := make(chan int)
	go func() {
		runtime.LockOSThread()
		tidc <- unix.Gettid()
		<-stop
	}()
	if tid := <-tidc; threadSlack(t, strconv.Itoa(tid)) != ns {
		t.Errorf("a later thread's timer slack = %d, want %d", threadSlack(t, strconv.Itoa(tid)), ns)
	}
}
