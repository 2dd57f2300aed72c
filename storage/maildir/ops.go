package maildir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
	"cote/storage/internal/plainfile"
)

// CreateMailbox implements mailstate.Backend. A directory already on disk
// (made by another program) is taken over with its messages.
func (s *store) CreateMailbox(b *mailstate.Box) error {
	dir := s.dirOf(b.Name)
	_, serr := os.Stat(dir)
	made := os.IsNotExist(serr)
	if err := s.mkdirs(dir); err != nil {
		return err
	}
	if s.loc.Layout == "maildir++" && b.Name != "INBOX" {
		f, err := os.OpenFile(filepath.Join(dir, "maildirfolder"), os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			return ioErr(err)
		}
		f.Close()
	}
	mb := &mbox{dir: dir}
	b.Ext = mb
	unlock, err := s.lockUidlist(dir, lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "dovecot-uidlist")); err == nil {
		// Taken over from another program: its clients may hold MODSEQs.
		b.ModSeq = s.freshModSeq()
		b.HistoryFrom = b.ModSeq
	}
	if err := s.readUidlist(b); err != nil {
		return err
	}
	b.UIDValidity = mb.uid.UIDValidity
	// Watched before the scan, so that nothing arriving is missed.
	s.watch(mb)
	var err2 error
	if made {
		// A directory made just now holds nothing to scan: only the
		// uidlist with the UIDVALIDITY is written, and not fsynced
		// (an empty mailbox that loses it after a power loss just gets
		// a new UIDVALIDITY); the first save makes it durable.
		err2 = s.newUidlist(b)
	} else {
		err2 = s.scanLocked(b)
	}
	if err := err2; err != nil {
		s.unwatch(mb)
		return err
	}
	if err := s.Commit(b); err != nil {
		s.unwatch(mb)
		return err
	}
	return s.fsyncDir(filepath.Dir(dir))
}

// DeleteMailbox implements mailstate.Backend. Maildir++ folders are
// renamed aside first, so a crash never leaves half a mailbox; in the fs
// layout the directory stays when it holds children.
func (s *store) DeleteMailbox(b *mailstate.Box) error {
	mb := ext(b)
	if err := s.idx.DeleteBox(b.Name); err != nil {
		return err
	}
	s.locks.drop("") // none may outlive its directory
	// Its files' removal is no news; should it fail, watchAll watches
	// the mailbox again.
	s.unwatch(mb)
	if s.loc.Layout == "maildir++" {
		trash := filepath.Join(s.loc.Root, ".DOVECOT-TRASHED")
		os.RemoveAll(trash)
		if err := os.Rename(mb.dir, trash); err != nil {
			return ioErr(err)
		}
		return ioErr(os.RemoveAll(trash))
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.RemoveAll(filepath.Join(mb.dir, d)); err != nil {
			return ioErr(err)
		}
	}
	ents, _ := os.ReadDir(mb.dir)
	for _, e := range ents {
		if !e.IsDir() {
			os.Remove(filepath.Join(mb.dir, e.Name()))
		}
	}
	os.Remove(mb.dir) // fails when children remain
	return nil
}

// RenameMailbox implements mailstate.Backend.
func (s *store) RenameMailbox(b *mailstate.Box, newName string, children []*mailstate.Box) error {
	mb := ext(b)
	newDir := s.dirOf(newName)
	s.locks.drop("") // none may move with its directory
	if _, err := os.Stat(newDir); err == nil {
		return fmt.Errorf("%s exists on disk: %w", newDir, storage.ErrMailboxExists)
	}
	if err := os.MkdirAll(filepath.Dir(newDir), 0o700); err != nil {
		return ioErr(err)
	}
	if err := os.Rename(mb.dir, newDir); err != nil {
		return ioErr(err)
	}
	oldDir := mb.dir
	mb.dir = newDir
	if err := s.idx.RenameBox(b.Name, newName, s.delim, len(children) > 0); err != nil {
		return err
	}
	mb.row.Name = newName
	for _, c := range children {
		ext(c).row.Name = newName + strings.TrimPrefix(c.Name, b.Name)
	}
	for _, c := range children {
		cm := ext(c)
		if s.loc.Layout == "fs" {
			cm.dir = newDir + strings.TrimPrefix(cm.dir, oldDir)
			continue
		}
		nd := s.dirOf(newName + strings.TrimPrefix(c.Name, b.Name))
		if err := os.Rename(cm.dir, nd); err != nil {
			return ioErr(err)
		}
		cm.dir = nd
	}
	return s.fsyncDir(filepath.Dir(newDir))
}

