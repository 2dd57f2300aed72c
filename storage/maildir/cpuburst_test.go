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
	done := make(chan struct{})
	go func() {
		c.yield(stop)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("yield returned while a foreground parse ran")
	case <-time.After(50 * time.Millisecond):
	}
	c.endForeground()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("yield still waits after the foreground parse ended")
	}

	c.beginForeground()
	defer c.endForeground()
	done = make(chan struct{})
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
