package master

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// spawnThreads is how many threads start children (nnpStarter).
const spawnThreads = 4

// nnpStarter starts child processes from OS threads that have
// PR_SET_NO_NEW_PRIVS set. The flag is inherited across fork and execve,
// so every child is born with it on every thread it will ever have.
//
// There are spawnThreads of them: a start holds its thread until the
// child has executed (Go's fork waits for the execve, and then for the
// result on a pipe), 1.5 ms for cote-worker on an idle 2-CPU machine
// and several under load, so with one thread a burst of first logins
// (each a worker start) queued behind each other's execs with CPUs idle.
//
// privsep.Drop sets it in the child only where the exec did not bring
// it, on every thread where the runtime allows (AllThreadsSyscall), but
// in a cgo-linked binary (the default build: package net links the libc
// resolver) it can set it only on the calling thread, and a spare worker
// drops long after its runtime started other threads. Setting it on the
// spawning thread closes that gap, and spares a worker's drop a stop of
// its world. The master itself only ever executes its own binary, which is not
// set-id, so the flag costs those threads nothing.
type nnpStarter struct {
	once sync.Once
	jobs chan func()
	err  error // from setting the flag; then no child starts
}

// start runs cmd.Start on the flagged thread. A slack other than 0 is
// the timer slack (ns) the child starts with on every thread
// (proto.WorkerTimerSlack): the thread has it for that one start.
func (s *nnpStarter) start(cmd *exec.Cmd, slack int) error {
	s.once.Do(func() {
		s.jobs = make(chan func())
		errs := make(chan error, spawnThreads)
		for range spawnThreads {
			go func() {
				// The goroutine keeps the thread for the life of the
				// master and never unlocks it, so no other goroutine
				// runs there.
				runtime.LockOSThread()
				if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
					errs <- fmt.Errorf("prctl no_new_privs on a spawning thread: %w", err)
					return // this thread starts nothing
				}
				errs <- nil
				for job := range s.jobs {
					job()
				}
			}()
		}
		for range spawnThreads {
			if err := <-errs; err != nil && s.err == nil {
				s.err = err
			}
		}
	})
	if s.err != nil {
		return s.err
	}
	done := make(chan error, 1)
	s.jobs <- func() {
		if slack == 0 {
			done <- cmd.Start()
			return
		}
		prev, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
		if err == nil {
			err = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0)
		}
		if err != nil {
			// The child sets the slack itself.
			done <- cmd.Start()
			return
		}
		err = cmd.Start()
		unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(prev), 0, 0, 0)
		done <- err
	}
	return <-done
}
