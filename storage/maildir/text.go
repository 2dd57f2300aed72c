package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
)

// Full-text indexing. A save leaves the message's text out of the index
// (FTS5 writes a segment per transaction) and wakes the indexer, a
// goroutine of the store that adds the texts of every message not yet
// indexed (saved, delivered by another program, copied, or all of them
// in a Maildir that came without an index) in batches: it reads and
// cuts the texts without the store's lock and takes the lock only to
// write a batch. SEARCH BODY/TEXT answers from the index and reads the
// messages it does not cover, so its answer never depends on how far
// the indexer got.

// textBatch is how many messages the indexer writes in one transaction;
// the store's lock is held while it does.
const textBatch = 256

// syncTextMax is how many unindexed messages a search indexes itself
// before it answers; with more it reads them without indexing and
// leaves them to the indexer.
const syncTextMax = 512

// The indexer starts when the user's mailboxes have been quiet (no
// save woke it) for indexQuiet, or at the latest indexMaxWait after the
// first save it has not indexed: a client that appends and expunges
// all the time (imaptest, a busy delivery) does not pay for the words of
// messages it expunges before they are indexed, and the batches stay
// large. SEARCH TEXT is exact meanwhile: it indexes a few unindexed
// messages itself and reads the rest.
const (
	indexQuiet   = 2 * time.Second
	indexMaxWait = 30 * time.Second
)

// indexMinAge is how long a message has been in its mailbox (its save
// date) before the indexer takes its text: one expunged sooner never
// costs its words. Drafts saved every few seconds, mail a POP3 client
// downloads and deletes, a filter's purge of Junk, imaptest's appends
// and expunges all come and go within minutes. A search meanwhile
// indexes or reads them (syncTextMax), so its answer does not change;
// a message saved with a date in the future is not held back. A var,
// so tests of the indexer can set it to 0.
var indexMinAge = 5 * time.Minute

// kickIndexer wakes the indexer; it never blocks.
func (s *store) kickIndexer() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// indexer fills the full-text index until the store closes.
func (s *store) indexer() {
	defer s.wg.Done()
	// due fires when the first message a round left for being too
	// young is old enough.
	var due <-chan time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-due:
		}
		s.indexing.Store(true)
		if !s.waitQuiet() {
			return
		}
		r := &textRound{cursor: make(map[*mailstate.Box]uint32), now: time.Now()}
		for {
			more, err := s.indexTextBatch(r)
			if err != nil {
				s.log.Warn("full-text index", "err", err)
				break
			}
			if !more {
				break
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
		s.indexing.Store(false)
		due = nil
		if !r.due.IsZero() {
			due = time.After(r.due.Sub(r.now))
		}
	}
}

// textRound is one round of the indexer over the user's mailboxes.
type textRound struct {
	// cursor holds, per mailbox, the highest UID looked at in this
	// round (messages that could not be read are tried again in the
	// next round).
	cursor map[*mailstate.Box]uint32
	now    time.Time
	// due is when the first message left for its age (indexMinAge)
	// is old enough; zero if none was.
	due time.Time
}

// young reports whether a message saved at saved is left for a later
// round, and notes when it will be old enough.
func (r *textRound) young(saved time.Time) bool {
	ready := saved.Add(indexMinAge)
	if saved.After(r.now) || !ready.After(r.now) {
		return false
	}
	if r.due.IsZero() || ready.Before(r.due) {
		r.due = ready
	}
	return true
}

// waitQuiet waits until no kick came for indexQuiet, or indexMaxWait
// has passed; false when the store closes meanwhile.
func (s *store) waitQuiet() bool {
	deadline := time.NewTimer(indexMaxWait)
	defer deadline.Stop()
	quiet := time.NewTimer(indexQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-s.stop:
			return false
		case <-s.kick:
			quiet.Reset(indexQuiet)
		case <-quiet.C:
			return true
		case <-deadline.C:
			return true
		}
	}
}

var errPicked = errors.New("picked")

type textJob struct {
	uid  uint32
	path string
}

