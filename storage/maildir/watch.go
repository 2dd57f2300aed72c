package maildir

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage/internal/mailstate"
)

// The store watches every mailbox's new/ and cur/ with one inotify
// instance, so that a change another program makes reaches watchers
// (IDLE, NOTIFY, the change feed) at once instead of at the next poll.
// Its own changes are told apart by the file names it announces before
// it makes them (expect): they cause no rescan, so APPEND and STORE on a
// large mailbox never list cur/ again.

const (
	// notifyDelay gathers the events of one external change (a delivery
	// is a create in tmp/ and a rename into new/; a scan moves it on)
	// into one rescan.
	notifyDelay = 30 * time.Millisecond
	// pollFallback is the poll interval when changes cannot be watched
	// (no inotify instance, a network file system, a watch refused).
	pollFallback = 2 * time.Second
	// pollWatched is the poll interval when every mailbox is watched:
	// it only catches what inotify does not report (dovecot-uidlist
	// rewritten by another program alone).
	pollWatched = 30 * time.Second
	// ownExpiry is how long an announced change waits for its event;
	// older announcements (the event was lost with an overflow) go.
	ownExpiry = time.Minute
)

// watchMask is what the store watches in new/ and cur/: files arriving
// and leaving, and the directory going away; notifyMask without
// IN_MOVE_SELF, since a renamed mailbox keeps its watches.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_ONLYDIR

// remoteFS says whether a file system type (statfs f_type) is one whose
// changes made on other hosts inotify does not see; on them the store
// polls.
func remoteFS(typ int64) bool {
	switch typ {
	case unix.NFS_SUPER_MAGIC, unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC,
		unix.CIFS_SUPER_MAGIC, unix.CEPH_SUPER_MAGIC, unix.V9FS_MAGIC,
		unix.AFS_FS_MAGIC, unix.AFS_SUPER_MAGIC, unix.CODA_SUPER_MAGIC,
		unix.OCFS2_SUPER_MAGIC, unix.FUSE_SUPER_MAGIC:
		return true
	}
	return false
}

// watcher is the store's inotify instance.
type watcher struct {
	// wake receives a value when dirty or all became set.
	wake chan struct{}

	mu sync.Mutex // guards everything below; taken after the State's lock, never before it
	f  *os.File   // nil once closed
	fd int
	// byWd maps a watch to its mailbox; byBox holds each watched
	// mailbox's watches (new/, cur/) and the generation they were added
	// in (retain).
	byWd  map[int32]watchRef
	byBox map[*mbox]boxWatch
	gen   uint64
	// own holds the changes the store announced and has not yet seen
	// the events of.
	own    map[ownKey]ownMark
	pruned time.Time
	// dirty holds the mailboxes with external changes not yet synced;
	// all says the event queue overflowed, so every mailbox may have.
	dirty map[*mbox]bool
	all   bool
	// unwatched says a mailbox could not be watched: the store polls
	// at pollFallback until retain watches it. dead says run stopped
	// reading events.
	unwatched bool
	dead      bool
	// busy counts the syncs in a row that found a uidlist locked
	// (retry); each doubles the wait before the next (delay).
	busy int
	// buf receives events, read by run or by check.
	buf []byte
}

type watchRef struct {
	mb  *mbox
	cur bool
}

type boxWatch struct {
	wd  [2]int32 // new/, cur/
	gen uint64
}

// ownKey is a change the store makes: a file name arriving in or
// leaving new/ or cur/.
type ownKey struct {
	wd     int32
	name   string
	arrive bool
}

type ownMark struct {
	n  int
	at time.Time
}

