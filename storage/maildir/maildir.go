// Package maildir is the Maildir storage backend, compatible with Dovecot
// and Courier: Maildir++ or fs layout, flags in file names, UIDs in
// dovecot-uidlist (version 3), keywords in dovecot-keywords, subscriptions
// in Dovecot's subscriptions file. An existing Dovecot Maildir opens with
// its UIDVALIDITY, UIDs and keywords. MODSEQs, the expunge history, the
// cache and the full-text index live in the user's SQLite index
// (storage/index), which can be rebuilt from the Maildir.
package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
	"cote/storage/internal/plainfile"
)

// FsyncMode follows Dovecot's mail_fsync.
type FsyncMode int

const (
	// FsyncOptimized (the default) fsyncs each saved file, its directory
	// and the control files it changes.
	FsyncOptimized FsyncMode = iota
	FsyncAlways
	FsyncNever
)

// Options configure a store.
type Options struct {
	// Location is the mail_location value, e.g. "maildir:~/Maildir" or
	// "maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir".
	Location string
	Home     string
	User     string
	Fsync    FsyncMode
	// DovecotCompat keeps dovecot-uidvalidity in the root up to date with
	// the UIDVALIDITY values cote gives, for a Dovecot sharing the tree.
	DovecotCompat bool
	// Delimiter is the IMAP hierarchy separator; 0 means '/'.
	Delimiter rune
	// PollInterval is how often external changes are looked for to wake
	// watchers; negative disables it and the inotify watches. 0 means 30 s
	// when inotify watches the mailboxes (changes then wake watchers at
	// once) and 2 s when it cannot (a network file system, no inotify
	// instance left, a watch refused).
	PollInterval time.Duration
	Log          *slog.Logger
	// IndexPath is the index database; "" means IndexFile in the
	// location's INDEX= directory, or in the Maildir root.
	IndexPath string
	// QuotaRules are the values of Dovecot's quota_rule, quota_rule2,
	// ... settings, e.g. "*:storage=1G" and "*:messages=10000".
	QuotaRules []string
	// NoTextIndexer leaves the full-text index to SEARCH (which reads
	// what is not indexed) instead of filling it in the background.
	NoTextIndexer bool
	// DeferTextIndexer starts the background indexer only at
	// StartTextIndexer: a worker that only delivers does not index the
	// texts it saves (6% of the server's CPU under LMTP); the user's
	// first session, in this worker or a later one, indexes them.
	DeferTextIndexer bool
	// IndexGroupCommit is how long the index's commits of changes may
	// wait for others to commit with (index.Options.GroupCommit): 0 means
	// DefaultIndexGroupCommit, a negative value commits each at once.
	IndexGroupCommit time.Duration
}

// DefaultIndexGroupCommit is Options.IndexGroupCommit's default. A second
// takes in the bursts of a client's commands and of deliveries to a user
// (docs/storage.md, "The index").
const DefaultIndexGroupCommit = time.Second

func groupCommit(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultIndexGroupCommit
	case d < 0:
		return 0
	}
	return d
}

