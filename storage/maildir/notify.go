package maildir

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// notifyMask is what a change to a Maildir looks like to inotify: a file
// arriving in new/ or cur/ (delivery, the move from new/ to cur/), leaving
// (expunge), or renamed (a flag change rewrites the file name), and the
// directory itself going away. Dovecot watches the same two directories.
const notifyMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// ChangeNotifier returns an inotify instance watching the mailbox's new/
// and cur/ directories: it becomes readable when the mailbox may have
// changed, in whichever process holds it, without access to the
// directories (imap-hibernate holds it for a hibernated IMAP session).
// Each instance counts against the user's fs.inotify.max_user_instances.
func (st *Store) ChangeNotifier(mailbox string) (*os.File, error) {
	if err := st.s.ValidName(mailbox); err != nil {
		return nil, err
	}
	dir := st.s.dirOf(mailbox)
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	for _, sub := range []string{"new", "cur"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, sub), notifyMask); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("watch %s: %w", filepath.Join(dir, sub), err)
		}
	}
	return os.NewFile(uintptr(fd), "inotify"), nil
}
