package maildir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage/internal/mailstate"
	"cote/storage/internal/plainfile"
)

// Sync implements mailstate.Backend: it rescans the mailbox when new/,
// cur/ or dovecot-uidlist changed since the last scan, or inotify
// reported a change by another program.
//
// A sync inotify asked for (mb.notified) does not wait for another
// program's uidlist lock while it holds the State's lock, which would
// stall the user's sessions: it leaves the mailbox to the next try
// (mb.force stays set).
func (s *store) Sync(b *mailstate.Box) error {
	mb := ext(b)
	notified, polled := mb.notified, mb.polled
	mb.notified, mb.polled = false, false
	if mb.pending == nil && !mb.force && !notified && !polled && s.w != nil {
		clean, dirty := s.w.check(mb)
		if clean {
			return nil
		}
		mb.force = dirty
	}
	if mb.pending == nil && !mb.changed() {
		return nil
	}
	wait := lockTimeout
	if notified {
		wait = 0
	}
	unlock, err := s.lockUidlist(mb.dir, wait)
	if notified && errors.Is(err, errLockBusy) {
		s.w.retry(mb)
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	if mb.pending != nil {
		return s.firstScan(b)
	}
	return s.scanLocked(b)
}

// startWatching starts the goroutines that look for external changes:
// the inotify reader when the mailboxes can be watched, and poll.
func (s *store) startWatching(interval time.Duration) {
	dirs := []string{s.loc.Root, s.dirOf("INBOX")}
	w, err := newWatcher(dirs...)
	if err != nil {
		s.log.Info("maildir changes found by polling", "err", err)
	} else {
		s.w = w
		s.watchAll()
		s.wg.Add(1)
		f := w.f
		go func() {
			defer s.wg.Done()
			w.run(f)
		}()
		// A change made while the mailboxes were read, before they were
		// watched.
		if err := s.st.SyncWhere(scanned); err != nil {
			s.log.Warn("maildir rescan", "err", err)
		}
	}
	s.wg.Add(1)
	go s.poll(interval)
}

// scanned picks the mailboxes scanned since the store opened: the
// others are scanned at their first use, and changes before it need no
// rescan.
func scanned(b *mailstate.Box) bool { return ext(b).pending == nil }

// polledScan is scanned for the periodic poll, whose syncs compare the
// stamps: they catch what inotify does not report.
func polledScan(b *mailstate.Box) bool {
	mb := ext(b)
	mb.polled = mb.pending == nil
	return mb.polled
}

// pollEvery is the time to the next poll: interval when set, else
// pollWatched when inotify watches every mailbox, pollFallback when not.
func (s *store) pollEvery(interval time.Duration) time.Duration {
	switch {
	case interval > 0:
		return interval
	case s.w == nil || s.w.polling():
		return pollFallback
	}
	return pollWatched
}

// poll looks for external changes until the store closes: it rescans
// the mailboxes inotify reported changed, after notifyDelay, and every
// pollEvery it checks every mailbox's stamps and watches.
func (s *store) poll(interval time.Duration) {
	defer s.wg.Done()
	every := s.pollEvery(interval)
	t := time.NewTimer(every)
	defer t.Stop()
	var wake <-chan struct{}
	if s.w != nil {
		wake = s.w.wake
	}
	for {
		select {
		case <-s.stop:
			return
		case <-wake:
			select {
			case <-s.stop:
				return
			case <-time.After(s.w.delay()):
			}
			if err := s.syncNotified(); err != nil {
				s.log.Warn("maildir rescan", "err", err)
			}
			if next := s.pollEvery(interval); next < every {
				// A watch was lost: poll sooner.
				every = next
				t.Reset(every)
			}
			continue
		case <-t.C:
		}
		if s.w != nil {
			s.watchAll()
		}
		if err := s.st.SyncWhere(polledScan); err != nil {
			s.log.Warn("maildir rescan", "err", err)
		}
		every = s.pollEvery(interval)
		t.Reset(every)
	}
}

// scanLocked reconciles b with the files: it moves new/ into cur/, gives
// UIDs to files dovecot-uidlist does not know, drops records of files
// that are gone and updates the state. Callers hold the uidlist lock.
func (s *store) scanLocked(b *mailstate.Box) error {
	mb := ext(b)
	s.scans++
	mb.force = false
	var files map[string]string
	var stamps [3]stamp
	for attempt := 0; ; attempt++ {
		stamps = mb.currentStamps()
		if mb.uid == nil || stamps[2] != mb.stamps[2] {
			if err := s.readUidlist(b); err != nil {
				return err
			}
		}
		if err := s.moveNew(mb); err != nil {
			return err
		}
		stamps = mb.currentStamps()
		mb.stampsAt = time.Now()
		var err error
		files, err = s.listCur(mb)
		if err != nil {
			return err
		}
		missing := false
		for _, r := range mb.uid.Recs {
			if _, ok := files[r.Base]; !ok && b.Find(r.UID) != nil {
				missing = true
				break
			}
		}
		// A file renamed while cur/ was read may have been missed; look
		// again before calling it expunged.
		if !missing || attempt == 2 || statStamp(filepath.Join(mb.dir, "cur")) == stamps[1] {
			break
		}
	}
	rewrite := mb.uid.GUID == ""
	present := make(map[uint32]string)
	known := make(map[string]bool)
	recs := mb.uid.Recs[:0:0]
	for _, r := range mb.uid.Recs {
		name, ok := files[r.Base]
		if !ok || known[r.Base] {
			mb.stale++
			continue
		}
		known[r.Base] = true
		present[r.UID] = name
		recs = append(recs, r)
	}
	var unknown []string
	for base := range files {
		if !known[base] {
			unknown = append(unknown, base)
		}
	}
	slices.Sort(unknown)
	mb.uid.NextUID = max(mb.uid.NextUID, b.UIDNext)
	added := make([]uidRec, len(unknown))
	for i, base := range unknown {
		added[i] = uidRec{UID: mb.uid.NextUID, Base: base}
		mb.uid.NextUID++
		present[added[i].UID] = files[base]
	}
	cur := openCurDir(filepath.Join(mb.dir, "cur"))
	defer cur.close()
	cur.readNew(added, files)
	recs = append(recs, added...)
	mb.uid.Recs = recs
	// The new records are durable before the state (and so a client)
	// sees their UIDs.
	var err error
	switch {
	case rewrite && len(recs) == 0 && mb.uidlistSize < 0:
		// A new mailbox with no message: nothing to lose yet.
		err = s.writeLazyUidlist(mb)
	case rewrite || 4*mb.stale > len(recs) && mb.stale > 0:
		err = s.writeUidlist(mb)
	case len(added) > 0:
		err = s.appendUidlist(mb, added, "", nil)
	}
	if err != nil {
		return err
	}
	s.reconcile(b, present, cur)
	if b.UIDNext < mb.uid.NextUID {
		b.UIDNext = mb.uid.NextUID
	}
	if rewrite || len(added) > 0 {
		stamps[2] = statStamp(filepath.Join(mb.dir, "dovecot-uidlist"))
	}
	mb.stamps = stamps
	mb.saved = mb.persistStamps()
	return nil
}

// refreshStamps records the directories and uidlist as they are after a
// change cote made itself, so that the change does not cause a rescan. A
// change by another program in the same instant would go unnoticed until
// the next one; callers only do this when nothing had changed before
// their own change.
func (mb *mbox) refreshStamps() {
	mb.stamps = mb.currentStamps()
	mb.stampsAt = time.Now()
}

// reconcile applies the files found (UID to file name) to the state.
func (s *store) reconcile(b *mailstate.Box, present map[uint32]string, cur *curDir) {
	mb := ext(b)
	var gone []uint32
	for _, m := range b.Msgs {
		if _, ok := present[m.UID]; !ok {
			gone = append(gone, m.UID)
		}
	}
	if len(gone) > 0 {
		b.Remove(gone, b.NextModSeq())
	}
	uids := make([]uint32, 0, len(present))
	for u := range present {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	recExt := make(map[uint32][]string, len(mb.uid.Recs))
	for _, r := range mb.uid.Recs {
		recExt[r.UID] = r.Ext
	}
	for _, uid := range uids {
		name := present[uid]
		fi := parseFileName(name)
		fl, _ := flagsFromInfo(fi.Flags, mb.kw)
		flags := mailstate.NormalizeFlags(fl, b.Keywords)
		if m := b.Find(uid); m != nil {
			mm := m.Ext.(*mmsg)
			if mm.name != name {
				mm.name = name
				mb.markDirty(uid)
			}
			mm.ext = recExt[uid]
			if !slices.Equal(flags, m.Flags) {
				b.SetFlags(m, flags)
				mb.markDirty(uid)
			}
			continue
		}
		m := s.newMsg(cur, uid, name, fi, recExt[uid])
		m.Flags = flags
		m.ModSeq = b.NextModSeq()
		b.Add(m)
		mb.markDirty(uid)
	}
}

func (s *store) newMsg(cur *curDir, uid uint32, name string, fi fileInfo, ext []string) *mailstate.Msg {
	m := &mailstate.Msg{UID: uid, Ext: &mmsg{name: name, ext: ext}}
	path := filepath.Join(cur.path, name)
	if mtime, size, ok := cur.stat(name); ok {
		m.InternalDate = mtime
		m.SaveDate = mtime
		m.Size = size
	}
	switch {
	case fi.VSize >= 0:
		m.Size = fi.VSize
	case uidRec{Ext: ext}.ext('W') != "":
		if n, err := parseU32(uidRec{Ext: ext}.ext('W')); err == nil {
			m.Size = int64(n)
		}
	default:
		if n, err := vsize(path); err == nil {
			m.Size = n
		}
	}
	return m
}

// moveNew renames files in new/ into cur/, as Dovecot does on sync.
func (s *store) moveNew(mb *mbox) error {
	ents, err := os.ReadDir(filepath.Join(mb.dir, "new"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return ioErr(err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.ContainsAny(n, "\r\n") {
			continue
		}
		target := n
		if !strings.Contains(n, ":") {
			target += ":2,"
		}
		s.expect(mb, true, target, true)
		err := plainfile.Rename(filepath.Join(mb.dir, "new", n), filepath.Join(mb.dir, "cur", target))
		if err != nil {
			s.unexpect(mb, true, target, true)
			if !os.IsNotExist(err) {
				return ioErr(err)
			}
		}
	}
	return nil
}

// listCur returns the files of cur/ by base name.
func (s *store) listCur(mb *mbox) (map[string]string, error) {
	ents, err := os.ReadDir(filepath.Join(mb.dir, "cur"))
	if err != nil {
		return nil, ioErr(err)
	}
	files := make(map[string]string, len(ents))
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.ContainsAny(n, "\r\n") || e.IsDir() {
			continue
		}
		files[baseName(n)] = n
	}
	return files, nil
}

// readNew learns what a scan needs of the new files (recs): each
// one's date and size, and, for those whose name does not carry it,
// their size with CRLF line endings, which it records as a W extension.
// A Maildir delivered by another program (or copied from another
// server) has no W= in its names: its first scan reads every file, on
// every CPU, since the client's SELECT waits for them all, and takes
// the date and size from the same open file.
func (c *curDir) readNew(recs []uidRec, files map[string]string) {
	found := make([]fileStat, len(recs))
	if len(recs) >= burstMin {
		cpus.beginForeground()
		defer cpus.endForeground()
	}
	parallel(len(recs), func() func(int) {
		return func(k int) {
			r := &recs[k]
			name := files[r.Base]
			if parseFileName(name).VSize >= 0 {
				found[k] = c.statAt(name)
				return
			}
			var vs int64
			found[k], vs = c.vsizeAt(name)
			if found[k].ok {
				r.Ext = []string{"W" + itoa(vs)}
			}
		}
	})
	c.known = make(map[string]fileStat, len(recs))
	for k, r := range recs {
		if found[k].ok {
			c.known[files[r.Base]] = found[k]
		}
	}
}

// vsize returns a file's size with CRLF line endings: its size plus one
// for each LF without a CR before it (what mailstate.CRLFWriter adds).
func vsize(path string) (int64, error) {
	fd, err := ignoringEINTR(func() (int, error) { return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return countCRLF(fd)
}

// countCRLF returns vsize of an open file. A first scan of a Maildir
// whose names carry no W= reads every file for it, so it counts in
// large reads into a reused buffer.
func countCRLF(fd int) (int64, error) {
	bp := vsizeBufs.Get().(*[]byte)
	defer vsizeBufs.Put(bp)
	buf := *bp
	var n int64
	prevR := false
	for {
		k, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, buf) })
		if err != nil {
			return n, err
		}
		if k == 0 {
			return n, nil
		}
		p := buf[:k]
		bare := bytes.Count(p, lfByte) - bytes.Count(p, crlfBytes)
		if prevR && p[0] == '\n' {
			bare-- // the CR ended the previous read
		}
		n += int64(k + bare)
		prevR = p[k-1] == '\r'
	}
}

var (
	vsizeBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
	lfByte    = []byte{'\n'}
	crlfBytes = []byte("\r\n")
)

// curDir stats the files of a cur/ directory relative to a descriptor
// of it: a first scan of a large Maildir stats every new file for its
// date, and a lookup of one name in an open directory is cheaper than
// one of the whole path (and os.Stat's FileInfo).
type curDir struct {
	path  string
	fd    int                 // -1 when the directory could not be opened
	known map[string]fileStat // the new files of a scan (readNew)
	atime atomic.Bool         // O_NOATIME was refused (openNoatime)
}

// fileStat is a file's modification time and size; ok is false when it
// could not be read.
type fileStat struct {
	mtime time.Time
	size  int64
	ok    bool
}

func openCurDir(path string) *curDir {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	return &curDir{path: path, fd: fd}
}

// stat returns a file's modification time and size.
func (c *curDir) stat(name string) (time.Time, int64, bool) {
	st, ok := c.known[name]
	if !ok {
		st = c.statAt(name)
	}
	return st.mtime, st.size, st.ok
}

// statAt is stat without the files readNew learnt.
func (c *curDir) statAt(name string) fileStat {
	if c.fd < 0 {
		fi, err := os.Stat(filepath.Join(c.path, name))
		if err != nil {
			return fileStat{}
		}
		return fileStat{fi.ModTime(), fi.Size(), true}
	}
	var st unix.Stat_t
	if _, err := ignoringEINTR(func() (int, error) { return 0, unix.Fstatat(c.fd, name, &st, 0) }); err != nil {
		return fileStat{}
	}
	return fileStat{timeOf(st.Mtim), st.Size, true}
}

// vsizeAt returns a file's modification time and size, and its vsize,
// from one open.
func (c *curDir) vsizeAt(name string) (fileStat, int64) {
	if c.fd < 0 {
		st := c.statAt(name)
		vs, err := vsize(filepath.Join(c.path, name))
		st.ok = st.ok && err == nil
		return st, vs
	}
	fd, err := openNoatime(c.fd, name, &c.atime)
	if err != nil {
		return fileStat{}, 0
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileStat{}, 0
	}
	vs, err := countCRLF(fd)
	if err != nil {
		return fileStat{}, 0
	}
	return fileStat{timeOf(st.Mtim), st.Size, true}, vs
}

func (c *curDir) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
	}
}