// Open opens the user's Maildir, creating the root and INBOX if needed.
func Open(opts Options) (storage.Store, error) {
	loc, err := ParseLocation(opts.Location, opts.Home, opts.User)
	if err != nil {
		return nil, err
	}
	limits, err := index.ParseQuotaRules(opts.QuotaRules)
	if err != nil {
		return nil, err
	}
	s := &store{
		limits: limits,
		loc:    loc,
		delim:  opts.Delimiter,
		fsync:  opts.Fsync != FsyncNever,
		compat: opts.DovecotCompat,
		log:    opts.Log,
		pid:    os.Getpid(),
		stop:   make(chan struct{}),
		kick:   make(chan struct{}, 1),

		syncText: syncTextMax,
	}
	if s.delim == 0 {
		s.delim = '/'
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	s.host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	if err := os.MkdirAll(loc.Root, 0o700); err != nil {
		return nil, fmt.Errorf("maildir root: %w", ioErr(err))
	}
	idxPath := indexPath(opts, loc)
	s.idx, _, err = index.Open(idxPath, index.Options{NoSync: !s.fsync, SyncAll: opts.Fsync == FsyncAlways, GroupCommit: groupCommit(opts.IndexGroupCommit)})
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	boxes, err := s.loadAll()
	if err != nil {
		s.idx.Close()
		return nil, err
	}
	var subs []string
	if data, err := os.ReadFile(filepath.Join(loc.Root, "subscriptions")); err == nil {
		subs = parseSubscriptions(data, s.delim)
	}
	st, err := mailstate.New(s, s.delim, boxes, subs)
	if err != nil {
		s.idx.Close()
		return nil, err
	}
	s.st = st
	if opts.PollInterval >= 0 {
		s.startWatching(opts.PollInterval)
	}
	s.textIndexer = !opts.NoTextIndexer
	if !opts.DeferTextIndexer {
		s.startIndexer()
	}
	return &Store{State: st, s: s}, nil
}

// Indexing reports whether the background text indexer has work in
// hand: it was woken, or runs a round. Messages left for their age
// (indexMinAge) are not work in hand. A worker with no session left
// stays while it is true, so that a mailbox it was the first to see
// (a migration, a Maildir that came without an index) is indexed once
// rather than partly by every short session.
func (st *Store) Indexing() bool {
	if st.s.indexing.Load() {
		return true
	}
	st.s.indexerMu.Lock()
	defer st.s.indexerMu.Unlock()
	return st.s.indexerOn && !st.s.closed && len(st.s.kick) > 0
}

// StartTextIndexer starts the background text indexer of a store opened
// with DeferTextIndexer; it does nothing when the indexer runs, is off
// (NoTextIndexer) or the store is closed.
func (st *Store) StartTextIndexer() { st.s.startIndexer() }

// startIndexer starts the indexer goroutine once.
func (s *store) startIndexer() {
	s.indexerMu.Lock()
	defer s.indexerMu.Unlock()
	if !s.textIndexer || s.indexerOn || s.closed {
		return
	}
	s.indexerOn = true
	s.wg.Add(1)
	go s.indexer()
	s.kickIndexer()
}

// Store is an open Maildir.
type Store struct {
	*mailstate.State
	s *store
}

// Close stops watching the Maildir and closes the store.
func (st *Store) Close() error {
	var err error
	st.s.closeOnce.Do(func() {
		st.s.indexerMu.Lock()
		st.s.closed = true
		st.s.indexerMu.Unlock()
		close(st.s.stop)
		if st.s.w != nil {
			st.s.w.close()
		}
		st.s.wg.Wait()
		st.s.saveStamps()
		st.s.locks.drop("")
		err = st.State.Close()
		if cerr := st.s.idx.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// saveStamps keeps each mailbox's stamps in the index when they are
// safe to trust, so that the next process opens the mailbox without
// listing its directories (loadBox).
func (s *store) saveStamps() {
	err := s.st.Each(func(b *mailstate.Box) error {
		mb := ext(b)
		if mb.row.ID == 0 || b.Deleted() || mb.pending != nil || mb.changed() {
			return nil
		}
		mb.saved = mb.persistStamps()
		return s.Commit(b)
	})
	if err != nil && !errors.Is(err, storage.ErrClosed) {
		s.log.Warn("index stamps", "err", err)
	}
}

// store is the mailstate.Backend; its methods run with the State's lock
// held, except poll.
type store struct {
	loc    Location
	delim  rune
	fsync  bool
	compat bool
	log    *slog.Logger
	host   string
	pid    int
	st     *mailstate.State
	idx    *index.DB
	limits index.Limits
	mem    memCache // structures read or saved last

	// Guarded by the State's lock.
	lastSec, lastUsec int64
	lastUIDValidity   uint32
	lastFresh         uint64
	// lostSeen is the index's count of lost groups (index.DB.Lost) last
	// logged (rewriteLost).
	lostSeen uint64

	stop chan struct{}
	kick chan struct{} // wakes the indexer (text.go)
	// indexing is set while the indexer has been woken and has not
	// finished its round (Indexing).
	indexing atomic.Bool
	// w watches the mailboxes (watch.go); nil when it cannot, or when
	// polling is off. Set before the goroutines start.
	w *watcher
	// syncText is how many unindexed messages a search indexes itself
	// (syncTextMax; tests lower it).
	syncText int
	// unscanned are the mailboxes that were left to be scanned at
	// their first use (mbox.pending) when the store opened; guarded by
	// the State's lock.
	unscanned []*mailstate.Box
	// locks are the dovecot-uidlist locks kept between operations.
	locks uidlistLocks
	// preloaded holds the index's mailboxes while loadAll runs.
	preloaded map[string]*index.Loaded
	// scans counts directory scans (scanLocked), for tests; guarded by
	// the State's lock.
	scans     int
	closeOnce sync.Once
	wg        sync.WaitGroup

	indexerMu sync.Mutex // guards the three fields below
	// textIndexer says the store fills the full-text index (not
	// NoTextIndexer); indexerOn that its goroutine was started; closed
	// that Close began, after which no goroutine is added to wg.
	textIndexer, indexerOn, closed bool
}

// mbox is a Box's Maildir data.
type mbox struct {
	dir    string
	kw     []string // dovecot-keywords, index = letter - 'a'
	uid    *uidlist
	stamps [3]stamp // new/, cur/, dovecot-uidlist as last scanned
	// force makes the next Sync scan whatever the stamps say: inotify
	// reported a change, which may have left the mtimes as they were.
	// notified says the next Sync is the one inotify asked for;
	// polled that it is the periodic poll's, which looks at the stamps
	// even when inotify saw nothing (watcher.check).
	force, notified, polled bool
	// stampsAt is when stamps were taken.
	stampsAt time.Time
	// saved is what the index row's stamps column should hold
	// (persistStamps): the stamps the rows match, or "".
	saved string
	// pending is set while the mailbox has not been scanned since the
	// store opened (its directories changed since the index rows were
	// written, or the index does not know it): the scan waits for the
	// mailbox's first use (Sync), so that a login does not list a big
	// INBOX it may never select.
	pending *pendingScan
	// lazyUidlist says dovecot-uidlist was written without fsync
	// (newUidlist): the first record appended fsyncs it and the
	// mailbox directory.
	lazyUidlist bool
	// lostSeen is the index's count of lost groups when the mailbox's
	// rows were last made to match (rewriteLost).
	lostSeen uint64
	// uidlistSize is the size of dovecot-uidlist as cote last read or
	// wrote it; records are appended at that offset.
	uidlistSize int64
	// stale counts uidlist records whose files are gone; the file is
	// rewritten when they are a quarter of it (Dovecot's compression).
	stale int

	row     index.Box       // the index row as last written; ID 0 before
	dirty   map[uint32]bool // UIDs whose rows Commit writes
	expDone int             // b.Expunges[:expDone] are in the index
	trim    bool            // the index's history needs trimming
}

// pendingScan is what the first scan of a mailbox (firstScan) needs to
// know of its open.
type pendingScan struct {
	known   bool // the index had rows for the uidlist's UIDVALIDITY
	existed bool // the Maildir had a dovecot-uidlist
}

// mmsg is a message's Maildir data.
type mmsg struct {
	name string   // file name in cur/
	ext  []string // dovecot-uidlist extension fields
}

type stamp struct {
	mtime int64
	size  int64
	ino   uint64
}

// statStamp stats path with stat(2) itself: os.Stat's FileInfo and name
// copy were allocations on every command's sync, which takes three.
func statStamp(path string) stamp {
	var st unix.Stat_t
	if _, err := ignoringEINTR(func() (int, error) { return 0, unix.Stat(path, &st) }); err != nil {
		return stamp{}
	}
	return stamp{mtime: st.Mtim.Nano(), size: st.Size, ino: st.Ino}
}

func (mb *mbox) currentStamps() [3]stamp {
	return [3]stamp{
		statStamp(filepath.Join(mb.dir, "new")),
		statStamp(filepath.Join(mb.dir, "cur")),
		statStamp(filepath.Join(mb.dir, "dovecot-uidlist")),
	}
}

// changed says whether the mailbox needs a scan: inotify reported a
// change, or the stamps moved.
func (mb *mbox) changed() bool { return mb.force || mb.currentStamps() != mb.stamps }

// curFresh says whether cur/ is as the stamps have it and inotify
// reported no change: an operation that only renames or removes files in
// cur/ (SetFlags, Expunge) may then take cur/'s stamp again after it
// (refreshCurAfter) without hiding another program's change. It looks at
// cur/ alone: new/ and dovecot-uidlist keep their stamps, which the next
// Sync compares, so two stats per such operation are saved.
func (mb *mbox) curFresh() bool {
	return !mb.force && statStamp(filepath.Join(mb.dir, "cur")) == mb.stamps[1]
}

// refreshCurAfter takes cur/'s stamp again after the store's own change
// there, when cur/ was fresh before it. stampsAt stays: the other stamps
// were taken then, and cur/'s new mtime is younger than it, so that
// persistStamps does not trust the stamps before a later refresh.
func (mb *mbox) refreshCurAfter(fresh bool) {
	if fresh {
		mb.stamps[1] = statStamp(filepath.Join(mb.dir, "cur"))
	}
}

// stampMargin is how much older than the moment they were taken the
// stamps' mtimes must be for the index to trust them across processes:
// a directory's mtime moves in coarse steps, so a change made in the
// same step as the one recorded would leave it as it was (Dovecot's
// maildir sync uses the same rule).
const stampMargin = time.Second

func formatStamps(st [3]stamp) string {
	var b []byte
	for i, x := range st {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, x.mtime, 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, x.size, 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, x.ino, 10)
	}
	return string(b)
}

// persistStamps returns the stamps to keep in the index for the next
// process: mb.stamps when the rows match them and they are safe to
// trust (stampMargin), else "".
func (mb *mbox) persistStamps() string {
	for _, x := range mb.stamps {
		if x == (stamp{}) {
			continue // a missing new/ or uidlist
		}
		if mb.stampsAt.UnixNano()-x.mtime < int64(stampMargin) {
			return ""
		}
	}
	return formatStamps(mb.stamps)
}

func ext(b *mailstate.Box) *mbox { return b.Ext.(*mbox) }

// dirOf returns the directory of a mailbox.
func (s *store) dirOf(name string) string {
	if name == "INBOX" {
		switch {
		case s.loc.Inbox != "":
			return s.loc.Inbox
		case s.loc.Layout == "maildir++":
			return s.loc.Root
		}
		return filepath.Join(s.loc.Root, "INBOX")
	}
	levels := strings.Split(name, string(s.delim))
	for i, l := range levels {
		if !s.loc.UTF8 {
			levels[i] = encodeMUTF7(l)
		}
	}
	if s.loc.Layout == "fs" {
		return filepath.Join(append([]string{s.loc.Root}, levels...)...)
	}
	return filepath.Join(s.loc.Root, "."+strings.Join(levels, "."))
}

// ValidName implements mailstate.Backend.
func (s *store) ValidName(name string) error {
	if name == "INBOX" {
		return nil
	}
	for _, l := range strings.Split(name, string(s.delim)) {
		bad := l == "." || l == ".." || strings.ContainsAny(l, "/~") && s.delim != '/' ||
			s.loc.Layout == "maildir++" && strings.Contains(l, ".") && s.delim != '.' ||
			s.loc.Layout == "fs" && (l == "cur" || l == "new" || l == "tmp" || strings.HasPrefix(l, "."))
		if bad {
			return fmt.Errorf("%q: %w", name, storage.ErrInvalidName)
		}
	}
	if len(name) > 255 {
		return fmt.Errorf("%q: %w", name, storage.ErrInvalidName)
	}
	return nil
}

// NewUIDValidity implements mailstate.Backend: the current Unix time, as
// Dovecot's fallback, kept increasing.
func (s *store) NewUIDValidity() uint32 {
	v := uint32(time.Now().Unix())
	if v <= s.lastUIDValidity {
		v = s.lastUIDValidity + 1
	}
	s.lastUIDValidity = v
	if s.compat {
		p := filepath.Join(s.loc.Root, "dovecot-uidvalidity")
		old, _ := os.ReadFile(p)
		if n, err := strconv.ParseUint(strings.TrimSpace(string(old)), 16, 32); err != nil || uint32(n) < v {
			if err := s.writeAtomic(p, fmt.Appendf(nil, "%08x", v)); err != nil {
				s.log.Warn("write dovecot-uidvalidity", "err", err)
			}
		}
	}
	return v
}

// KeywordLimit implements mailstate.Backend: a-z in file names.
func (s *store) KeywordLimit() int { return maxKeywords }

// newBase returns a new unique base file name.
func (s *store) newBase() string {
	now := time.Now()
	sec, usec := now.Unix(), int64(now.Nanosecond()/1000)
	if sec < s.lastSec || sec == s.lastSec && usec <= s.lastUsec {
		sec, usec = s.lastSec, s.lastUsec+1
		if usec >= 1e6 {
			sec, usec = sec+1, 0
		}
	}
	s.lastSec, s.lastUsec = sec, usec
	return fmt.Sprintf("%d.M%dP%d.%s", sec, usec, s.pid, s.host)
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loadAll finds every mailbox under the root.
func (s *store) loadAll() ([]*mailstate.Box, error) {
	names := []string{"INBOX"}
	dirs := map[string]string{"INBOX": s.dirOf("INBOX")}
	switch s.loc.Layout {
	case "fs":
		filepath.WalkDir(s.loc.Root, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() || path == s.loc.Root {
				return nil
			}
			base := d.Name()
			if base == "cur" || base == "new" || base == "tmp" || strings.HasPrefix(base, ".") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "cur")); err != nil {
				return nil
			}
			rel, _ := filepath.Rel(s.loc.Root, path)
			n, ok := s.nameOfRaw(strings.Split(rel, string(filepath.Separator)))
			if ok && n != "INBOX" && dirs[n] == "" {
				names = append(names, n)
				dirs[n] = path
			}
			return nil
		})
	default:
		ents, err := os.ReadDir(s.loc.Root)
		if err != nil {
			return nil, ioErr(err)
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." || strings.HasPrefix(n, ".DOVECOT-TRASHED") {
				continue
			}
			name, ok := s.nameOfRaw(strings.Split(n[1:], "."))
			if ok && name != "INBOX" && dirs[name] == "" {
				names = append(names, name)
				dirs[name] = filepath.Join(s.loc.Root, n)
			}
		}
	}
	pre, err := s.idx.LoadAll()
	if err != nil {
		return nil, err
	}
	s.preloaded = pre
	defer func() { s.preloaded = nil }()
	var boxes []*mailstate.Box
	for _, n := range names {
		b, err := s.loadBox(n, dirs[n])
		if err != nil {
			return nil, fmt.Errorf("open mailbox %q: %w", n, err)
		}
		boxes = append(boxes, b)
	}
	return boxes, nil
}

