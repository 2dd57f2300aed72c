package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"cote/storage"
	dl "cote/storage/internal/dotlock"
	"cote/storage/internal/plainfile"
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
	return ioErr(fsyncFile(dir))
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

// replaceFileLate is replaceFile that writes the new file out
// (writeOut) instead of fsyncing it: on a journaled ext4 its blocks are
// then in the running transaction, before its rename, and the caller's
// fsync commits both (journal.go).
func (s *store) replaceFileLate(path string, data []byte) error {
	return replaceWith(path, data, writeOut)
}

// replaceFile writes data to path.tmp, fsyncs it when sync is true and
// renames it over path.
func (s *store) replaceFile(path string, data []byte, sync bool) error {
	if !sync {
		return replaceWith(path, data, nil)
	}
	return replaceWith(path, data, (*os.File).Sync)
}

// replaceWith writes data to path.tmp, calls flush on it (when not nil)
// and renames it over path.
func replaceWith(path string, data []byte, flush func(*os.File) error) error {
	tmp := path + ".tmp"
	f, err := plainfile.Open(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return ioErr(err)
	}
	_, err = f.Write(data)
	if err == nil && flush != nil {
		err = flush(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = plainfile.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return ioErr(err)
	}
	return nil
}

// lockTimeout is how long a dotlock (storage/internal/dotlock) is
// waited for.
const lockTimeout = 30 * time.Second

// dotlock takes path+".lock", waiting up to lockTimeout.
func dotlock(path string) (func(), error) {
	return dotlockWithin(path, lockTimeout)
}

// errLockBusy is dotlockWithin's error when another holds the lock
// past the wait.
var errLockBusy = dl.ErrBusy

// dotlockWithin is dotlock waiting at most wait for another holder.
func dotlockWithin(path string, wait time.Duration) (func(), error) {
	unlock, err := dl.Take(path, wait)
	if err != nil && !errors.Is(err, errLockBusy) {
		err = ioErr(err)
	}
	return unlock, err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

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
