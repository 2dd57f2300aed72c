package maildir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
	"cote/storage/internal/plainfile"
)

// IndexFile is the index's file name. It lives in the INDEX= directory of
// mail_location when there is one, otherwise in the Maildir root (beside
// Dovecot's own dovecot.index files; neither layout takes a plain file
// there for a mailbox).
const IndexFile = "cote-index.db"

// maxExpungeHistory bounds the expunge history kept for QRESYNC.
const maxExpungeHistory = 10000

// freshModSeq is the first HIGHESTMODSEQ of a mailbox the index does not
// know but whose messages may have been seen by clients before (under
// Dovecot, or under a lost index): the time in microseconds, above any
// MODSEQ a former index can have handed out at fewer than a million
// changes a second. HistoryFrom starts there too, so QRESYNC clients
// resynchronize instead of trusting MODSEQs from before.
func (s *store) freshModSeq() uint64 {
	ms := uint64(time.Now().UnixMicro())
	if ms <= s.lastFresh {
		ms = s.lastFresh + 1
	}
	s.lastFresh = ms
	return ms
}

// boxRow returns b's index row as it should be.
func boxRow(b *mailstate.Box, id int64) index.Box {
	return index.Box{
		ID:          id,
		Name:        b.Name,
		UIDValidity: b.UIDValidity,
		UIDNext:     b.UIDNext,
		ModSeq:      b.ModSeq,
		HistoryFrom: b.HistoryFrom,
		RecentFrom:  b.RecentFrom,
		SpecialUse:  b.SpecialUse,
		Stamps:      ext(b).saved,
	}
}

func msgRow(m *mailstate.Msg) index.Msg {
	return index.Msg{
		UID:          m.UID,
		File:         m.Ext.(*mmsg).name,
		Flags:        m.Flags,
		ModSeq:       m.ModSeq,
		InternalDate: m.InternalDate,
		SaveDate:     m.SaveDate,
		Size:         m.Size,
	}
}

// loadFromIndex fills b from the index when the index knows the mailbox
// with the UIDVALIDITY of its dovecot-uidlist; it reports whether it did.
func (s *store) loadFromIndex(b *mailstate.Box) (bool, error) {
	mb := ext(b)
	var row index.Box
	var msgs []index.Msg
	var exps []index.Expunged
	ok := false
	if s.preloaded != nil {
		if l := s.preloaded[b.Name]; l != nil {
			row, msgs, exps, ok = l.Box, l.Msgs, l.Exp, true
		}
	} else {
		var err error
		if row, msgs, exps, ok, err = s.idx.LoadBox(b.Name); err != nil {
			return false, err
		}
	}
	if !ok || row.UIDValidity != mb.uid.UIDValidity {
		return false, nil
	}
	recExt := make(map[uint32][]string)
	for _, r := range mb.uid.Recs {
		if len(r.Ext) > 0 {
			recExt[r.UID] = r.Ext
		}
	}
	b.Msgs = make([]*mailstate.Msg, 0, len(msgs))
	for _, r := range msgs {
		b.Msgs = append(b.Msgs, &mailstate.Msg{
			UID:          r.UID,
			Flags:        r.Flags,
			ModSeq:       r.ModSeq,
			InternalDate: r.InternalDate,
			SaveDate:     r.SaveDate,
			Size:         r.Size,
			Ext:          &mmsg{name: r.File, ext: recExt[r.UID]},
		})
		if slices.ContainsFunc(r.Flags, isKeyword) {
			b.DefineKeywords(r.Flags)
		}
	}
	b.UIDNext = max(row.UIDNext, 1)
	b.ModSeq = max(row.ModSeq, 1)
	if s.idx.Unclean() {
		// The last writer did not close the index: its last commits
		// (of the metadata tier) may be lost, and the MODSEQs they gave
		// clients would be given again to other changes. HIGHESTMODSEQ
		// moves past any of them (freshModSeq); the history stays.
		b.ModSeq = max(b.ModSeq, s.freshModSeq())
	}
	b.HistoryFrom = row.HistoryFrom
	b.RecentFrom = max(row.RecentFrom, 1)
	b.SpecialUse = row.SpecialUse
	for _, x := range exps {
		b.Expunges = append(b.Expunges, mailstate.Expunged{UID: x.UID, ModSeq: x.ModSeq})
	}
	mb.row = row
	mb.expDone = len(b.Expunges)
	return true, nil
}

