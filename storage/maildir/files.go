package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// writeAtomic replaces path with data through path.tmp and rename,
// durably: the file and the directory entry are fsynced.
func (s *store) writeAtomic(path string, data []byte) error {
	if err := s.replaceFile(path, data, s.fsync); err != nil {
		return err
	}
	// The rename is durable only once the directory is.
	return s.fsyncDir(filepath.Dir(path))
}

// writeMeta replaces path with data through path.tmp and rename for
// metadata (subscriptions): the new file is fsynced before the rename,
// so a crash leaves the old content or the new, never a truncated
// file, but the directory is not, so a power loss may bring the old
// content back (the metadata tier of docs/storage.md).
func (s *store) writeMeta(path string, data []byte) error {
	return s.replaceFile(path, data, s.fsync)
}

// replaceFile writes data to path.tmp, fsyncs it when sync is true and
// renames it over path.
func (s *store) replaceFile(path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return ioErr(err)
	}
	_, err = f.Write(data)
	if err == nil && sync {
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
	return nil
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
		if st, err := os.Stat(lock); err == nil && (time.Since(st.ModTime()) > staleLock || lockHolderGone(lock, st, host)) {
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

// emptyLockStale is how long an empty lock is waited for. cote links a
// whole lock into place, so an empty one was either made by Dovecot
// between its O_EXCL create and its write (dotlock_use_excl=yes, a few
// microseconds), or left by a power cut that took its contents (the lock
// is not fsynced: it is removed again within the operation).
const emptyLockStale = time.Second

// lockHolderGone reports whether the lock st at path is left by a holder
// that is gone: a process of this host that does not exist or that
// took it before the system booted (its pid may be another's now), or,
// for an empty lock, a holder that crashed before writing it.
func lockHolderGone(lock string, st os.FileInfo, host string) bool {
	data, err := os.ReadFile(lock)
	if err != nil {
		return false
	}
	if len(data) == 0 {
		return time.Since(st.ModTime()) > emptyLockStale
	}
	pidStr, lockHost, _ := strings.Cut(strings.TrimSpace(string(data)), ":")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 || lockHost != "" && lockHost != host {
		return false
	}
	if boot := bootTime(); !boot.IsZero() && st.ModTime().Before(boot.Add(-time.Second)) {
		return true
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// bootTime is when the system booted (/proc/stat's btime), or the zero
// time when it cannot be read (a chroot without /proc).
var bootTime = sync.OnceValue(func() time.Time {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(sec, 0)
			}
		}
	}
	return time.Time{}
})

// lockLinger is how long the store keeps a dovecot-uidlist lock after
// an operation, for the next one: a client that saves, flags and
// expunges in quick succession takes the lock once, not once per
// command (each take creates and links a file, and each release
// removes it). lockHoldMax bounds how long one take is reused, so that
// another program waiting for the lock gets it soon and never sees it
// stale.
const (
	lockLinger  = 200 * time.Millisecond
	lockHoldMax = time.Second
)

// uidlistLocks are the dovecot-uidlist locks the store holds between
// operations.
type uidlistLocks struct {
	mu   sync.Mutex // guards held and every heldLock
	held map[string]*heldLock
}

type heldLock struct {
	unlock func()
	taken  time.Time
	file   stamp // the lock file as made
	busy   bool  // an operation holds it
	timer  *time.Timer
}

// lockUidlist takes the dovecot-uidlist lock of a mailbox directory,
// waiting at most wait for another holder, or reuses the one the store
// kept from its last operation.
func (s *store) lockUidlist(dir string, wait time.Duration) (func(), error) {
	path := filepath.Join(dir, "dovecot-uidlist")
	l := &s.locks
	l.mu.Lock()
	if h := l.held[path]; h != nil && !h.busy {
		// Reused only while the lock file is still the one made.
		if time.Since(h.taken) < lockHoldMax && statStamp(path+".lock") == h.file {
			h.busy = true
			if h.timer != nil {
				h.timer.Stop()
			}
			l.mu.Unlock()
			return func() { l.release(path, h) }, nil
		}
		delete(l.held, path)
		if h.timer != nil {
			h.timer.Stop()
		}
		h.end(path)
	}
	l.mu.Unlock()
	unlock, err := dotlockWithin(path, wait)
	if err != nil {
		return nil, err
	}
	h := &heldLock{unlock: unlock, taken: time.Now(), busy: true, file: statStamp(path + ".lock")}
	l.mu.Lock()
	if l.held == nil {
		l.held = make(map[string]*heldLock)
	}
	l.held[path] = h
	l.mu.Unlock()
	return func() { l.release(path, h) }, nil
}

// release ends an operation's hold; the lock goes after lockLinger
// unless another operation takes it again.
func (l *uidlistLocks) release(path string, h *heldLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.busy = false
	if l.held[path] != h {
		return
	}
	h.timer = time.AfterFunc(lockLinger, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !h.busy && l.held[path] == h {
			delete(l.held, path)
			h.end(path)
		}
	})
}

// drop releases the kept locks under dir (a mailbox deleted or renamed)
// or, for dir "", all of them (the store closes).
func (l *uidlistLocks) drop(dir string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for path, h := range l.held {
		if h.busy || dir != "" && filepath.Dir(path) != dir {
			continue
		}
		if h.timer != nil {
			h.timer.Stop()
		}
		delete(l.held, path)
		h.end(path)
	}
}

// end removes the lock file unless it is no longer the one made (another
// program took it over).
func (h *heldLock) end(path string) {
	if statStamp(path+".lock") == h.file {
		h.unlock()
	}
}