// RenameInbox implements mailstate.Backend: INBOX's files move to dst
// with their UIDs and keywords.
func (s *store) RenameInbox(inbox, dst *mailstate.Box) error {
	imb, dmb := ext(inbox), ext(dst)
	unlockI, err := s.lockUidlist(imb.dir, lockTimeout)
	if err != nil {
		return err
	}
	defer unlockI()
	unlockD, err := s.lockUidlist(dmb.dir, lockTimeout)
	if err != nil {
		return err
	}
	defer unlockD()
	dmb.kw = append([]string(nil), imb.kw...)
	if len(dmb.kw) > 0 {
		if err := s.writeAtomic(filepath.Join(dmb.dir, "dovecot-keywords"), formatKeywords(dmb.kw)); err != nil {
			return err
		}
	}
	for _, m := range inbox.Msgs {
		n := m.Ext.(*mmsg).name
		s.expect(imb, true, n, false)
		s.expect(dmb, true, n, true)
		err := plainfile.Rename(filepath.Join(imb.dir, "cur", n), filepath.Join(dmb.dir, "cur", n))
		if err != nil {
			s.unexpect(imb, true, n, false)
			s.unexpect(dmb, true, n, true)
			if !os.IsNotExist(err) {
				return ioErr(err)
			}
		}
	}
	dmb.uid.Recs = imb.uid.Recs
	dmb.uid.NextUID = max(imb.uid.NextUID, inbox.UIDNext)
	for _, m := range inbox.Msgs {
		dmb.markDirty(m.UID) // the state adds them to dst next
	}
	imb.uid.Recs = nil
	if err := s.fsyncDir(filepath.Join(dmb.dir, "cur")); err != nil {
		return err
	}
	if err := s.writeUidlist(dmb); err != nil {
		return err
	}
	return s.writeUidlist(imb)
}

// SetSubscriptions implements mailstate.Backend.
func (s *store) SetSubscriptions(names []string) error {
	path := filepath.Join(s.loc.Root, "subscriptions")
	unlock, err := dotlock(path)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.writeMeta(path, formatSubscriptions(names, s.delim)); err != nil {
		return err
	}
	if err := s.idx.SetSubscriptions(names); err != nil {
		s.log.Warn("index subscriptions", "err", err) // a mirror only
	}
	return nil
}