// newWatcher returns an inotify instance for the Maildir whose
// mailboxes live in dirs, or an error when changes there cannot be
// watched: a network file system (another host's changes make no
// events) or no inotify instance left (fs.inotify.max_user_instances).
func newWatcher(dirs ...string) (*watcher, error) {
	for _, d := range dirs {
		var fs unix.Statfs_t
		if err := unix.Statfs(d, &fs); err == nil && remoteFS(int64(fs.Type)) {
			return nil, fmt.Errorf("%s is on a network file system (type %#x)", d, fs.Type)
		}
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &watcher{
		wake:  make(chan struct{}, 1),
		f:     os.NewFile(uintptr(fd), "inotify"), // non-blocking: Read waits in the poller, Close ends it
		fd:    fd,
		byWd:  make(map[int32]watchRef),
		byBox: make(map[*mbox]boxWatch),
		own:   make(map[ownKey]ownMark),
		dirty: make(map[*mbox]bool),
		buf:   make([]byte, 64<<10),
	}, nil
}

// add watches mb's new/ and cur/ unless they are watched. Callers hold
// the State's lock (mb.dir).
func (w *watcher) add(mb *mbox) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	if _, ok := w.byBox[mb]; ok {
		return nil
	}
	var bw boxWatch
	for i, sub := range []string{"new", "cur"} {
		wd, err := unix.InotifyAddWatch(w.fd, filepath.Join(mb.dir, sub), watchMask)
		if err != nil {
			if i == 1 {
				unix.InotifyRmWatch(w.fd, uint32(bw.wd[0]))
				delete(w.byWd, bw.wd[0])
			}
			w.unwatched = true
			return fmt.Errorf("watch %s: %w", filepath.Join(mb.dir, sub), err)
		}
		bw.wd[i] = int32(wd)
		w.byWd[int32(wd)] = watchRef{mb: mb, cur: i == 1}
	}
	w.gen++
	bw.gen = w.gen
	w.byBox[mb] = bw
	return nil
}

// remove stops watching mb (a mailbox being deleted).
func (w *watcher) remove(mb *mbox) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removeLocked(mb)
}

func (w *watcher) removeLocked(mb *mbox) {
	bw, ok := w.byBox[mb]
	if !ok {
		return
	}
	delete(w.byBox, mb)
	for _, wd := range bw.wd {
		delete(w.byWd, wd)
		if w.f != nil {
			unix.InotifyRmWatch(w.fd, uint32(wd))
		}
	}
	for k := range w.own {
		if k.wd == bw.wd[0] || k.wd == bw.wd[1] {
			delete(w.own, k)
		}
	}
	delete(w.dirty, mb)
}

// generation returns the count of watches added so far (retain).
func (w *watcher) generation() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// retain drops the watches of mailboxes that are no longer live and
// were watched before generation since; it clears unwatched when every
// live mailbox is watched.
func (w *watcher) retain(live map[*mbox]bool, since uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for mb, bw := range w.byBox {
		if !live[mb] && bw.gen <= since {
			w.removeLocked(mb)
		}
	}
	all := true
	for mb := range live {
		if _, ok := w.byBox[mb]; !ok {
			all = false
		}
	}
	w.unwatched = !all
	w.prune()
}

// polling says whether some change may go unreported: a mailbox is
// not watched, or events are no longer read.
func (w *watcher) polling() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unwatched || w.dead || w.f == nil
}

// expect announces that the store is about to make name arrive in (or
// leave) mb's cur/ (new/ when cur is false), so that its event causes no
// rescan. Callers hold the State's lock and call unexpect when the
// change fails.
func (w *watcher) expect(mb *mbox, cur bool, name string, arrive bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k, ok := w.ownKey(mb, cur, name, arrive)
	if !ok {
		return // not watched: no event will come
	}
	m := w.own[k]
	m.n++
	m.at = time.Now()
	w.own[k] = m
}

// unexpect withdraws an announcement of expect.
func (w *watcher) unexpect(mb *mbox, cur bool, name string, arrive bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if k, ok := w.ownKey(mb, cur, name, arrive); ok {
		w.consume(k)
	}
}

func (w *watcher) ownKey(mb *mbox, cur bool, name string, arrive bool) (ownKey, bool) {
	bw, ok := w.byBox[mb]
	if !ok {
		return ownKey{}, false
	}
	wd := bw.wd[0]
	if cur {
		wd = bw.wd[1]
	}
	return ownKey{wd: wd, name: name, arrive: arrive}, true
}

