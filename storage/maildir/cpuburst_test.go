package maildir

import (
	"testing"
	"time"
)

// TestIndexerYields: the indexer's workers wait while a parse a client
// waits for runs, and go on when it ends or the store closes.
func TestIndexerYields(t *testing.T) {
	var c cpuBurst
	stop := make(chan struct{})
	c.yield(stop) // nothing in the foreground: no wait

	c.beginForeground()
	yieldWaits(t, &c, stop, "a foreground parse", c.endForeground)

	c.beginForeground()
	defer c.endForeground()
	done := make(chan struct{})
	go func() {
		c.yield(stop)
		close(done)
	}()
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("yield still waits after the store closed")
	}
}

// yieldWaits checks that c.yield waits while what (begun by the caller)
// runs, and returns once end has ended it.
func yieldWaits(t *testing.T, c *cpuBurst, stop <-chan struct{}, what string, end func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		c.yield(stop)
		close(done)
	}()
	select {
	case <-done:
		t.Fatalf("yield returned while %s ran", what)
	case <-time.After(50 * time.Millisecond):
	}
	end()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("yield still waits after %s ended", what)
	}
}