func isKeyword(f string) bool { return !strings.HasPrefix(f, `\`) }

// markDirty notes a message whose row Commit must write.
func (mb *mbox) markDirty(uid uint32) {
	if mb.dirty == nil {
		mb.dirty = make(map[uint32]bool)
	}
	mb.dirty[uid] = true
}

// Commit implements mailstate.Backend: it writes the mailbox's row, the
// rows of messages a scan changed, and the expunges not yet written, in
// one transaction.
func (s *store) Commit(b *mailstate.Box) error {
	s.rewriteLost(b)
	mb := ext(b)
	if n := len(b.Expunges) - maxExpungeHistory; n > 0 {
		b.HistoryFrom = max(b.HistoryFrom, b.Expunges[n-1].ModSeq)
		b.Expunges = append([]mailstate.Expunged(nil), b.Expunges[n:]...)
		mb.expDone = max(0, mb.expDone-n)
		mb.trim = true
	}
	row := boxRow(b, mb.row.ID)
	same := row.ID != 0 && row.UIDValidity == mb.row.UIDValidity && row.UIDNext == mb.row.UIDNext &&
		row.ModSeq == mb.row.ModSeq && row.HistoryFrom == mb.row.HistoryFrom &&
		slices.Equal(row.SpecialUse, mb.row.SpecialUse) && row.Name == mb.row.Name && row.Stamps == mb.row.Stamps
	if same && len(mb.dirty) == 0 && mb.expDone == len(b.Expunges) && !mb.trim {
		return nil
	}
	tx, err := s.idx.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.PutBox(&row); err != nil {
		return err
	}
	if mb.row.ID != row.ID {
		// A new row (a mailbox's first commit, a first scan of a
		// Maildir): every message goes in, without looking for rows
		// that cannot be there, several to a statement.
		rows := make([]index.Msg, len(b.Msgs))
		for i, m := range b.Msgs {
			rows[i] = msgRow(m)
		}
		if err := tx.InsertMsgs(row.ID, rows); err != nil {
			return err
		}
		mb.dirty = nil
	}
	for _, x := range b.Expunges[mb.expDone:] {
		if err := tx.Expunge(row.ID, x.UID, x.ModSeq); err != nil {
			return err
		}
	}
	if mb.trim {
		if err := tx.TrimHistory(row.ID, b.HistoryFrom); err != nil {
			return err
		}
	}
	// In UID order, so that new rows' ids follow their UIDs and a
	// mailbox's rows are read in file order.
	dirty := make([]uint32, 0, len(mb.dirty))
	for uid := range mb.dirty {
		dirty = append(dirty, uid)
	}
	slices.Sort(dirty)
	for _, uid := range dirty {
		if m := b.Find(uid); m != nil {
			if err := tx.PutMsg(row.ID, msgRow(m)); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	mb.row = row
	mb.dirty = nil
	mb.expDone = len(b.Expunges)
	mb.trim = false
	return nil
}

// rewriteLost makes up for groups of index commits lost (index.DB.Lost:
// a full disk, an I/O error at a group's commit): b's rows may lack
// changes the store made, so they are written anew at this commit, from
// b's state here, as for a mailbox the index does not know. A mailbox
// not changed again before the store closes keeps rows that do not match
// its Maildir, and the stamps in its row say so: the next open scans it.
// The index keeps its writing marker (DB.Close), so that the next open
// also moves HIGHESTMODSEQ past the MODSEQs the lost commits gave.
func (s *store) rewriteLost(b *mailstate.Box) {
	n, err := s.idx.Lost()
	mb := ext(b)
	if n == mb.lostSeen {
		return
	}
	if n != s.lostSeen {
		s.lostSeen = n
		s.log.Error("index commits lost; each mailbox's rows are written again at its next change", "err", err)
	}
	mb.lostSeen = n
	mb.row = index.Box{}
	mb.dirty = nil
	mb.expDone = 0
}

// commitChange writes one change a hook made, with the MODSEQ the state
// gives it (b.ModSeq+1): fn writes the message rows.
//
// Every change, a save included, commits in the index's metadata tier
// (index.Options): a save is durable through the Maildir before its row
// is written (the file and cur/ fsynced, its dovecot-uidlist record
// fdatasynced), and a row lost with the log's tail in a power loss is
// found again there at the next open, under the same UID (the uidlist's
// size is in the stamps, so the mailbox is scanned; TestLostIndexTail).
func (s *store) commitChange(b *mailstate.Box, uidNext uint32,
	fn func(tx *index.Tx, id int64, modseq uint64) error) error {
	s.rewriteLost(b)
	mb := ext(b)
	if mb.row.ID == 0 || len(mb.dirty) > 0 || mb.expDone != len(b.Expunges) {
		if err := s.Commit(b); err != nil {
			return err
		}
	}
	row := boxRow(b, mb.row.ID)
	row.ModSeq = b.ModSeq + 1
	row.UIDNext = max(row.UIDNext, uidNext)
	tx, err := s.idx.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.PutBox(&row); err != nil {
		return err
	}
	if err := fn(tx, row.ID, row.ModSeq); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	mb.row = row
	return nil
}

// structureOfFile is analyzeFile for a save: the structure now, the text
// later in a batch.
func structureOfFile(path string) (*index.Content, error) {
	raw, err := readForIndex(path)
	if raw == nil || err != nil {
		return nil, err
	}
	return structureOf(raw), nil
}

// structureOf is structureOfFile of a message's bytes (CRLF, at most
// index.MaxParse).
func structureOf(raw []byte) *index.Content {
	return &index.Content{Cached: index.ParseStructure(raw), TextLater: true}
}

// analyzeFile reads a stored message for the index; it returns nil for
// messages over index.MaxParse.
func analyzeFile(path string) (*index.Content, error) {
	raw, err := readForIndex(path)
	if raw == nil || err != nil {
		return nil, err
	}
	c := index.Analyze(raw)
	return &c, nil
}

func readForIndex(path string) ([]byte, error) {
	f, err := plainfile.Read(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > index.MaxParse {
		return nil, nil
	}
	return io.ReadAll(io.LimitReader(mailstate.CRLFReader(f), 2*index.MaxParse))
}

// Cached implements mailstate.ContentBackend. A message saved by another
// program is parsed now and its cache kept.
func (s *store) Cached(b *mailstate.Box, m *mailstate.Msg) (storage.Cached, bool, error) {
	if c, ok := s.mem.get(b, m.UID, false, false, 0); ok {
		return c, true, nil
	}
	mb := ext(b)
	if mb.row.ID != 0 {
		c, ok, err := s.idx.Cached(mb.row.ID, m.UID)
		if err != nil || ok {
			if ok {
				s.mem.put(b, m.UID, c, false)
			}
			return c, ok, err
		}
	}
	content, err := s.readContent(b, m)
	if err != nil || content == nil {
		return storage.Cached{}, false, err
	}
	s.mem.put(b, m.UID, content.Cached, false)
	if err := s.putContent(b, map[uint32]*index.Content{m.UID: content}); err != nil {
		s.log.Warn("index cache", "mailbox", b.Name, "uid", m.UID, "err", err)
	}
	return content.Cached, true, nil
}

func (s *store) readContent(b *mailstate.Box, m *mailstate.Msg) (*index.Content, error) {
	mb := ext(b)
	c, err := analyzeFile(filepath.Join(mb.dir, "cur", m.Ext.(*mmsg).name))
	if os.IsNotExist(err) {
		files, lerr := s.listCur(mb)
		if lerr == nil {
			if n, ok := files[baseName(m.Ext.(*mmsg).name)]; ok {
				c, err = analyzeFile(filepath.Join(mb.dir, "cur", n))
			}
		}
	}
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("uid %d: %w", m.UID, storage.ErrNoSuchMessage)
	}
	return c, ioErr(err)
}

// putContent writes the cache rows cs of b's messages, after b's row.
func (s *store) putContent(b *mailstate.Box, cs map[uint32]*index.Content) error {
	if err := s.Commit(b); err != nil {
		return err
	}
	return s.writeContents(ext(b).row.ID, cs)
}