// nameOfRaw is nameOf before the State exists: it checks levels only.
func (s *store) nameOfRaw(levels []string) (string, bool) {
	for i, l := range levels {
		if l == "" {
			return "", false
		}
		if !s.loc.UTF8 {
			d, err := decodeMUTF7(l)
			if err != nil {
				return "", false
			}
			levels[i] = d
		}
		if strings.ContainsRune(levels[i], s.delim) || strings.ContainsAny(levels[i], "\x00\r\n*%") {
			return "", false
		}
	}
	if strings.EqualFold(levels[0], "INBOX") {
		levels[0] = "INBOX"
	}
	return strings.Join(levels, string(s.delim)), true
}

func (s *store) mkdirs(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return ioErr(err)
		}
	}
	return nil
}

// loadBox reads one mailbox: its uidlist, its index rows when the index
// has them for the same UIDVALIDITY, and a scan of cur/ and new/ that
// reconciles the two. Only files the index does not know are read.
func (s *store) loadBox(name, dir string) (*mailstate.Box, error) {
	_, uerr := os.Stat(filepath.Join(dir, "dovecot-uidlist"))
	existed := uerr == nil
	if err := s.mkdirs(dir); err != nil {
		return nil, err
	}
	s.cleanTmp(dir, time.Now())
	mb := &mbox{dir: dir}
	if data, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords")); err == nil {
		mb.kw = parseKeywords(data)
	}
	b := mailstate.NewBox(name, 0)
	b.Ext = mb
	for _, k := range mb.kw {
		if k != "" {
			b.Keywords = append(b.Keywords, k)
		}
	}
	unlock, err := s.lockUidlist(dir, lockTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()
	stamps := mb.currentStamps()
	if err := s.readUidlist(b); err != nil {
		return nil, err
	}
	b.UIDValidity = mb.uid.UIDValidity
	known, err := s.loadFromIndex(b)
	if err != nil {
		return nil, err
	}
	if known && mb.row.Stamps != "" && mb.row.Stamps == formatStamps(stamps) {
		// Nothing changed in new/, cur/ or the uidlist since the rows
		// were written: they are the truth, and no listing is needed.
		mb.stamps, mb.stampsAt, mb.saved = stamps, time.Now(), mb.row.Stamps
		b.UIDNext = max(b.UIDNext, mb.uid.NextUID)
		return b, nil
	}
	// The uidlist just read need not be read again by the scan.
	mb.stamps[2] = stamps[2]
	mb.pending = &pendingScan{known: known, existed: existed}
	s.unscanned = append(s.unscanned, b)
	if known {
		b.UIDNext = max(b.UIDNext, mb.uid.NextUID)
	}
	return b, nil
}