// Append implements mailstate.Backend (RFC 9051 section 6.3.12): the
// message is written to tmp/ with CRLF line endings and fsynced; then,
// under the uidlist lock, it is renamed into cur/ with its flags, its
// uidlist record appended, cur/ and the uidlist fsynced (in that order:
// two journal commits, appendUidlist), and its index row, cache and text
// committed. On ext4 with a journal the file's fsync comes after the
// record instead and is the save's only one: one journal commit
// (journal.go). A
// failure at any step removes the file again, so the message is either
// fully saved or not visible.
func (s *store) Append(b *mailstate.Box, r io.Reader, m *mailstate.Msg) error {
	mb := ext(b)
	base := s.newBase()
	tmp := filepath.Join(mb.dir, "tmp", base)
	late := s.fsync && onJournal(mb.dir)
	size, raw, held, err := s.writeTmp(tmp, r, saveKeep, late)
	if err != nil {
		return err
	}
	if held != nil {
		defer held.Close()
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if err := s.checkQuota(size, 1); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, m.InternalDate, m.InternalDate); err != nil {
		return ioErr(err)
	}
	var content *index.Content
	switch {
	case raw != nil:
		content = structureOf(raw)
	case size <= index.MaxParse:
		if content, err = structureOfFile(tmp); err != nil {
			return ioErr(err)
		}
	}
	info, err := s.info(mb, m.Flags, "")
	if err != nil {
		return err
	}
	full := fmt.Sprintf("%s,S=%d,W=%d", base, size, size)
	name := full + ":2," + info
	unlock, err := s.lockUidlist(mb.dir, lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	if mb.changed() {
		if err := s.scanLocked(b); err != nil {
			return err
		}
	}
	path := filepath.Join(mb.dir, "cur", name)
	s.expect(mb, true, name, true)
	if err := plainfile.Rename(tmp, path); err != nil {
		s.unexpect(mb, true, name, true)
		return ioErr(err)
	}
	renamed = true
	uid := max(mb.uid.NextUID, b.UIDNext)
	rec := uidRec{UID: uid, Base: full}
	mb.uid.Recs = append(mb.uid.Recs, rec)
	mb.uid.NextUID = uid + 1
	m.UID, m.Size, m.Ext = uid, size, &mmsg{name: name}
	err = s.appendUidlist(mb, []uidRec{rec}, filepath.Join(mb.dir, "cur"), held)
	if err == nil {
		err = s.commitChange(b, uid+1, func(tx *index.Tx, id int64, modseq uint64) error {
			row := msgRow(m)
			row.ModSeq = modseq
			if err := tx.AddMsg(id, row); err != nil {
				return err
			}
			if content == nil {
				return nil
			}
			return tx.PutContent(id, uid, *content)
		})
	}
	if err != nil {
		// The record stays in the uidlist (its UID is never reused);
		// without its file the next scan drops it.
		s.removeOwn(mb, name)
		s.fsyncDir(filepath.Join(mb.dir, "cur"))
		mb.uid.Recs = mb.uid.Recs[:len(mb.uid.Recs)-1]
		mb.stale++
		return err
	}
	if content != nil {
		s.mem.put(b, uid, content.Cached, false)
	}
	mb.refreshStamps()
	s.kickIndexer()
	return nil
}

// scanPending scans the mailboxes not scanned since the store opened,
// so that the index's usage counts their messages.
func (s *store) scanPending() error {
	for _, b := range s.unscanned {
		mb := ext(b)
		if mb.pending == nil || b.Deleted() {
			continue
		}
		unlock, err := s.lockUidlist(mb.dir, lockTimeout)
		if err != nil {
			return err
		}
		err = s.firstScan(b)
		unlock()
		if err != nil {
			return fmt.Errorf("scan %q: %w", b.Name, err)
		}
	}
	s.unscanned = nil
	return nil
}

// removeOwn removes a file of mb's cur/ as the store's own change.
func (s *store) removeOwn(mb *mbox, name string) error {
	s.expect(mb, true, name, false)
	err := os.Remove(filepath.Join(mb.dir, "cur", name))
	if err != nil {
		s.unexpect(mb, true, name, false)
	}
	return err
}

// checkQuota fails with storage.ErrOverQuota when adding size bytes in
// n messages would go over the user's limits.
func (s *store) checkQuota(size, n int64) error {
	if s.limits == (index.Limits{}) {
		return nil
	}
	if err := s.scanPending(); err != nil {
		return err
	}
	bytes, msgs, err := s.idx.Usage()
	if err != nil {
		return err
	}
	if s.limits.Storage > 0 && bytes+size > s.limits.Storage {
		return fmt.Errorf("storage %d+%d over %d bytes: %w", bytes, size, s.limits.Storage, storage.ErrOverQuota)
	}
	if s.limits.Messages > 0 && msgs+n > s.limits.Messages {
		return fmt.Errorf("%d+%d messages over %d: %w", msgs, n, s.limits.Messages, storage.ErrOverQuota)
	}
	return nil
}

// Quota implements mailstate.QuotaBackend.
func (s *store) Quota() (storage.Quota, error) {
	if s.limits != (index.Limits{}) {
		if err := s.scanPending(); err != nil {
			return storage.Quota{}, err
		}
	}
	bytes, msgs, err := s.idx.Usage()
	return storage.Quota{
		StorageUsed:  bytes,
		StorageLimit: s.limits.Storage,
		MessagesUsed: msgs,
		MessageLimit: s.limits.Messages,
	}, err
}

// saveKeep bounds the message Append keeps in memory while writing it,
// for its structure: a larger one is read back from its file.
const saveKeep = 1 << 20

// writeTmp writes r to a new file at path with CRLF line endings, fsynced
// under mail_fsync; with late, only written out, and returned open for
// the caller to fsync after its rename (journal.go) and close. With keep
// > 0 it also returns the bytes written when they are at most keep, so
// that the caller need not read the file back (an open, a stat and reads
// per APPEND).
func (s *store) writeTmp(path string, r io.Reader, keep int, late bool) (int64, []byte, *os.File, error) {
	f, err := plainfile.Open(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, nil, nil, ioErr(err)
	}
	bufs := saveBufs.Get().(*saveBuf)
	defer saveBufs.Put(bufs)
	bw := bufs.w
	bw.Reset(f)
	defer bw.Reset(nil)
	kw := &keepWriter{w: bw, max: keep}
	if sized, ok := r.(interface{ Size() int64 }); ok && sized.Size() <= int64(keep) {
		// Room for the message and a few line ends made CRLF.
		kw.buf = make([]byte, 0, sized.Size()+sized.Size()/32+64)
	}
	cw := &mailstate.CRLFWriter{W: kw}
	_, err = io.CopyBuffer(cw, r, bufs.copy)
	if err == nil {
		err = bw.Flush()
	}
	switch {
	case err != nil || !s.fsync:
	case late:
		if err = writeOut(f); err == nil {
			return cw.N, kw.kept(), f, nil
		}
	default:
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, nil, nil, ioErr(err)
	}
	return cw.N, kw.kept(), nil, nil
}

// saveBuf is writeTmp's buffers, kept between saves (saveBufs): 96 KB
// a save was most of what a delivery allocated.
type saveBuf struct {
	w    *bufio.Writer
	copy []byte
}

var saveBufs = sync.Pool{New: func() any {
	return &saveBuf{w: bufio.NewWriterSize(nil, 64<<10), copy: make([]byte, 32<<10)}
}}

// keepWriter passes writes on to w and keeps a copy of them while they
// come to at most max bytes.
type keepWriter struct {
	w    io.Writer
	buf  []byte
	max  int
	over bool
}

func (k *keepWriter) Write(p []byte) (int, error) {
	if !k.over {
		if len(k.buf)+len(p) > k.max {
			k.over, k.buf = true, nil
		} else {
			k.buf = append(k.buf, p...)
		}
	}
	return k.w.Write(p)
}

// kept returns the bytes written, or nil when they were more than max.
func (k *keepWriter) kept() []byte {
	if k.over {
		return nil
	}
	return k.buf
}

// SetFlags implements mailstate.Backend by renaming the files. A file
// that vanished is skipped; the next scan reconciles it.
func (s *store) SetFlags(b *mailstate.Box, msgs []*mailstate.Msg, flags [][]string) error {
	mb := ext(b)
	cur := filepath.Join(mb.dir, "cur")
	fresh := mb.curFresh()
	defer mb.refreshCurAfter(fresh)
	for i, m := range msgs {
		mm := m.Ext.(*mmsg)
		fi := parseFileName(mm.name)
		_, other := flagsFromInfo(fi.Flags, mb.kw)
		info, err := s.info(mb, flags[i], other)
		if err != nil {
			return err
		}
		name := fi.Base + ":2," + info
		if name == mm.name {
			continue
		}
		s.expect(mb, true, mm.name, false)
		s.expect(mb, true, name, true)
		if err := plainfile.Rename(filepath.Join(cur, mm.name), filepath.Join(cur, name)); err != nil {
			s.unexpect(mb, true, mm.name, false)
			s.unexpect(mb, true, name, true)
			if os.IsNotExist(err) {
				continue
			}
			return ioErr(err)
		}
		mm.name = name
	}
	return s.commitChange(b, 0, func(tx *index.Tx, id int64, modseq uint64) error {
		for i, m := range msgs {
			if err := tx.SetFlags(id, m.UID, m.Ext.(*mmsg).name, flags[i], modseq); err != nil {
				return err
			}
		}
		return nil
	})
}

// Expunge implements mailstate.Backend. The messages' records stay in
// dovecot-uidlist (stale) until it is next rewritten, which they no
// longer are part of.
func (s *store) Expunge(b *mailstate.Box, msgs []*mailstate.Msg) error {
	mb := ext(b)
	fresh := mb.curFresh()
	defer mb.refreshCurAfter(fresh)
	gone := make(map[uint32]bool, len(msgs))
	defer func() {
		mb.uid.Recs = slices.DeleteFunc(mb.uid.Recs, func(r uidRec) bool { return gone[r.UID] })
	}()
	for _, m := range msgs {
		if err := s.removeOwn(mb, m.Ext.(*mmsg).name); err != nil && !os.IsNotExist(err) {
			return ioErr(err)
		}
		gone[m.UID] = true
		mb.stale++
		s.mem.forget(b, m.UID)
	}
	err := s.commitChange(b, 0, func(tx *index.Tx, id int64, modseq uint64) error {
		for _, m := range msgs {
			if err := tx.Expunge(id, m.UID, modseq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The state records these expunges next; they are in the index.
	mb.expDone = len(b.Expunges) + len(msgs)
	return nil
}

// Copy implements mailstate.Backend with hard links (Dovecot's
// maildir_copy_with_hardlinks), falling back to a copy.
func (s *store) Copy(src *mailstate.Box, msgs []*mailstate.Msg, dst *mailstate.Box, out []*mailstate.Msg) error {
	smb, dmb := ext(src), ext(dst)
	var total int64
	for _, m := range msgs {
		total += m.Size
	}
	if err := s.checkQuota(total, int64(len(msgs))); err != nil {
		return err
	}
	unlock, err := s.lockUidlist(dmb.dir, lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	if dmb.changed() {
		if err := s.scanLocked(dst); err != nil {
			return err
		}
	}
	next := max(dmb.uid.NextUID, dst.UIDNext)
	var made []string
	nrecs := len(dmb.uid.Recs)
	fail := func(err error) error {
		for _, n := range made {
			s.removeOwn(dmb, n)
		}
		dmb.uid.Recs = dmb.uid.Recs[:nrecs]
		return err
	}
	for i, m := range msgs {
		sm := m.Ext.(*mmsg)
		fi := parseFileName(sm.name)
		_, other := flagsFromInfo(fi.Flags, smb.kw)
		info, err := s.info(dmb, out[i].Flags, other)
		if err != nil {
			return fail(err)
		}
		from := filepath.Join(smb.dir, "cur", sm.name)
		full := s.newBase()
		if fi.Size >= 0 {
			full += ",S=" + itoa(fi.Size)
		}
		full += ",W=" + itoa(m.Size)
		name := full + ":2," + info
		to := filepath.Join(dmb.dir, "cur", name)
		s.expect(dmb, true, name, true)
		if err := os.Link(from, to); err != nil {
			if err := s.copyFile(from, to, dmb); err != nil {
				s.unexpect(dmb, true, name, true)
				if os.IsNotExist(err) {
					err = fmt.Errorf("uid %d: %w", m.UID, storage.ErrNoSuchMessage)
				}
				return fail(err)
			}
		}
		made = append(made, name)
		out[i].UID = next
		out[i].Ext = &mmsg{name: name}
		dmb.uid.Recs = append(dmb.uid.Recs, uidRec{UID: next, Base: full})
		next++
	}
	dmb.uid.NextUID = next
	if err := s.appendUidlist(dmb, dmb.uid.Recs[nrecs:], filepath.Join(dmb.dir, "cur"), nil); err != nil {
		return fail(err)
	}
	err = s.commitChange(dst, next, func(tx *index.Tx, id int64, modseq uint64) error {
		for _, m := range out {
			row := msgRow(m)
			row.ModSeq = modseq
			if err := tx.PutMsg(id, row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		dmb.stale += len(out)
		return fail(err)
	}
	dmb.refreshStamps()
	s.kickIndexer()
	return nil
}

func (s *store) copyFile(from, to string, dmb *mbox) error {
	in, err := plainfile.Read(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return ioErr(err)
	}
	tmp := filepath.Join(dmb.dir, "tmp", s.newBase())
	if _, _, _, err := s.writeTmp(tmp, in, 0, false); err != nil {
		return err
	}
	os.Chtimes(tmp, st.ModTime(), st.ModTime())
	if err := plainfile.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return ioErr(err)
	}
	return nil
}

// Open implements mailstate.Backend; it returns the file with CRLF line
// endings. A file renamed by another program is looked up by base name.
func (s *store) Open(b *mailstate.Box, m *mailstate.Msg) (io.ReadCloser, error) {
	mb := ext(b)
	mm := m.Ext.(*mmsg)
	f, err := plainfile.Read(filepath.Join(mb.dir, "cur", mm.name))
	if errors.Is(err, os.ErrNotExist) {
		if files, lerr := s.listCur(mb); lerr == nil {
			if n, ok := files[baseName(mm.name)]; ok {
				f, err = plainfile.Read(filepath.Join(mb.dir, "cur", n))
			}
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("uid %d: %w", m.UID, storage.ErrNoSuchMessage)
		}
		return nil, ioErr(err)
	}
	// A file whose name says its size with CRLF line endings (W=) is
	// its size (S=) has none without a CR, as every file cote saves:
	// when the file still has that size, it is given out as it is,
	// without the copy through CRLFReader.
	if size, vsize := mm.sizes(); size >= 0 && vsize == size {
		if st, err := f.Stat(); err == nil && st.Size() == size {
			return f, nil
		}
	}
	return struct {
		io.Reader
		io.Closer
	}{mailstate.CRLFReader(f), f}, nil
}
