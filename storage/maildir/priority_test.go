package maildir

import (
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestPacerGivesWay: a background thread that waited on the run queue
// for more than a quarter of its last period sleeps, longer each period
// the CPUs stay wanted, and works at full speed once they are free.
func TestPacerGivesWay(t *testing.T) {
	var slept []time.Duration
	var wait int64
	p := &pacer{
		next:   paceSleepMin,
		sleep:  func(d time.Duration, _ <-chan struct{}) { slept = append(slept, d) },
		waited: func() (int64, bool) { return wait, true },
	}
	// period runs one period of work in which the thread waited for
	// share of the time.
	period := func(share float64) {
		p.at = time.Now().Add(-100 * time.Millisecond)
		wait += int64(share * float64(100*time.Millisecond))
		p.pace()
	}
	p.at = time.Now()
	p.pace() // less than pacePeriod since the last look: not measured
	if len(slept) != 0 {
		t.Fatalf("slept %v before a period had passed", slept)
	}
	for range 7 {
		period(0.5) // another thread wanted the CPU half of the time
	}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 320}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %v ms", slept, want)
	}
	for i, d := range slept {
		if d != want[i]*time.Millisecond {
			t.Fatalf("slept %v, want %v ms", slept, want)
		}
	}
	period(0.1) // the CPUs are free again
	if len(slept) != len(want) {
		t.Fatalf("slept while the CPUs were free: %v", slept[len(want):])
	}
	period(0.3)
	if got := slept[len(slept)-1]; got != paceSleepMin {
		t.Fatalf("first sleep after a free period %v, want %v", got, paceSleepMin)
	}
}

// TestPacerReadsSchedstat: the pacer of a locked thread reads its
// run-queue wait from /proc, and it never goes back.
func TestPacerReadsSchedstat(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := newPacer(nil)
	defer p.close()
	if p.waited == nil {
		t.Fatal("/proc/thread-self/schedstat not read")
	}
	first, ok := p.waited()
	for i := 0; ok && i < 1000; i++ {
		var w int64
		if w, ok = p.waited(); ok && w < first {
			t.Fatalf("run-queue wait went back: %d after %d", w, first)
		}
	}
	if !ok {
		t.Fatal("schedstat unreadable after the first read")
	}
}

// TestParallelLow: every piece runs once, on a thread locked to its
// goroutine, while GOMAXPROCS leaves a P beyond the workers'; it is put
// back after.
func TestParallelLow(t *testing.T) {
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	const n = 500
	var mu sync.Mutex
	seen := make(map[int]int)
	var short bool
	parallelLow(n, nil, func() func(int) {
		return func(k int) {
			mu.Lock()
			seen[k]++
			if runtime.GOMAXPROCS(0) <= min(workers(), n) {
				short = true
			}
			mu.Unlock()
		}
	})
	if len(seen) != n {
		t.Fatalf("%d of %d pieces ran", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("piece %d ran %d times", k, c)
		}
	}
	if short {
		t.Fatal("no P left beside the background workers")
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS %d after the work, want 1 as before", got)
	}
}

// TestGiveWay: a round of background work waits while other threads
// wait for a CPU for over a quarter of a look, looking again after
// longer and longer sleeps, and starts once they do not.
func TestGiveWay(t *testing.T) {
	var total time.Duration
	busyLooks := 3
	var slept []time.Duration
	pressure := func() (time.Duration, bool) { return total, true }
	sleep := func(d time.Duration, _ <-chan struct{}) {
		slept = append(slept, d)
		if len(slept)%2 == 1 { // a look; the back-offs come between
			if busyLooks > 0 {
				total += paceLook / 2 // others waited half the look
				busyLooks--
			} else {
				total += paceLook / 10
			}
		}
	}
	giveWayWith(nil, pressure, sleep)
	look, ms := paceLook, time.Millisecond
	want := []time.Duration{look, 10 * ms, look, 20 * ms, look, 40 * ms, look}
	if !slices.Equal(slept, want) {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	slept = nil
	giveWayWith(nil, func() (time.Duration, bool) { return 0, false }, sleep)
	if len(slept) != 0 {
		t.Fatalf("without pressure figures slept %v", slept)
	}
}

// TestCPUPressure: where the kernel keeps pressure figures, cpuPressure
// reads the total of the "some" line, which never goes back; where it
// keeps none, it says so.
func TestCPUPressure(t *testing.T) {
	first, ok := cpuPressure()
	if _, err := os.Stat("/proc/pressure/cpu"); err != nil {
		if ok {
			t.Fatalf("cpuPressure = %v, true without /proc/pressure/cpu", first)
		}
		return
	}
	if !ok {
		t.Fatal("/proc/pressure/cpu not read")
	}
	time.Sleep(5 * time.Millisecond)
	if next, ok := cpuPressure(); !ok || next < first {
		t.Fatalf("pressure %v, %v after %v", next, ok, first)
	}
}