// firstScan is the scan a mailbox waited for since the store opened
// (mbox.pending): it reconciles the index rows, if any, with the files
// and writes the rows. Callers hold the uidlist lock.
func (s *store) firstScan(b *mailstate.Box) error {
	mb := ext(b)
	p := mb.pending
	if !p.known && p.existed {
		// Clients may know this mailbox from Dovecot or from a lost
		// index: MODSEQs start above anything they can hold.
		b.ModSeq = max(b.ModSeq, s.freshModSeq())
		b.HistoryFrom = b.ModSeq
	}
	if err := s.scanLocked(b); err != nil {
		return err
	}
	mb.pending = nil
	if !p.known {
		// The messages found are not \Recent.
		b.HistoryFrom = b.ModSeq
		b.RecentFrom = b.UIDNext
	}
	if err := s.Commit(b); err != nil {
		if !errors.Is(err, storage.ErrTemporary) {
			return err
		}
		// On a full disk the mailbox still opens; the rows are written
		// with the next change.
		s.log.Warn("index not updated", "mailbox", b.Name, "err", err)
	}
	return nil
}

// readUidlist (re)reads dovecot-uidlist, making a new one when it is
// missing or broken. Callers hold the uidlist lock.
func (s *store) readUidlist(b *mailstate.Box) error {
	mb := ext(b)
	path := filepath.Join(mb.dir, "dovecot-uidlist")
	data, err := os.ReadFile(path)
	var u *uidlist
	switch {
	case err == nil:
		u, err = parseUidlist(data)
		if err != nil {
			s.log.Warn("broken dovecot-uidlist, rebuilding", "path", path, "err", err)
		}
	case !os.IsNotExist(err):
		return ioErr(err)
	}
	if u == nil {
		uv := b.UIDValidity
		if uv == 0 {
			uv = s.NewUIDValidity()
		}
		u = &uidlist{UIDValidity: uv, NextUID: max(b.UIDNext, 1)}
		if mb.uid != nil {
			u.NextUID = max(u.NextUID, mb.uid.NextUID)
		}
	}
	if b.UIDValidity != 0 && u.UIDValidity != b.UIDValidity {
		s.log.Warn("dovecot-uidlist UIDVALIDITY changed", "path", path, "old", b.UIDValidity, "new", u.UIDValidity)
		b.Remove(uidsOf(b.Msgs), b.NextModSeq())
		b.UIDValidity = u.UIDValidity
		b.UIDNext = 1
	}
	mb.uid = u
	mb.uidlistSize = int64(len(data))
	if err != nil || data == nil {
		mb.uidlistSize = -1 // rewrite before appending
	}
	mb.stale = 0
	return nil
}

