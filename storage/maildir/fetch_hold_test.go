package maildir

import (
	"runtime"
	"testing"
	"time"
)

// TestHoldYields: a large FETCH of cached structures (hold) makes the
// indexer's workers wait as a foreground parse does, without changing
// GOMAXPROCS.
func TestHoldYields(t *testing.T) {
	var c cpuBurst
	stop := make(chan struct{})
	defer close(stop)
	procs := runtime.GOMAXPROCS(0)
	c.hold()
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("hold changed GOMAXPROCS from %d to %d", procs, got)
	}
	done := make(chan struct{})
	go func() {
		c.yield(stop)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("yield returned while a FETCH held the CPUs")
	case <-time.After(50 * time.Millisecond):
	}
	c.release()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("yield still waits after the FETCH ended")
	}
}
