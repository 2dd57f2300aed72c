package child

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// workerTimerSlack is the kernel timer slack (prctl PR_SET_TIMERSLACK,
// /proc/TID/timerslack_ns) of every thread of a worker.
//
// Why: while any goroutine of a process runs or sits in a system call,
// the Go runtime's sysmon thread wakes every 20 µs (usleep), backing off
// only after a millisecond without work for it; every system call after
// an idle spell resets it to 20 µs. A worker runs commands of a few
// milliseconds each, most of them in system calls (fsync, file creation,
// the index), so with hundreds of workers those wake-ups were 11-16% of
// the workers' CPU (perf, imaptest logout=0). A slack of 1 ms lets the
// kernel delay each of those sleeps by up to 1 ms and batch them, and the
// runtime has no setting of its own for it.
//
// What it costs: timers in the worker fire up to 1 ms late (its timeouts
// are seconds to minutes), and sysmon hands the worker's one P
// (GOMAXPROCS=1) to another goroutine when one blocks in a long system
// call up to about 1 ms later. Client input and change notification wake
// the worker through epoll, which the slack does not delay.
//
// The master starts each worker with this slack on every thread
// (proto.WorkerTimerSlack), so that the worker need not write it into
// /proc for each of its threads: workerTimerSlackSet checks it.
const workerTimerSlack = proto.WorkerTimerSlack // ns

// workerTimerSlackSet reports whether this thread runs with ns already,
// as every thread of a worker does that the master started with it: the
// runtime starts each thread from another of the process, and the first
// one had the slack at execve.
func workerTimerSlackSet(ns int) bool {
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	return err == nil && cur == ns
}

// setTimerSlack sets the timer slack of every thread of this process to
// ns. Threads the runtime starts later inherit the slack of the thread
// that creates them, so this runs first thing, while the process is still
// root (it is started as root and drops privileges in child.Start or when
// it takes its user): setting another thread's slack needs CAP_SYS_NICE.
// Without it only the calling thread gets the slack, and the error says
// so.
func setTimerSlack(ns int) error {
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(ns), 0, 0, 0); err != nil {
		return err
	}
	val := []byte(strconv.Itoa(ns))
	// Two passes: a thread that another one started during the first
	// may have copied its creator's slack before that was set.
	var firstErr error
	for range 2 {
		tids, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tids {
			// /proc/TID/timerslack_ns: the per-task file lives only at the
			// top of /proc, not under /proc/self/task.
			// A thread that exited meanwhile is ErrNotExist.
			err := os.WriteFile("/proc/"+t.Name()+"/timerslack_ns", val, 0)
			if err != nil && !errors.Is(err, os.ErrNotExist) && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}