// indexTextBatch indexes the next batch of one mailbox's messages in
// round. It reports whether there may be more.
func (s *store) indexTextBatch(round *textRound) (bool, error) {
	cursor := round.cursor
	var box *mailstate.Box
	var rowID int64
	var jobs []textJob
	err := s.st.Each(func(b *mailstate.Box) error {
		mb := ext(b)
		if mb.row.ID == 0 || b.Deleted() || mb.pending != nil {
			return nil
		}
		uids, err := s.idx.UnindexedAfter(mb.row.ID, cursor[b], textBatch)
		if err != nil || len(uids) == 0 {
			return err
		}
		for _, uid := range uids {
			if m := b.Find(uid); m != nil && !round.young(m.SaveDate) {
				jobs = append(jobs, textJob{uid, filepath.Join(mb.dir, "cur", m.Ext.(*mmsg).name)})
			}
		}
		cursor[b] = uids[len(uids)-1]
		box, rowID = b, mb.row.ID
		return errPicked
	})
	if box == nil {
		if errors.Is(err, errPicked) {
			err = nil
		}
		return false, err
	}
	// Reading and splitting the texts into words runs on every CPU (a
	// Maildir that came without an index has many batches to go),
	// giving way when other processes want the CPUs (parallelLow), and
	// waits while a parse a client of this worker waits for runs; the
	// index takes them in one transaction, on this goroutine.
	contents := make([]*index.Content, len(jobs))
	work := func() func(int) {
		var r structureReader
		return func(k int) {
			cpus.yield(s.stop)
			select {
			case <-s.stop:
				return
			default:
			}
			raw, err := r.read(jobs[k].path)
			if err != nil {
				return // renamed or expunged meanwhile: the next round
			}
			c := &index.Content{NoCache: true}
			if raw != nil {
				if t, ok := index.ExtractText(raw); ok {
					w, wok := index.PrepareText(t)
					c.Text, c.Words, c.WordsOK = &t, &w, wok
				}
			}
			contents[k] = c
		}
	}
	// A round of a few messages (a delivery's) is not worth threads of
	// its own and a raised GOMAXPROCS (each change stops the world): it
	// runs here, in a few milliseconds.
	contended := false
	if len(jobs) >= burstMin {
		giveWay(s.stop)
		contended = parallelLow(len(jobs), s.stop, work)
	} else {
		parallel(len(jobs), work)
	}
	select {
	case <-s.stop:
		return false, nil
	default:
	}
	batch := make(map[uint32]index.Content, len(jobs))
	for k, c := range contents {
		if c != nil {
			batch[jobs[k].uid] = *c
		}
	}
	if len(batch) == 0 {
		return true, nil
	}
	if contended {
		// The CPUs were wanted during the parse: the write, which is
		// not paced, waits until they are not.
		giveWay(s.stop)
	}
	err = s.st.Each(func(b *mailstate.Box) error {
		if b != box || ext(b).row.ID != rowID || b.Deleted() {
			return nil
		}
		tx, err := s.idx.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := tx.PutContents(rowID, batch); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return errPicked
	})
	if errors.Is(err, errPicked) {
		err = nil
	}
	return true, err
}

// textQuery is a SEARCH TEXT or BODY query as matchOf checks it.
type textQuery struct {
	query string
	body  bool // BODY: the header is not searched
	// filter tells most messages without the query from their bytes.
	filter *index.RawFilter
}

// matchOf reads a stored message with r's buffer and reports whether
// its text matches q (index.TextMatches); large when it is too large to
// search by its text. cur is the mailbox's cur/ directory, a descriptor
// (unix.AT_FDCWD: not open). Most messages do not contain a rare query:
// q's filter tells them from their bytes as they are, without decoding
// them or making their line ends CRLF.
func (s *store) matchOf(r *structureReader, cur int, b *mailstate.Box, m *mailstate.Msg, q textQuery) (match, large bool, err error) {
	mb := ext(b)
	// Relative to cur's descriptor, with cur/'s path for errors; or by
	// path.
	curDir := filepath.Join(mb.dir, "cur")
	dir, file := curDir, func(name string) string { return name }
	if cur == unix.AT_FDCWD {
		dir, file = "", func(name string) string { return filepath.Join(curDir, name) }
	}
	name := m.Ext.(*mmsg).name
	raw, err := r.readRaw(cur, dir, file(name), m.Size)
	if os.IsNotExist(err) {
		files, lerr := s.listCur(mb)
		if lerr == nil {
			if n, ok := files[baseName(name)]; ok {
				raw, err = r.readRaw(cur, dir, file(n), m.Size)
			}
		}
	}
	if err != nil {
		return false, false, err
	}
	if raw == nil {
		return false, true, nil
	}
	if q.filter.Excludes(raw) {
		return false, false, nil
	}
	t, ok := index.ExtractText(r.toCRLF(raw))
	if !ok {
		return false, true, nil
	}
	return index.TextMatches(t, q.query, q.body), false, nil
}

