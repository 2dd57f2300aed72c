package master

import (
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit returns once the child pid has ended, without reaping it,
// waiting on the runtime's poller instead of a thread. exec.Cmd.Wait
// blocks its thread in waitid until the child ends, and the runtime
// keeps every thread it ever made: after a burst of 400 logins each
// worker's wait had left the master a thread (419 of them, ~25 MB of
// its memory for good). A pidfd becomes readable when its process ends;
// the Wait that follows finds it ended and returns at once. Where pidfds
// cannot be had (a kernel before 5.10 without PIDFD_NONBLOCK) it returns
// at once and the Wait waits on a thread, as before.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		// Not ended yet: false has the poller wait until the pidfd
		// is readable. An error of poll ends the wait here.
		return err != nil && err != unix.EINTR || n > 0
	})
}
