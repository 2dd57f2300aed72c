package maildir

import (
	"runtime"
	"testing"
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
	yieldWaits(t, &c, stop, "a FETCH that holds the CPUs", c.release)
}