// consume takes one announcement of k, reporting whether there was one.
func (w *watcher) consume(k ownKey) bool {
	m, ok := w.own[k]
	if !ok {
		return false
	}
	if m.n--; m.n == 0 {
		delete(w.own, k)
	} else {
		w.own[k] = m
	}
	return true
}

// take returns the mailboxes with external changes, whether all may
// have them, and the busy count, and starts over.
func (w *watcher) take() (map[*mbox]bool, bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dirty, all := w.dirty, w.all
	w.dirty, w.all = make(map[*mbox]bool), false
	w.prune()
	return dirty, all, w.busy
}

// synced ends a sync that started with the busy count busy: when no
// uidlist was locked meanwhile, the count starts over.
func (w *watcher) synced(busy int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy == busy {
		w.busy = 0
	}
}

// delay is how long to gather events before a sync: notifyDelay,
// doubled for each sync in a row that found a uidlist locked, up to a
// second.
func (w *watcher) delay() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return min(notifyDelay<<min(w.busy, 6), time.Second)
}

// prune drops announcements older than ownExpiry, whose events were
// lost; callers hold w.mu.
func (w *watcher) prune() {
	now := time.Now()
	if now.Sub(w.pruned) < ownExpiry/4 {
		return
	}
	w.pruned = now
	for k, m := range w.own {
		if now.Sub(m.at) > ownExpiry {
			delete(w.own, k)
		}
	}
}

// retry marks mb to be synced again: its uidlist was locked.
func (w *watcher) retry(mb *mbox) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dirty[mb] = true
	w.busy++
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// close ends the instance; run returns.
func (w *watcher) close() {
	w.mu.Lock()
	f := w.f
	w.f = nil
	w.mu.Unlock()
	// Not under w.mu: Close waits for run's read to return, and run
	// reads with w.mu held.
	if f != nil {
		f.Close()
	}
}

// run reads events until the instance is closed, marking the mailboxes
// other programs changed and waking the store's poll loop. Events are
// read with w.mu held, here or by check, so that none is ever
// between the kernel's queue and the dirty set.
func (w *watcher) run(f *os.File) {
	rc, err := f.SyscallConn()
	// drained: the last read emptied the queue, so the next call waits
	// for the poller without reading (its EAGAIN is known). An event
	// queued after that read makes the descriptor ready again (the
	// poller is edge-triggered, and each event is an edge).
	drained := false
	for err == nil {
		var changed bool
		var rerr error
		err = rc.Read(func(fd uintptr) bool {
			if drained {
				drained = false
				return false
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			var read bool
			read, changed, drained, rerr = w.readLocked(int(fd))
			return read || rerr != nil
		})
		if err == nil {
			err = rerr
		}
		if changed {
			w.signal()
		}
	}
	// Closed, or broken: poll instead.
	w.mu.Lock()
	w.dead = true
	w.mu.Unlock()
}

// signal wakes the store's poll loop.
func (w *watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// readLocked reads the events queued on fd, without waiting, and
// handles them: read says some were, changed that one is a change to
// sync, drained that the last read emptied the queue (rather than
// finding it empty). Callers hold w.mu.
func (w *watcher) readLocked(fd int) (read, changed, drained bool, err error) {
	for {
		n, err := unix.Read(fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return read, changed, false, nil
		}
		if err != nil {
			return read, changed, false, err
		}
		if n <= 0 {
			return read, changed, false, os.ErrClosed
		}
		read = true
		buf := w.buf[:n]
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			end := off + unix.SizeofInotifyEvent + nameLen
			if end > n {
				break
			}
			name := buf[off+unix.SizeofInotifyEvent : end]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if w.event(wd, mask, string(name)) {
				changed = true
			}
			off = end
		}
		// A read takes every queued event that fits: one that left
		// room for the largest event emptied the queue, and another
		// read would only say EAGAIN.
		if n <= len(w.buf)-maxInotifyEvent {
			return read, changed, true, nil
		}
	}
}

// maxInotifyEvent is the size of the largest inotify event: the header
// and a name of NAME_MAX bytes with its NUL.
const maxInotifyEvent = unix.SizeofInotifyEvent + unix.NAME_MAX + 1

// check tells what inotify knows of mb since its last sync. clean: no
// other program has changed its new/ or cur/ (it is watched, events are
// read and none were lost, and none for it is queued: the queue is read
// here first), so a sync may skip the stat of new/, cur/ and
// dovecot-uidlist; a change to dovecot-uidlist alone (no file arriving
// or leaving) is left to the poll at pollWatched. dirty: another program
// has changed it; the mark is taken, and the caller scans (a stat could
// miss a change made in the same mtime step as the last one seen).
// Neither: look at the stamps.
func (w *watcher) check(mb *mbox) (clean, dirty bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.dead || w.all || w.unwatched {
		return false, false
	}
	if _, ok := w.byBox[mb]; !ok {
		return false, false
	}
	_, changed, _, err := w.readLocked(w.fd)
	if changed {
		w.signal() // for the other mailboxes
	}
	switch {
	case err != nil || w.all:
		return false, false
	case w.dirty[mb]:
		delete(w.dirty, mb)
		return false, true
	}
	return true, false
}

// event handles one event with w.mu held and reports whether it is a
// change to sync.
func (w *watcher) event(wd int32, mask uint32, name string) bool {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		// Events were lost, own and others' alike.
		w.all = true
		return true
	}
	ref, ok := w.byWd[wd]
	if !ok {
		return false // a watch removed meanwhile
	}
	switch {
	case mask&unix.IN_IGNORED != 0:
		// The directory went away (another program deleted the
		// mailbox): poll until the mailbox list is synced again.
		w.removeLocked(ref.mb)
		w.unwatched = true
		w.dirty[ref.mb] = true
		return true
	case mask&unix.IN_DELETE_SELF != 0:
		return false // IN_IGNORED follows
	case mask&unix.IN_ISDIR != 0:
		return false
	}
	arrive := mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0
	if w.consume(ownKey{wd: wd, name: name, arrive: arrive}) {
		return false
	}
	if !ref.cur && !arrive {
		// A file leaving new/ was never in the state; where it went,
		// if to cur/, makes its own event.
		return false
	}
	w.dirty[ref.mb] = true
	return true
}

