package maildir

import (
	"bytes"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Background work gives way to the work of other processes. The text
// indexer of one user's worker reads and cuts texts on a thread per CPU;
// cpus.hold keeps it off while a session of its own process waits, but
// nothing kept it off the CPUs that other users' workers need (in the
// benchmark, big20000's indexer took a CPU through big100000's first
// SELECT and FETCH). So each of its threads paces itself: every
// pacePeriod of its work it reads how long it has waited on the
// kernel's run queue (/proc/thread-self/schedstat), and when that was
// more than a quarter of the time, another thread wanted its CPU: it
// sleeps, paceSleepMin at first and twice as long each time the CPUs are
// still wanted, up to paceSleepMax, and works at full speed again once
// they are free.
//
// A lower scheduling priority (SCHED_IDLE, nice 19) was tried and not
// kept: a thread at a low priority is left runnable and not run while
// the CPUs are busy, and a stop of the world (each garbage collection's)
// waits for every thread running Go code to reach a safe point, so a
// session of the same worker would wait for the kernel to run the
// starved thread, for seconds on a saturated machine. A sleeping
// goroutine is at a safe point.

const (
	pacePeriod   = 5 * time.Millisecond
	paceSleepMin = 10 * time.Millisecond
	paceSleepMax = 320 * time.Millisecond
)

// parallelLow is parallel for background work: fn(0) .. fn(n-1) run on
// a worker per CPU, each on an OS thread of its own that paces itself
// (pacer), while GOMAXPROCS is one more than those workers, so that the
// sessions of the worker (max_procs 1) keep a P. It returns when all
// are done, or soon after stop is closed, and whether a thread slept
// to give way.
func parallelLow(n int, stop <-chan struct{}, worker func() func(int)) bool {
	if n == 0 {
		return false
	}
	w := min(workers(), n)
	cpus.beginAtLeast(w + 1)
	defer cpus.end()
	var gave atomic.Bool
	share(n, w, func(take func() (int, bool)) {
		// The thread is the one whose run-queue wait is read.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p := newPacer(stop)
		defer p.close()
		fn := worker()
		for k, ok := take(); ok; k, ok = take() {
			p.pace()
			fn(k)
		}
		if p.slept {
			gave.Store(true)
		}
	})
	return gave.Load()
}

// pacer is a background thread's measure of how much other threads
// want its CPU.
type pacer struct {
	fd    int       // the thread's schedstat; -1: not readable (no pacing)
	at    time.Time // when wait was read
	wait  int64     // nanoseconds waited on the run queue then
	next  time.Duration
	slept bool // pace slept at least once
	stop  <-chan struct{}
	sleep func(time.Duration, <-chan struct{}) // sleepOrStop; tests record
	// waited reads the thread's run-queue wait (readWait); tests replace it.
	waited func() (int64, bool)
}

// newPacer returns the pacer of the calling thread, which must be
// locked to its goroutine.
func newPacer(stop <-chan struct{}) *pacer {
	p := &pacer{stop: stop, next: paceSleepMin, sleep: sleepOrStop}
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open("/proc/thread-self/schedstat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		p.fd = -1 // no /proc (a chroot): the work is not paced
		return p
	}
	p.fd = fd
	p.waited = p.readWait
	p.at = time.Now()
	p.wait, _ = p.waited()
	return p
}

func (p *pacer) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
	}
}

// readWait returns the second field of schedstat: the time the thread
// has waited on a run queue, in nanoseconds.
func (p *pacer) readWait() (int64, bool) {
	var buf [96]byte
	n, err := unix.Pread(p.fd, buf[:], 0)
	if err != nil || n <= 0 {
		return 0, false
	}
	f := bytes.Fields(buf[:n])
	if len(f) < 2 {
		return 0, false
	}
	w, err := strconv.ParseInt(string(f[1]), 10, 64)
	return w, err == nil
}

// pace is called between two pieces of work: once pacePeriod has passed
// since the last look, it sleeps when the thread waited on the run
// queue for more than a quarter of that time.
func (p *pacer) pace() {
	if p.waited == nil {
		return
	}
	elapsed := time.Since(p.at)
	if elapsed < pacePeriod {
		return
	}
	wait, ok := p.waited()
	if !ok {
		p.waited = nil
		return
	}
	if time.Duration(wait-p.wait) > elapsed/4 {
		p.sleep(p.next, p.stop)
		p.slept = true
		p.next = min(2*p.next, paceSleepMax)
	} else {
		p.next = paceSleepMin
	}
	// The sleep is not work: the next look measures from here.
	p.at = time.Now()
	if p.wait, ok = p.waited(); !ok {
		p.waited = nil
	}
}

// sleepOrStop sleeps for d or until stop is closed.
func sleepOrStop(d time.Duration, stop <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}

// giveWay waits, before a round of background work or its index write
// (which runs on one goroutine, not paced), while other threads of the
// system wait for a CPU: their share of a paceLook, from the "some" line
// of /proc/pressure/cpu, is over a quarter. It looks again after
// paceSleepMin, then twice as long each time, up to paceSleepMax. Where
// the kernel keeps no pressure figures it returns at once.
func giveWay(stop <-chan struct{}) {
	giveWayWith(stop, cpuPressure, sleepOrStop)
}

// giveWayWith is giveWay reading the pressure with pressure and sleeping
// with sleep (tests record).
func giveWayWith(stop <-chan struct{}, pressure func() (time.Duration, bool), sleep func(time.Duration, <-chan struct{})) {
	next := paceSleepMin
	for {
		before, ok := pressure()
		if !ok {
			return
		}
		sleep(paceLook, stop)
		after, ok := pressure()
		if !ok || after-before <= paceLook/4 {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		sleep(next, stop)
		next = min(2*next, paceSleepMax)
	}
}

// paceLook is how long giveWay watches the CPUs' pressure.
const paceLook = 20 * time.Millisecond

// cpuPressure returns how long, in all, some thread of the system has
// waited for a CPU (/proc/pressure/cpu, "some ... total=" microseconds).
func cpuPressure() (time.Duration, bool) {
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open("/proc/pressure/cpu", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var buf [256]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return 0, false
	}
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	_, total, ok := bytes.Cut(line, []byte("total="))
	if !ok || !bytes.HasPrefix(line, []byte("some ")) {
		return 0, false
	}
	us, err := strconv.ParseInt(string(bytes.TrimSpace(total)), 10, 64)
	return time.Duration(us) * time.Microsecond, err == nil
}
