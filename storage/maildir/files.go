package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cote/storage"
)

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

func (s *store) fsyncDir(dir string) error {
	if !s.fsync {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return ioErr(err)
	}
	defer f.Close()
	return ioErr(f.Sync())
}

// writeAtomic replaces path with data through path.tmp and rename.
func (s *store) writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return ioErr(err)
	}
	_, err = f.Write(data)
	if err == nil && s.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return ioErr(err)
	}
	// The rename is durable only once the directory is.
	return s.fsyncDir(filepath.Dir(path))
}

// Dotlocks follow Dovecot's convention: <file>.lock made with O_EXCL; a
// lock older than staleLock is overridden.
const (
	staleLock   = 120 * time.Second
	lockTimeout = 30 * time.Second
)

// The lock holds "<pid>:<host>", as Dovecot's file_dotlock writes it; a
// lock of a process of this host that no longer runs is overridden at
// once (a killed process cannot remove its lock).
func dotlock(path string) (func(), error) {
	return dotlockWithin(path, lockTimeout)
}

// errLockBusy is dotlockWithin's error when another holds the lock
// past the wait.
var errLockBusy = fmt.Errorf("dotlock busy: %w", storage.ErrTemporary)

// dotlockWithin is dotlock waiting at most wait for another holder.
func dotlockWithin(path string, wait time.Duration) (func(), error) {
	lock := path + ".lock"
	deadline := time.Now().Add(wait)
	host, _ := os.Hostname()
	for {
		// The lock is made whole under a temporary name and linked into
		// place, so it never exists without its holder (Dovecot's
		// dotlock_use_excl=no method).
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
		if st, err := os.Stat(lock); err == nil && time.Since(st.ModTime()) > staleLock || deadLockHolder(lock, host) {
			os.Remove(lock)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: %w", filepath.Base(lock), errLockBusy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// deadLockHolder reports whether the lock names a process of this host
// that does not exist.
func deadLockHolder(lock, host string) bool {
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