func uidsOf(msgs []*mailstate.Msg) []uint32 {
	out := make([]uint32, len(msgs))
	for i, m := range msgs {
		out[i] = m.UID
	}
	return out
}

// writeUidlist rewrites dovecot-uidlist whole.
func (s *store) writeUidlist(mb *mbox) error {
	return s.rewriteUidlist(mb, false)
}

// rewriteUidlist is writeUidlist; with late (journal.go) the new file
// is written out and renamed into place without an fsync, for the
// caller's fsync to commit with its own changes.
func (s *store) rewriteUidlist(mb *mbox, late bool) error {
	if mb.uid.GUID == "" {
		mb.uid.GUID = newGUID()
	}
	data := mb.uid.format()
	path := filepath.Join(mb.dir, "dovecot-uidlist")
	var err error
	if late {
		err = s.replaceFileLate(path, data)
	} else {
		err = s.writeAtomic(path, data)
	}
	if err != nil {
		return err
	}
	mb.uidlistSize = int64(len(data))
	mb.stale = 0
	mb.lazyUidlist = false
	return nil
}

// writeLazyUidlist writes the first dovecot-uidlist of a mailbox that
// has no message yet, without fsync: an empty mailbox that loses it in
// a power loss just gets a new UIDVALIDITY. The first record appended
// makes it durable (mbox.lazyUidlist).
func (s *store) writeLazyUidlist(mb *mbox) error {
	if mb.uid.GUID == "" {
		mb.uid.GUID = newGUID()
	}
	data := mb.uid.format()
	if err := s.replaceFile(filepath.Join(mb.dir, "dovecot-uidlist"), data, false); err != nil {
		return err
	}
	mb.uidlistSize = int64(len(data))
	mb.stale = 0
	mb.lazyUidlist = s.fsync
	return nil
}

