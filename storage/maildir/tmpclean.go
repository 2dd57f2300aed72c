package maildir

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// A save whose process dies between creating its file in tmp/ and the
// rename leaves the file there. Such files are removed once they are
// older than tmpMaxAge (the limit the Maildir convention and Dovecot
// use), looking at a mailbox's tmp/ at most every tmpScanEvery: the
// time of the last look is tmp/'s access time, which the look sets.
const (
	tmpMaxAge    = 36 * time.Hour
	tmpScanEvery = 8 * time.Hour
)

// cleanTmp removes the files in dir/tmp whose contents and inode have
// both been unchanged for tmpMaxAge at now, when tmp/ was last looked at
// more than tmpScanEvery before now. The inode's change time guards a
// file copied in with an old modification time (rsync -t, cp -p) that
// another program is about to rename. It returns how many it removed.
func (s *store) cleanTmp(dir string, now time.Time) int {
	tmp := filepath.Join(dir, "tmp")
	var st unix.Stat_t
	if err := unix.Stat(tmp, &st); err != nil || !now.After(timeOf(st.Atim).Add(tmpScanEvery)) {
		return 0
	}
	// The mark goes first, so that another process opening the mailbox
	// meanwhile does not look too.
	if err := setAtime(tmp, now); err != nil {
		return 0
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		s.log.Warn("maildir tmp/ cleanup", "dir", tmp, "err", err)
		return 0
	}
	before := now.Add(-tmpMaxAge)
	removed := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(tmp, e.Name())
		var fst unix.Stat_t
		if err := unix.Lstat(path, &fst); err != nil || fst.Mode&unix.S_IFMT != unix.S_IFREG ||
			!timeOf(fst.Mtim).Before(before) || !timeOf(fst.Ctim).Before(before) {
			continue
		}
		if err := unix.Unlink(path); err != nil {
			s.log.Warn("maildir tmp/ cleanup", "file", path, "err", err)
			continue
		}
		removed++
	}
	if removed > 0 {
		s.log.Info("removed files left in tmp/", "dir", tmp, "files", removed)
	}
	return removed
}

// setAtime sets path's access time, leaving its modification time.
func setAtime(path string, at time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), {Nsec: unix.UTIME_OMIT}}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, 0)
}

// timeOf is a time from a stat field.
func timeOf(ts unix.Timespec) time.Time { return time.Unix(ts.Unix()) }
