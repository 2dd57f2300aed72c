// Package dotlock takes the <file>.lock locks that Dovecot, procmail
// and mail clients take on Maildir and mbox files.
package dotlock

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
	"cote/storage/internal/plainfile"
)

// Stale is the age at which a lock is taken over whoever holds it
// (Dovecot's dotlock stale_timeout for dovecot-uidlist and its
// mbox_dotlock_change_timeout).
const Stale = 120 * time.Second

// emptyStale is how long an empty lock is waited for. A lock is empty
// between its create and its write (a few microseconds), or when a
// power cut took its contents (the lock is not fsynced: it is removed
// again within the operation).
const emptyStale = time.Second

// ErrBusy is Take's error when another holds the lock past the wait.
var ErrBusy = fmt.Errorf("dotlock busy: %w", storage.ErrTemporary)

// Take takes path+".lock", waiting at most wait for another holder,
// and returns the function that removes it. The lock holds
// "<pid>:<host>", as Dovecot's file_dotlock writes it; a lock older
// than Stale is taken over, and so is one whose holder is gone
// (holderGone): a killed process cannot remove its lock. Errors of the
// file system are returned as they are, for the caller to classify.
func Take(path string, wait time.Duration) (func(), error) {
	lock := path + ".lock"
	deadline := time.Now().Add(wait)
	host, _ := os.Hostname()
	holder := fmt.Appendf(nil, "%d:%s", os.Getpid(), host)
	for {
		// Made with O_EXCL, as Dovecot makes its dotlocks by default
		// (dotlock_use_excl=yes; NFS has O_EXCL since version 3): one
		// name in the directory's journal, where a lock made under a
		// temporary name and linked into place takes three.
		f, err := plainfile.Open(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.Write(holder)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(lock)
				return nil, err
			}
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if st, err := os.Stat(lock); err == nil && (time.Since(st.ModTime()) > Stale || holderGone(lock, st, host)) {
			os.Remove(lock)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: %w", filepath.Base(lock), ErrBusy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holderGone reports whether the lock st at path is left by a holder
// that is gone: a process of this host that does not exist or that
// took it before the system booted (its pid may be another's now), or,
// for an empty lock, a holder that crashed before writing it.
func holderGone(lock string, st os.FileInfo, host string) bool {
	data, err := os.ReadFile(lock)
	if err != nil {
		return false
	}
	if len(data) == 0 {
		return time.Since(st.ModTime()) > emptyStale
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