// newUidlist writes the dovecot-uidlist of a mailbox whose directory
// was made just now (no messages) with writeLazyUidlist, and records
// the directories' stamps as the state matches them.
func (s *store) newUidlist(b *mailstate.Box) error {
	mb := ext(b)
	mb.uid.NextUID = max(mb.uid.NextUID, b.UIDNext, 1)
	if err := s.writeLazyUidlist(mb); err != nil {
		return err
	}
	b.UIDNext = max(b.UIDNext, mb.uid.NextUID)
	mb.refreshStamps()
	mb.force = false
	mb.saved = mb.persistStamps()
	return nil
}

// appendUidlist makes the records recs (already in mb.uid.Recs) durable
// by appending them to dovecot-uidlist, as Dovecot does; the header's
// next UID is then below the last record, which readers allow. The file
// is rewritten instead when it is not as cote last saw it. A failed
// append is cut off again.
//
// dir, when not "", is a directory the caller needs durable too (cur/
// after a save renamed files into it). It is fsynced after the records
// are written and before the file is: on a journaled file system the
// directory's fsync then commits the uidlist's change with the rename,
// and the file's finds nothing left to commit, so that a save costs two
// journal commits instead of three (ext4: counted in
// /proc/fs/jbd2/*/info), while each fsync POSIX asks for is still made.
//
// synced, when not nil, is a file in dir that was written out but not
// fsynced (journal.go): the records are written out too, and the file's
// fsync then commits the file, the rename and the records at once. It
// is the save's last fsync: the commit holds the directories' entries
// and the records, and a later fsync of cur/ or of the uidlist would
// find nothing to commit and only flush the disk's cache again.
func (s *store) appendUidlist(mb *mbox, recs []uidRec, dir string, synced *os.File) error {
	path := filepath.Join(mb.dir, "dovecot-uidlist")
	rewrite := func() error {
		if synced != nil {
			// The new uidlist joins the save's one journal commit:
			// written out and renamed, then the file's fsync commits
			// the file, its rename and the new uidlist.
			if err := s.rewriteUidlist(mb, true); err != nil {
				return err
			}
			return ioErr(synced.Sync())
		}
		if dir != "" {
			if err := s.fsyncDir(dir); err != nil {
				return err
			}
		}
		return s.writeUidlist(mb)
	}
	if mb.uidlistSize <= 0 || mb.uid.GUID == "" || 4*mb.stale > len(mb.uid.Recs) {
		return rewrite()
	}
	f, err := plainfile.Open(path, os.O_RDWR, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return rewrite()
		}
		return ioErr(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ioErr(err)
	}
	last := make([]byte, 1)
	if st.Size() != mb.uidlistSize {
		f.Close()
		return rewrite()
	}
	if _, err := f.ReadAt(last, st.Size()-1); err != nil || last[0] != '\n' {
		f.Close()
		return rewrite()
	}
	var buf []byte
	for _, r := range recs {
		buf = append(buf, r.format()...)
	}
	_, err = f.WriteAt(buf, st.Size())
	switch {
	case err != nil:
	case synced != nil:
		if err = writeOut(f); err == nil {
			// Also the first save of a new mailbox's: jbd2 commits
			// in order, so the directories made before are in.
			err = synced.Sync()
		}
	default:
		if dir != "" {
			err = s.fsyncDir(dir)
		}
		if err == nil && s.fsync {
			err = f.Sync()
		}
		if err == nil && mb.lazyUidlist {
			// The first save of a new mailbox: the uidlist's
			// directory entry (and cur/'s) become durable now.
			err = s.fsyncDir(mb.dir)
		}
	}
	if err != nil {
		f.Truncate(st.Size())
		return ioErr(err)
	}
	mb.lazyUidlist = false
	mb.uidlistSize = st.Size() + int64(len(buf))
	return nil
}

