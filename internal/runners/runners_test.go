package runners

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// goid is the running goroutine's number, from its stack trace.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	return f[1]
}

// parked reports whether goroutine id waits in a pool's loop.
func parked(id string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.HasPrefix(g, []byte("goroutine "+id+" [select")) && bytes.Contains(g, []byte("runners.(*Pool).loop")) {
			return true
		}
	}
	return false
}

// TestPoolReuses: work given while a goroutine of the pool waits runs on
// that goroutine; work given while all are busy runs at once on a new
// one; a goroutine that waits past the linger ends.
func TestPoolReuses(t *testing.T) {
	p := New(500 * time.Millisecond)
	ids := make(chan string, 1)
	p.Go(func() { ids <- goid() })
	first := <-ids
	deadline := time.Now().Add(5 * time.Second)
	for !parked(first) {
		if time.Now().After(deadline) {
			t.Fatalf("goroutine %s did not wait for more work", first)
		}
		time.Sleep(time.Millisecond)
	}
	p.Go(func() { ids <- goid() })
	if again := <-ids; again != first {
		t.Errorf("second work ran on goroutine %s, want the waiting %s", again, first)
	}

	// Three at once: none waits for another.
	var started, release sync.WaitGroup
	started.Add(3)
	release.Add(1)
	seen := make(chan string, 3)
	for range 3 {
		p.Go(func() {
			seen <- goid()
			started.Done()
			release.Wait()
		})
	}
	done := make(chan struct{})
	go func() { started.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("three works given at once did not all start")
	}
	release.Done()
	distinct := map[string]bool{}
	for range 3 {
		distinct[<-seen] = true
	}
	if len(distinct) != 3 {
		t.Errorf("three concurrent works ran on %d goroutines", len(distinct))
	}

	// Past the linger, the pool's goroutines end.
	deadline = time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		if !bytes.Contains(buf, []byte("runners.(*Pool).loop")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool's goroutines outlived the linger:\n%s", buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
