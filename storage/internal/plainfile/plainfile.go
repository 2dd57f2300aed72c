// Package plainfile opens the files of a mail store: regular files and
// directories, which the Go runtime's poller cannot wait on.
//
// os.OpenFile tries every file it opens with the poller: it sets
// O_NONBLOCK, asks epoll to watch the descriptor, is refused (EPERM for
// a regular file or a directory) and clears O_NONBLOCK again, four
// system calls after the open. A worker opens a few files per command
// (a message to read, a new message, the uidlist, its lock), so Open
// opens them with one open(2) and one fcntl(2) (os.NewFile's check of
// the flags), and the file reads and writes as os.OpenFile's would.
package plainfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// Open is os.OpenFile for a regular file or a directory; the
// descriptor is close-on-exec.
func Open(name string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := unix.Open(name, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// Read is os.Open for a regular file or a directory.
func Read(name string) (*os.File, error) {
	return Open(name, os.O_RDONLY, 0)
}

// Rename is os.Rename for a file: os.Rename first looks whether newpath
// is a directory (an lstat(2)), to refuse one as BSD does; rename(2)
// itself refuses to put a file over a directory (EISDIR), so a store
// renaming its own files makes the one call.
func Rename(oldpath, newpath string) error {
	for {
		err := unix.Rename(oldpath, newpath)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	}
}