// kwIndex returns the letter index of keyword k, adding it to
// dovecot-keywords when add is true.
func (s *store) kwIndex(mb *mbox, k string, add bool) (int, error) {
	for i, x := range mb.kw {
		if x == k {
			return i, nil
		}
	}
	for i, x := range mb.kw {
		if strings.EqualFold(x, k) {
			return i, nil
		}
	}
	if !add {
		return -1, nil
	}
	path := filepath.Join(mb.dir, "dovecot-keywords")
	unlock, err := dotlock(path)
	if err != nil {
		return -1, err
	}
	defer unlock()
	if data, err := os.ReadFile(path); err == nil {
		mb.kw = parseKeywords(data) // another writer may have added some
	}
	if i := slices.Index(mb.kw, k); i >= 0 {
		return i, nil
	}
	i := slices.Index(mb.kw, "")
	if i < 0 {
		if len(mb.kw) >= maxKeywords {
			return -1, storage.ErrKeywordsFull
		}
		mb.kw = append(mb.kw, "")
		i = len(mb.kw) - 1
	}
	mb.kw[i] = k
	if err := s.writeAtomic(path, formatKeywords(mb.kw)); err != nil {
		return -1, err
	}
	return i, nil
}

// info returns the info letters for flags, adding keywords as needed.
func (s *store) info(mb *mbox, flags []string, other string) (string, error) {
	var kerr error
	info := infoFromFlags(flags, other, func(k string) int {
		i, err := s.kwIndex(mb, k, true)
		if err != nil && kerr == nil {
			kerr = err
		}
		return i
	})
	return info, kerr
}
