package mbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
)

// Locking follows Dovecot's default mbox_write_locks = "dotlock fcntl"
// and mbox_read_locks = "fcntl": writers take the dotlock <file>.lock
// (made under a temporary name and link()ed into place, as procmail and
// Dovecot do, so it works on NFS too), then an fcntl write lock on the
// whole file; readers take an fcntl read lock.
const (
	staleLock   = 120 * time.Second // Dovecot's mbox_dotlock_change_timeout
	lockTimeout = 30 * time.Second  // Dovecot's mbox_lock_timeout is 5 min
)

// dotlock takes <path>.lock. The lock holds "<pid>:<host>"; a lock older
// than staleLock, or of a process of this host that no longer runs, is
// overridden.
func dotlock(path string) (func(), error) {
	lock := path + ".lock"
	deadline := time.Now().Add(lockTimeout)
	host, _ := os.Hostname()
	for {
		tmp := fmt.Sprintf("%s.%s.%d", lock, host, os.Getpid())
		if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d:%s", os.Getpid(), host), 0o600); err != nil {
			return nil, ioErr(err)
		}
		err := os.Link(tmp, lock)
		os.Remove(tmp)
		if err == nil {
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, ioErr(err)
		}
		if st, err := os.Stat(lock); err == nil && time.Since(st.ModTime()) > staleLock || deadHolder(lock, host) {
			os.Remove(lock)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: %w", filepath.Base(lock), storage.ErrTemporary)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deadHolder(lock, host string) bool {
	data, err := os.ReadFile(lock)
	if err != nil {
		return false
	}
	pidStr, lockHost, _ := strings.Cut(strings.TrimSpace(string(data)), ":")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 || lockHost != "" && lockHost != host {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// fcntlLock takes an fcntl lock (unix.F_RDLCK or unix.F_WRLCK) on the
// whole of f, waiting up to lockTimeout.
func fcntlLock(f *os.File, typ int16) error {
	deadline := time.Now().Add(lockTimeout)
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: 0, Len: 0}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINTR) {
			return ioErr(err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fcntl lock %s: %w", f.Name(), storage.ErrTemporary)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ioErr marks disk-full and I/O errors as temporary and quota errors as
// over quota.
func ioErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", storage.ErrOverQuota, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EIO), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %w", storage.ErrTemporary, err)
	}
	return err
}
