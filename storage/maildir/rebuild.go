package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"cote/storage/index"
	"cote/storage/internal/mailstate"
)

// RebuildResult says what Rebuild did.
type RebuildResult struct {
	// Index is the index file written.
	Index string
	// Old is where the previous index was moved ("<index>.old"), "" when
	// there was none.
	Old string
	// Mailboxes and Messages count what the new index holds; Parsed is
	// how many messages were read for the structure cache.
	Mailboxes, Messages, Parsed int
	// HistoryReset is true when the mailboxes had been seen before (their
	// dovecot-uidlist existed): UIDs, flags and keywords come back from
	// the Maildir, but the MODSEQ history is gone. Each mailbox's
	// HIGHESTMODSEQ restarts above any earlier value and ChangesSince of
	// an older MODSEQ says ok=false, so CONDSTORE and QRESYNC clients
	// resynchronize instead of trusting old MODSEQs.
	HistoryReset bool
}

// Rebuild builds the user's index anew from the Maildir (what
// `coteadm index rebuild` runs): the old index file is moved aside to
// "<index>.old", every mailbox is read from its dovecot-uidlist,
// dovecot-keywords and file names (the same UIDs, UIDVALIDITY, flags and
// keywords; files unknown to the uidlist get new UIDs as on any scan), and
// the structure cache is filled for every message. The full-text index
// is filled by the background indexer of the next store opened on it
// (text.go). The user must not be using the store meanwhile.
func Rebuild(opts Options) (RebuildResult, error) {
	var res RebuildResult
	loc, err := ParseLocation(opts.Location, opts.Home, opts.User)
	if err != nil {
		return res, err
	}
	res.Index = indexPath(opts, loc)
	if _, err := os.Stat(res.Index); err == nil {
		res.Old = res.Index + ".old"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(res.Old + suffix)
			if err := os.Rename(res.Index+suffix, res.Old+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, fmt.Errorf("move old index aside: %w", ioErr(err))
			}
		}
	}
	opts.PollInterval = -1
	opts.IndexPath = res.Index
	st, err := Open(opts)
	if err != nil {
		return res, err
	}
	s := st.(*Store)
	// Open leaves the scans to each mailbox's first use.
	if err := s.SyncAll(); err != nil {
		s.Close()
		return res, err
	}
	err = s.State.Each(func(b *mailstate.Box) error {
		res.Mailboxes++
		res.Messages += len(b.Msgs)
		if b.HistoryFrom > 1 {
			res.HistoryReset = true
		}
		n, err := s.s.fillCache(b)
		res.Parsed += n
		return err
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// indexPath is where the index of a store lives.
func indexPath(opts Options, loc Location) string {
	if opts.IndexPath != "" {
		return opts.IndexPath
	}
	dir := loc.Root
	if loc.Index != "" {
		dir = loc.Index
	}
	return filepath.Join(dir, IndexFile)
}

// cacheBatch is how many messages' structure go into one transaction.
const cacheBatch = 512

// fillCache parses every message of b that has no cache row, with a
// worker per CPU, and writes the rows in batches.
func (s *store) fillCache(b *mailstate.Box) (int, error) {
	mb := ext(b)
	if err := s.Commit(b); err != nil {
		return 0, err
	}
	uids, err := s.idx.Uncached(mb.row.ID)
	if err != nil || len(uids) == 0 {
		return 0, err
	}
	type job struct {
		uid  uint32
		path string
	}
	type done struct {
		uid uint32
		c   *index.Content
		err error
	}
	jobs := make(chan job)
	results := make(chan done)
	var wg sync.WaitGroup
	for range workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r structureReader
			for j := range jobs {
				c, err := r.structure(j.path)
				results <- done{j.uid, c, err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, uid := range uids {
			if m := b.Find(uid); m != nil {
				jobs <- job{uid, filepath.Join(mb.dir, "cur", m.Ext.(*mmsg).name)}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	batch := make(map[uint32]*index.Content, cacheBatch)
	n := 0
	var first error
	for r := range results {
		if first != nil {
			continue // drain
		}
		switch {
		case errors.Is(r.err, os.ErrNotExist):
			continue // gone meanwhile; the next scan drops it
		case r.err != nil:
			first = ioErr(r.err)
			continue
		case r.c == nil:
			continue // too large to parse
		}
		batch[r.uid] = r.c
		n++
		if len(batch) >= cacheBatch {
			first = s.putContent(b, batch)
			clear(batch)
		}
	}
	if first == nil && len(batch) > 0 {
		first = s.putContent(b, batch)
	}
	return n, first
}

func workers() int { return max(1, min(8, runtime.NumCPU())) }