// SearchText implements mailstate.ContentBackend: the index gives the
// candidates among the indexed messages (the matches themselves for a
// one-word query); candidates that need it and the messages the index
// does not cover are read and checked with index.TextMatches. A few
// unindexed messages are indexed first; many (a Maildir that came
// without an index, while the indexer works through it) are read. The
// answer is exact except for queries too short for the index, whose
// answer is every message, and messages too large to read for it, which
// are candidates.
func (s *store) SearchText(b *mailstate.Box, query string, body bool, uids []uint32) ([]uint32, bool, error) {
	if !index.Answerable(query) {
		return uids, false, nil
	}
	mb := ext(b)
	if err := s.Commit(b); err != nil {
		return nil, false, err
	}
	todo, never, err := s.idx.Unindexed(mb.row.ID)
	if err != nil {
		return nil, false, err
	}
	if len(todo) > 0 && len(todo) <= s.syncText {
		if err := s.indexNow(b, todo); err != nil {
			return nil, false, err
		}
		if todo, never, err = s.idx.Unindexed(mb.row.ID); err != nil {
			return nil, false, err
		}
	}
	if len(todo) > 0 {
		s.kickIndexer()
	}
	found, narrowed, exact, err := s.idx.Search(mb.row.ID, query, body)
	if err != nil {
		return nil, false, err
	}
	unindexed := append(todo, never...)
	slices.Sort(unindexed)
	// What the index answers, and the messages to read for the rest.
	type check struct {
		uid   uint32
		m     *mailstate.Msg
		match bool // read: the text matches
		large bool // read: too large to check
		err   error
	}
	var checks []check
	for _, u := range uids {
		_, isFound := slices.BinarySearch(found, u)
		_, isUnindexed := slices.BinarySearch(unindexed, u)
		if narrowed && !isFound && !isUnindexed {
			continue
		}
		if isFound && exact {
			checks = append(checks, check{uid: u, match: true})
			continue
		}
		if m := b.Find(u); m != nil {
			checks = append(checks, check{uid: u, m: m})
		}
	}
	// Reading is most of a search over messages the indexer has not
	// reached yet (a Maildir that came without an index): many are read
	// on every CPU, as a first FETCH parses them, and most are told
	// apart by their bytes (index.RawFilter) instead of being decoded.
	var read []int
	for k := range checks {
		if checks[k].m != nil {
			read = append(read, k)
		}
	}
	if len(read) >= burstMin {
		cpus.beginForeground()
		defer cpus.endForeground()
	}
	q := textQuery{query: query, body: body, filter: index.NewRawFilter(query)}
	// The files are opened relative to cur/, not each by its full path.
	cur := unix.AT_FDCWD
	if len(read) > 0 {
		if fd, err := unix.Open(filepath.Join(mb.dir, "cur"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			cur = fd
			defer unix.Close(fd)
		}
	}
	parallel(len(read), func() func(int) {
		var r structureReader
		return func(i int) {
			c := &checks[read[i]]
			c.match, c.large, c.err = s.matchOf(&r, cur, b, c.m, q)
		}
	})
	var out []uint32
	complete := true
	for _, c := range checks {
		if errors.Is(c.err, os.ErrNotExist) || errors.Is(c.err, storage.ErrNoSuchMessage) {
			continue
		}
		if c.err != nil {
			return nil, false, ioErr(c.err)
		}
		if c.large {
			out = append(out, c.uid) // too large to check: a candidate
			complete = false
			continue
		}
		if c.match {
			out = append(out, c.uid)
		}
	}
	return out, complete, nil
}

// indexNow indexes the text of some messages of b before a search.
func (s *store) indexNow(b *mailstate.Box, uids []uint32) error {
	batch := make(map[uint32]*index.Content, len(uids))
	for _, uid := range uids {
		m := b.Find(uid)
		if m == nil {
			continue
		}
		c, err := s.readContent(b, m)
		if err != nil {
			s.log.Warn("index text", "mailbox", b.Name, "uid", uid, "err", err)
			continue
		}
		if c == nil {
			c = &index.Content{}
		}
		batch[uid] = c
	}
	if len(batch) == 0 {
		return nil
	}
	return s.putContent(b, batch)
}

// SearchHeader implements mailstate.HeaderSearchBackend: the index's
// header words narrow the search to candidates, and the messages it
// does not cover are candidates too.
func (s *store) SearchHeader(b *mailstate.Box, query string, uids []uint32) ([]uint32, error) {
	if !index.Answerable(query) {
		return uids, nil
	}
	mb := ext(b)
	if err := s.Commit(b); err != nil {
		return nil, err
	}
	found, narrowed, err := s.idx.SearchHeader(mb.row.ID, query)
	if err != nil || !narrowed {
		return uids, err
	}
	todo, never, err := s.idx.Unindexed(mb.row.ID)
	if err != nil {
		return nil, err
	}
	if len(todo) > 0 {
		s.kickIndexer()
	}
	cand := append(append(found, todo...), never...)
	slices.Sort(cand)
	var out []uint32
	for _, u := range uids {
		if _, ok := slices.BinarySearch(cand, u); ok {
			out = append(out, u)
		}
	}
	return out, nil
}
