package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"cote/storage/internal/plainfile"
)

// A save makes three things durable: the message file, its name in cur/
// and its dovecot-uidlist record. POSIX asks for an fsync of each, and
// the file's before the rename, so that a crash never leaves a name in
// cur/ for a file whose data was not written; that costs two commits of
// an ext4 journal (the file's blocks, then the rename with the record).
//
// On ext4 with a journal (jbd2) a save takes one: the file's pages are
// written and waited for without a commit (sync_file_range, which makes
// ext4 allocate their blocks in the running transaction), the file is
// renamed and the record written the same way, and then the file's
// fsync commits the transaction, which holds the allocation, the rename
// and the record's length together. jbd2 commits transactions in order
// and flushes the device before each commit block, so a power cut
// leaves either the whole save or none of it (or the file alone in
// tmp/, as before); TestPowerCut cuts the power of a real ext4 in the
// middle of saves. That fsync is the save's last: the commit holds
// cur/'s entry and the record, and fsyncs of cur/ and of the uidlist
// would only flush the device's cache again. Anywhere else (another file system,
// ext4 without a journal, a chroot without /proc or /sys) a save keeps
// the POSIX order.

// journals caches onJournal by directory: a save asks for its mailbox's.
var journals struct {
	sync.Mutex
	dir map[string]bool
}

// onJournal reports whether dir is on an ext4 file system whose journal
// the kernel lists in /proc/fs/jbd2 (named after the block device, with
// the journal's inode number 8).
func onJournal(dir string) bool {
	journals.Lock()
	defer journals.Unlock()
	if ok, seen := journals.dir[dir]; seen {
		return ok
	}
	var fs unix.Statfs_t
	var st unix.Stat_t
	if err := unix.Statfs(dir, &fs); err != nil || unix.Stat(dir, &st) != nil {
		return false // not cached: the directory may not exist yet
	}
	ok := false
	if fs.Type == unix.EXT4_SUPER_MAGIC {
		link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
		if err == nil {
			_, err = os.Stat(filepath.Join("/proc/fs/jbd2", filepath.Base(link)+"-8"))
			ok = err == nil
		}
	}
	if journals.dir == nil {
		journals.dir = make(map[string]bool)
	}
	journals.dir[dir] = ok
	return ok
}

// writeOut writes f's dirty pages and waits for them, without a journal
// commit.
func writeOut(f *os.File) error {
	_, err := ignoringEINTR(func() (int, error) {
		return 0, unix.SyncFileRange(int(f.Fd()), 0, 0,
			unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	})
	return err
}

// fsyncFile fsyncs the file or directory at path.
func fsyncFile(path string) error {
	f, err := plainfile.Read(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
