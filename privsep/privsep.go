// Package privsep drops a process's privileges and proves it did.
//
// A child with a chroot (login processes, into an empty directory) is
// started by the master as root (when the master runs as root) and drops
// to its target credentials as the first thing it does, before it reads
// anything but its control channel: the chroot needs root, and the binary
// must be reachable by path at exec. Go's setuid family changes every
// thread of the process (AllThreadsSyscall), so the drop is complete.
// Other children are executed with their ids already (master/spawn.go);
// their Drop only checks.
package privsep

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// Target is what a process drops to.
type Target struct {
	UID, GID int
	Groups   []int  // supplementary groups; nil means none
	Chroot   string // empty: no chroot
}

// Drop chroots (if asked), sets groups, gid and uid, forbids regaining
// privileges (PR_SET_NO_NEW_PRIVS) and then asserts the result with Check.
// It refuses uid 0 as a target unless the process already runs as 0 and
// the target asks for nothing else (the non-root development mode never
// gets here as root).
func Drop(t Target) error {
	if t.Chroot != "" {
		if err := unix.Chroot(t.Chroot); err != nil {
			return fmt.Errorf("chroot %s: %w", t.Chroot, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("chdir / in chroot: %w", err)
		}
	}
	if os.Getuid() == 0 {
		groups := t.Groups
		if groups == nil {
			groups = []int{}
		}
		// syscall's setgroups/setresgid/setresuid change every thread;
		// x/sys/unix.Setgroups would change only the calling one.
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups %v: %w", groups, err)
		}
		if err := syscall.Setresgid(t.GID, t.GID, t.GID); err != nil {
			return fmt.Errorf("setresgid %d: %w", t.GID, err)
		}
		if err := syscall.Setresuid(t.UID, t.UID, t.UID); err != nil {
			return fmt.Errorf("setresuid %d: %w", t.UID, err)
		}
	}
	if err := noNewPrivs(); err != nil {
		return fmt.Errorf("prctl no_new_privs: %w", err)
	}
	return Check(t)
}

// Check asserts that the real, effective and saved ids equal the target
// and that, when the target is not root, the process cannot become root
// again.
func Check(t Target) error {
	ru, eu, su := unix.Getresuid()
	rg, eg, sg := unix.Getresgid()
	if ru != t.UID || eu != t.UID || su != t.UID {
		return fmt.Errorf("uid is %d/%d/%d, want %d", ru, eu, su, t.UID)
	}
	if rg != t.GID || eg != t.GID || sg != t.GID {
		return fmt.Errorf("gid is %d/%d/%d, want %d", rg, eg, sg, t.GID)
	}
	if t.Groups != nil {
		got, err := unix.Getgroups()
		if err != nil {
			return fmt.Errorf("getgroups: %w", err)
		}
		want := slices.Clone(t.Groups)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("groups are %v, want %v", got, want)
		}
	}
	if t.UID != 0 {
		// On this thread only: Go's Setuid changes every thread and
		// stops the runtime's world to do so, even to fail. Every
		// thread has the same credentials here, so one answers for all;
		// should it succeed, the caller ends the process.
		if _, _, errno := unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0); errno == 0 {
			return errors.New("setuid(0) succeeded after dropping privileges")
		}
	}
	return nil
}

// noNewPrivs sets PR_SET_NO_NEW_PRIVS on every thread. The flag is per
// thread; AllThreadsSyscall is unavailable in cgo binaries, where the
// calling thread gets it and threads started from it inherit it.
//
// Nothing else in a cote process sets the flag, so when the calling
// thread has it before this sets it, it came with the exec (the master
// executes every child from a thread that has it, master/nnp.go): the
// process's first thread had it, and every thread since was cloned with
// it. Then there is nothing to set, and no world to stop for it.
func noNewPrivs() error {
	if on, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err == nil && on == 1 {
		return nil
	}
	_, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	if errno == syscall.ENOTSUP {
		return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if errno != 0 {
		return errno
	}
	return nil
}