// watchAll watches every mailbox and drops the watches of mailboxes
// that are gone (the mailbox list re-synced).
func (s *store) watchAll() {
	since := s.w.generation()
	live := make(map[*mbox]bool)
	s.st.Each(func(b *mailstate.Box) error {
		mb := ext(b)
		live[mb] = true
		if err := s.w.add(mb); err != nil {
			s.log.Debug("maildir watch", "mailbox", b.Name, "err", err)
		}
		return nil
	})
	s.w.retain(live, since)
}

// syncNotified rescans the mailboxes other programs changed.
func (s *store) syncNotified() error {
	dirty, all, busy := s.w.take()
	if !all && len(dirty) == 0 {
		return nil
	}
	defer s.w.synced(busy)
	return s.st.SyncWhere(func(b *mailstate.Box) bool {
		mb := ext(b)
		if all || dirty[mb] {
			mb.force, mb.notified = true, true
			return true
		}
		return false
	})
}

// expect announces a change of the store's own (watcher.expect).
func (s *store) expect(mb *mbox, cur bool, name string, arrive bool) {
	if s.w != nil {
		s.w.expect(mb, cur, name, arrive)
	}
}

// unexpect withdraws an announcement when the change failed.
func (s *store) unexpect(mb *mbox, cur bool, name string, arrive bool) {
	if s.w != nil {
		s.w.unexpect(mb, cur, name, arrive)
	}
}

// watch starts watching a mailbox made or taken over.
func (s *store) watch(mb *mbox) {
	if s.w == nil {
		return
	}
	if err := s.w.add(mb); err != nil {
		s.log.Debug("maildir watch", "dir", mb.dir, "err", err)
	}
}

// unwatch stops watching a mailbox about to be deleted.
func (s *store) unwatch(mb *mbox) {
	if s.w != nil {
		s.w.remove(mb)
	}
}
