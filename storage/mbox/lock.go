package mbox

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	dl "cote/storage/internal/dotlock"
)

// Locking follows Dovecot's default mbox_write_locks = "dotlock fcntl"
// and mbox_read_locks = "fcntl": writers take the dotlock <file>.lock
// (made under a temporary name and link()ed into place, as procmail and
// Dovecot do, so it works on NFS too), then an fcntl write lock on the
// whole file; readers take an fcntl read lock.
const lockTimeout = 30 * time.Second // Dovecot's mbox_lock_timeout is 5 min

// dotlock takes <path>.lock (storage/internal/dotlock: a lock older than
// 120 s, Dovecot's mbox_dotlock_change_timeout, or whose holder is gone,
// is taken over).
func dotlock(path string) (func(), error) {
	unlock, err := dl.Take(path, lockTimeout)
	if err != nil && !errors.Is(err, dl.ErrBusy) {
		err = ioErr(err)
	}
	return unlock, err
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
