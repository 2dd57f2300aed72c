package mbox

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/internal/mailstate"
)

// splitContent splits a message (LF line endings) at its first empty
// line. A message without one is kept whole as the body, under an
// empty header: content gives it back without an empty line, so it
// reads back as it was appended.
func splitContent(c []byte) (hdr, body []byte) {
	if len(c) > 0 && c[0] == '\n' {
		return nil, c[1:]
	}
	if i := bytes.Index(c, []byte("\n\n")); i >= 0 {
		return c[:i+1], c[i+2:]
	}
	return nil, c
}

// headerSender is SenderOf for a message header without its empty line:
// the From_ line of a delivered message names its envelope sender, as
// Dovecot's LMTP writes it.
func headerSender(hdr []byte) string {
	return SenderOf(append(slices.Clip(hdr), '\n'))
}

// writeMessage appends one message as Dovecot's mbox save writes it:
// the From_ line, the header, X-IMAPbase (first message only), X-UID,
// Status (R seen, O not recent), X-Status (A answered, F flagged, T
// draft, D deleted), X-Keywords, Content-Length, the empty line, the
// body, and the separating newline. The body is not quoted: readers
// find its end by Content-Length, as Dovecot's do (and Dovecot caches
// the physical size, which quoting would change).
func writeMessage(w *bytes.Buffer, from string, hdr, body []byte, uid uint32, flags []string, old bool, base *imapBase) {
	w.WriteString("From ")
	w.WriteString(from)
	w.WriteByte('\n')
	w.Write(hdr)
	if len(hdr) > 0 && hdr[len(hdr)-1] != '\n' {
		w.WriteByte('\n') // a header cut short at the end of a file
	}
	if base != nil {
		fmt.Fprintf(w, "X-IMAPbase: %d %010d", base.UIDValidity, base.UIDNext)
		for _, k := range base.Keywords {
			w.WriteByte(' ')
			w.WriteString(k)
		}
		w.WriteByte('\n')
	}
	fmt.Fprintf(w, "X-UID: %d\n", uid)
	w.WriteString("Status: ")
	if mailstate.HasFlag(flags, storage.FlagSeen) {
		w.WriteByte('R')
	}
	if old {
		w.WriteByte('O')
	}
	w.WriteByte('\n')
	var xs []byte
	for _, x := range []struct {
		c    byte
		flag string
	}{{'A', storage.FlagAnswered}, {'F', storage.FlagFlagged}, {'T', storage.FlagDraft}, {'D', storage.FlagDeleted}} {
		if mailstate.HasFlag(flags, x.flag) {
			xs = append(xs, x.c)
		}
	}
	if len(xs) > 0 {
		fmt.Fprintf(w, "X-Status: %s\n", xs)
	}
	if kw := mailstate.Keywords(flags); len(kw) > 0 {
		fmt.Fprintf(w, "X-Keywords: %s\n", strings.Join(kw, " "))
	}
	fmt.Fprintf(w, "Content-Length: %d\n\n", len(body))
	w.Write(body)
	w.WriteByte('\n')
}

// baseKeywords returns the keywords X-IMAPbase must list: those it has,
// the mailbox's, and those of flags. Dovecot ignores an X-Keywords name
// that X-IMAPbase does not list.
func baseKeywords(base *imapBase, b *mailstate.Box, flags ...[]string) (kw []string, grew bool) {
	if base != nil {
		kw = slices.Clone(base.Keywords)
	}
	add := func(k string) {
		if !slices.Contains(kw, k) {
			kw = append(kw, k)
			grew = true
		}
	}
	for _, k := range b.Keywords {
		add(k)
	}
	for _, f := range flags {
		for _, k := range mailstate.Keywords(f) {
			add(k)
		}
	}
	return kw, grew
}

// toLF converts CRLF line endings to LF, as mbox files are stored.
func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// lockRead takes the write locks (dotlock, then fcntl) on a mailbox
// file and reads it. unlock closes the file, which drops the fcntl lock,
// and removes the dotlock.
func (s *store) lockRead(mf *mfile) (unlock func(), f *os.File, data []byte, err error) {
	undot, err := dotlock(mf.path)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err = os.OpenFile(mf.path, os.O_RDWR, 0)
	if err != nil {
		undot()
		if os.IsNotExist(err) {
			return nil, nil, nil, fmt.Errorf("%s: %w", mf.path, storage.ErrNoSuchMailbox)
		}
		return nil, nil, nil, ioErr(err)
	}
	unlock = func() { f.Close(); undot() }
	if err := fcntlLock(f, unix.F_WRLCK); err != nil {
		unlock()
		return nil, nil, nil, err
	}
	if data, err = io.ReadAll(f); err != nil {
		unlock()
		return nil, nil, nil, ioErr(err)
	}
	return unlock, f, data, nil
}

// readShared reads a mailbox file under an fcntl read lock.
func readShared(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ioErr(err)
	}
	defer f.Close()
	if err := fcntlLock(f, unix.F_RDLCK); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	return data, ioErr(err)
}

// plan is what a scan of a file found about its UIDs.
type plan struct {
	uidValidity uint32
	uidNext     uint32
	uids        []uint32 // per message; new UIDs where the file had none
	first       int      // first message given a new UID, -1 for none
	write       bool     // the file needs new X-UID or X-IMAPbase headers
	reset       bool     // UIDVALIDITY changed: every message is new
}

// planUIDs works out each message's UID. A message keeps its X-UID when
// it is above the previous message's; from the first one that is not
// (none, or out of order), every message gets a new UID, as with
// Dovecot. A file with messages and no X-IMAPbase gets one.
func (s *store) planUIDs(b *mailstate.Box, msgs []message) plan {
	p := plan{first: -1, uidValidity: b.UIDValidity, uidNext: max(b.UIDNext, 1)}
	var base *imapBase
	real := 0
	for _, m := range msgs {
		if m.Base != nil && base == nil {
			base = m.Base
		}
		if !m.Pseudo {
			real++
		}
	}
	switch {
	case base != nil && p.uidValidity == 0:
		p.uidValidity = base.UIDValidity
	case base != nil && base.UIDValidity != p.uidValidity:
		p.uidValidity, p.reset, p.uidNext = base.UIDValidity, true, 1
	case base == nil && p.uidValidity == 0:
		p.uidValidity = s.NewUIDValidity()
	}
	if base != nil {
		p.uidNext = max(p.uidNext, base.UIDNext)
	}
	if base == nil && real > 0 {
		p.write = true
	}
	var last uint32
	p.uids = make([]uint32, len(msgs))
	for i, m := range msgs {
		if m.Pseudo {
			continue
		}
		if p.first < 0 && m.UID > last {
			p.uids[i] = m.UID
			last = m.UID
			continue
		}
		if p.first < 0 {
			p.first = i
			p.write = true
			p.uidNext = max(p.uidNext, last+1)
			for _, x := range msgs[i:] {
				p.uidNext = max(p.uidNext, x.UID+1)
			}
		}
		p.uids[i] = p.uidNext
		p.uidNext++
	}
	p.uidNext = max(p.uidNext, last+1)
	return p
}

// syncFile reconciles b with its file when the file changed since cote
// last read or wrote it (or always when force). New messages get UIDs,
// written into the file under the write locks.
func (s *store) syncFile(b *mailstate.Box, force bool) error {
	mf := ext(b)
	if !force && statStamp(mf.path) == mf.stamp {
		return nil
	}
	st := statStamp(mf.path)
	data, err := readShared(mf.path)
	if err != nil {
		return err
	}
	msgs, _ := parse(data)
	if p := s.planUIDs(b, msgs); !p.write {
		s.reconcile(b, data, msgs, p, st)
		return nil
	}
	unlock, f, data, err := s.lockRead(mf)
	if err != nil {
		return err
	}
	defer unlock()
	return s.syncLocked(b, f, data)
}

// syncLocked is syncFile for a caller that holds the write locks and
// has read the file: it writes the UIDs the file lacks and reconciles.
func (s *store) syncLocked(b *mailstate.Box, f *os.File, data []byte) error {
	mf := ext(b)
	msgs, _ := parse(data)
	p := s.planUIDs(b, msgs)
	if p.write {
		out := make([]outMsg, len(msgs))
		for i, m := range msgs {
			out[i] = outMsg{keep: true, uid: p.uids[i], flags: m.flags(), old: strings.ContainsRune(m.Status, 'O')}
		}
		k := 0
		if mf.base != nil || hasBase(msgs) {
			k = max(p.first, 0)
		}
		kw, _ := baseKeywords(firstBase(msgs), b)
		base := &imapBase{UIDValidity: p.uidValidity, UIDNext: p.uidNext, Keywords: kw}
		var err error
		if data, err = s.rewrite(f, mf, data, msgs, out, k, base); err != nil {
			return err
		}
		msgs, _ = parse(data)
		if k > 0 {
			s.patchUIDNext(f, data, msgs, p.uidNext)
		}
	}
	st, err := fstatStamp(f)
	if err != nil {
		return err
	}
	s.reconcile(b, data, msgs, p, st)
	return nil
}

func firstBase(msgs []message) *imapBase {
	for _, m := range msgs {
		if m.Base != nil {
			return m.Base
		}
	}
	return nil
}

// rewriteBase rewrites the whole file (data, already written) so that
// its X-IMAPbase lists the keywords kw.
func (s *store) rewriteBase(b *mailstate.Box, f *os.File, data []byte, kw []string) ([]byte, error) {
	mf := ext(b)
	msgs, _ := parse(data)
	out := make([]outMsg, len(msgs))
	next := b.UIDNext
	for i, m := range msgs {
		out[i] = outMsg{keep: true, uid: m.UID, flags: m.flags(), old: strings.ContainsRune(m.Status, 'O')}
		next = max(next, m.UID+1)
	}
	base := &imapBase{UIDValidity: b.UIDValidity, UIDNext: next, Keywords: kw}
	return s.rewrite(f, mf, data, msgs, out, 0, base)
}

func hasBase(msgs []message) bool {
	for _, m := range msgs {
		if m.Base != nil {
			return true
		}
	}
	return false
}

func fstatStamp(f *os.File) (stamp, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return stamp{}, ioErr(err)
	}
	return stamp{mtime: st.Mtim.Nano(), size: st.Size, ino: st.Ino}, nil
}

// reconcile applies the parsed file to the state: messages gone, flags
// changed, messages new.
func (s *store) reconcile(b *mailstate.Box, data []byte, msgs []message, p plan, st stamp) {
	mf := ext(b)
	initial := b.UIDValidity == 0
	if p.reset {
		s.log.Warn("mbox UIDVALIDITY changed", "path", mf.path, "old", b.UIDValidity, "new", p.uidValidity)
		b.Remove(uidsOf(b.Msgs), b.NextModSeq())
		b.UIDNext = 1
	}
	b.UIDValidity = p.uidValidity
	mf.base = nil
	present := make(map[uint32]int, len(msgs))
	for i, m := range msgs {
		if m.Base != nil && mf.base == nil {
			mf.base = m.Base
		}
		if !m.Pseudo && p.uids[i] != 0 {
			m.UID = p.uids[i]
			msgs[i] = m
			present[m.UID] = i
		}
	}
	var gone []uint32
	for _, m := range b.Msgs {
		if _, ok := present[m.UID]; !ok {
			gone = append(gone, m.UID)
		}
	}
	if len(gone) > 0 {
		b.Remove(gone, b.NextModSeq())
	}
	firstNew := uint32(0)
	var mtime time.Time
	if fi, err := os.Stat(mf.path); err == nil {
		mtime = fi.ModTime()
	}
	for _, m := range msgs {
		if m.Pseudo || m.UID == 0 {
			continue
		}
		flags := mailstate.NormalizeFlags(m.flags(), b.Keywords)
		if x := b.Find(m.UID); x != nil {
			x.Ext = &mmsg{m: m}
			if !slices.Equal(flags, x.Flags) {
				b.SetFlags(x, flags)
			}
			continue
		}
		if firstNew == 0 {
			firstNew = m.UID
		}
		date, ok := fromDate(m.From)
		if !ok {
			date = mtime
		}
		nm := &mailstate.Msg{UID: m.UID, Flags: flags, InternalDate: date, SaveDate: date,
			Size: crlfSize(content(data, m)), Ext: &mmsg{m: m}}
		nm.ModSeq = b.NextModSeq()
		b.Add(nm)
	}
	b.UIDNext = max(b.UIDNext, p.uidNext)
	if initial {
		// What was there before is not \Recent; what a scan gave UIDs
		// to now (new deliveries) is.
		b.RecentFrom = b.UIDNext
		if firstNew != 0 && len(msgs) > 0 && p.first >= 0 {
			b.RecentFrom = p.uids[p.first]
		}
	}
	mf.stamp = st
	mf.size = int64(len(data))
	mf.tail = tailFor(data, msgs)
}

func uidsOf(msgs []*mailstate.Msg) []uint32 {
	out := make([]uint32, len(msgs))
	for i, m := range msgs {
		out[i] = m.UID
	}
	return out
}

// tailFor returns what must precede a From_ line appended to data: a
// newline when the file does not end in one, and a separator line when
// the last message's end is found by From_ lines.
func tailFor(data []byte, msgs []message) string {
	if len(data) == 0 {
		return ""
	}
	t := ""
	if data[len(data)-1] != '\n' {
		t = "\n"
	}
	if len(msgs) == 0 {
		return t
	}
	last := msgs[len(msgs)-1]
	if last.End == int64(len(data)) && (!last.Quoted || t == "") {
		// No separator after the last message yet.
		if t == "" {
			t = "\n"
		} else if last.Quoted {
			t += "\n"
		}
	}
	return t
}

// outMsg is what a rewrite writes for one message.
type outMsg struct {
	keep  bool
	uid   uint32
	flags []string
	old   bool
}

// rewrite writes the messages from msgs[k] on anew, in place (the file
// keeps its inode, owner and mode, and another MDA's fcntl lock waits on
// the same file), truncates it, fsyncs it and returns the new contents.
// base goes into the first kept message when the rewrite starts there.
func (s *store) rewrite(f *os.File, mf *mfile, data []byte, msgs []message, out []outMsg, k int, base *imapBase) ([]byte, error) {
	start := int64(len(data))
	if k < len(msgs) {
		start = msgs[k].Start
	}
	var buf bytes.Buffer
	firstKept := true
	for i := range msgs[:k] {
		if out[i].keep && !msgs[i].Pseudo {
			firstKept = false
		}
	}
	for i := k; i < len(msgs); i++ {
		m := msgs[i]
		if !out[i].keep {
			continue
		}
		if m.Pseudo {
			buf.Write(data[m.Start:m.End])
			buf.WriteByte('\n')
			continue
		}
		hdr, body := split(data, m)
		var bp *imapBase
		if firstKept {
			bp = base
			firstKept = false
		}
		writeMessage(&buf, m.From, hdr, body, out[i].uid, out[i].flags, out[i].old, bp)
	}
	if err := s.writeTail(f, start, buf.Bytes()); err != nil {
		return nil, err
	}
	nd := append(data[:start:start], buf.Bytes()...)
	st, err := fstatStamp(f)
	if err != nil {
		return nil, err
	}
	mf.stamp, mf.size = st, int64(len(nd))
	return nd, nil
}

// writeTail replaces the file from off on with tail.
func (s *store) writeTail(f *os.File, off int64, tail []byte) error {
	if _, err := f.WriteAt(tail, off); err != nil {
		return ioErr(err)
	}
	if err := f.Truncate(off + int64(len(tail))); err != nil {
		return ioErr(err)
	}
	if s.fsync {
		return ioErr(f.Sync())
	}
	return nil
}

// truncateAt empties a file from off on.
func (s *store) truncateAt(f *os.File, mf *mfile, off int64) error {
	if err := s.writeTail(f, off, nil); err != nil {
		return err
	}
	st, err := fstatStamp(f)
	if err != nil {
		return err
	}
	mf.stamp, mf.size, mf.tail = st, off, ""
	return nil
}

// replace writes a whole file's contents under its locks.
func (s *store) replace(mf *mfile, data []byte) error {
	unlock, f, _, err := s.lockRead(mf)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.writeTail(f, 0, data); err != nil {
		return err
	}
	st, err := fstatStamp(f)
	if err != nil {
		return err
	}
	msgs, _ := parse(data)
	mf.stamp, mf.size, mf.tail = st, int64(len(data)), tailFor(data, msgs)
	return nil
}

// patchUIDNext raises the UID-next field of X-IMAPbase in place; it is
// written with ten digits (as Dovecot does) so that it can be. It
// reports false when the field is not there in that form.
func (s *store) patchUIDNext(f *os.File, data []byte, msgs []message, next uint32) bool {
	if len(msgs) == 0 || msgs[0].Base == nil || msgs[0].Base.UIDNext >= next {
		return len(msgs) > 0 && msgs[0].Base != nil
	}
	hdr := data[msgs[0].HdrStart:msgs[0].BodyStart]
	i := bytes.Index(hdr, []byte("\nX-IMAPbase: "))
	if i < 0 {
		if !bytes.HasPrefix(hdr, []byte("X-IMAPbase: ")) {
			return false
		}
		i = -1
	}
	p := i + 1 + len("X-IMAPbase: ")
	sp := bytes.IndexByte(hdr[p:], ' ')
	if sp < 0 {
		return false
	}
	p += sp + 1
	if p+10 > len(hdr) || (p+10 < len(hdr) && hdr[p+10] != ' ' && hdr[p+10] != '\n') {
		return false
	}
	if _, err := strconv.ParseUint(string(hdr[p:p+10]), 10, 32); err != nil {
		return false
	}
	digits := fmt.Appendf(nil, "%010d", next)
	if _, err := f.WriteAt(digits, msgs[0].HdrStart+int64(p)); err != nil {
		return false
	}
	copy(data[msgs[0].HdrStart+int64(p):], digits)
	return true
}

// Sync implements mailstate.Backend.
func (s *store) Sync(b *mailstate.Box) error { return s.syncFile(b, false) }

// Append implements mailstate.Backend (RFC 9051 section 6.3.12): under
// the dotlock and the fcntl lock, the message is written at the end of
// the file and the file fsynced before Append returns. A failed write is
// cut off again.
func (s *store) Append(b *mailstate.Box, r io.Reader, m *mailstate.Msg) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	hdr, body := splitContent(toLF(raw))
	hdr = filterHeader(hdr)
	mf := ext(b)
	unlock, f, data, err := s.lockRead(mf)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.syncLocked(b, f, data); err != nil {
		return err
	}
	off := mf.size
	uid := b.UIDNext
	var base *imapBase
	kw, grew := baseKeywords(mf.base, b, m.Flags)
	if mf.base == nil {
		base = &imapBase{UIDValidity: b.UIDValidity, UIDNext: uid + 1, Keywords: kw}
		grew = false
	}
	var buf bytes.Buffer
	buf.WriteString(mf.tail)
	writeMessage(&buf, fromLine(headerSender(hdr), m.InternalDate), hdr, body, uid, m.Flags, false, base)
	if _, err := f.WriteAt(buf.Bytes(), off); err != nil {
		f.Truncate(off)
		return ioErr(err)
	}
	if s.fsync {
		if err := f.Sync(); err != nil {
			f.Truncate(off)
			return ioErr(err)
		}
	}
	all := append(data[:off:off], buf.Bytes()...)
	msgs, _ := parse(all)
	if grew {
		if all, err = s.rewriteBase(b, f, all, kw); err != nil {
			return err
		}
		msgs, _ = parse(all)
		base = msgs[0].Base
	} else if base == nil {
		s.patchUIDNext(f, all, msgs, uid+1)
	}
	pm := msgs[len(msgs)-1]
	m.UID = uid
	m.Size = crlfSize(content(all, pm))
	m.Ext = &mmsg{m: pm}
	if base != nil {
		mf.base = base
	}
	st, err := fstatStamp(f)
	if err != nil {
		return err
	}
	mf.stamp, mf.size, mf.tail = st, int64(len(all)), ""
	return nil
}

// change rewrites the file for a flag change or an expunge: edit gives
// the new state of the messages it knows (by UID); the rewrite starts at
// the first message that changes.
func (s *store) change(b *mailstate.Box, edit func(uid uint32, o *outMsg) bool) error {
	mf := ext(b)
	unlock, f, data, err := s.lockRead(mf)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.syncLocked(b, f, data); err != nil {
		return err
	}
	if data, err = readAllAt(f); err != nil {
		return err
	}
	msgs, _ := parse(data)
	p := s.planUIDs(b, msgs)
	out := make([]outMsg, len(msgs))
	k := len(msgs)
	expunged := false
	for i, m := range msgs {
		out[i] = outMsg{keep: true, uid: p.uids[i], flags: m.flags(), old: p.uids[i] < b.RecentFrom}
		if m.Pseudo {
			continue
		}
		if edit(p.uids[i], &out[i]) {
			k = min(k, i)
			if !out[i].keep {
				expunged = true
			}
		}
	}
	if k == len(msgs) {
		return nil
	}
	var newFlags [][]string
	for i := k; i < len(out); i++ {
		newFlags = append(newFlags, out[i].flags)
	}
	kw, grew := baseKeywords(firstBase(msgs), b, newFlags...)
	base := &imapBase{UIDValidity: b.UIDValidity, UIDNext: b.UIDNext, Keywords: kw}
	if grew || expunged && !s.patchUIDNext(f, data, msgs, b.UIDNext) {
		k = 0
	}
	data, err = s.rewrite(f, mf, data, msgs, out, k, base)
	if err != nil {
		return err
	}
	msgs, _ = parse(data)
	st, err := fstatStamp(f)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if x := b.Find(m.UID); x != nil && !m.Pseudo {
			x.Ext = &mmsg{m: m}
		}
	}
	mf.stamp, mf.size, mf.tail = st, int64(len(data)), tailFor(data, msgs)
	return nil
}

func readAllAt(f *os.File) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, ioErr(err)
	}
	data, err := io.ReadAll(f)
	return data, ioErr(err)
}

// SetFlags implements mailstate.Backend by rewriting the status headers
// of the messages, from the first that changes on.
func (s *store) SetFlags(b *mailstate.Box, msgs []*mailstate.Msg, flags [][]string) error {
	want := make(map[uint32][]string, len(msgs))
	for i, m := range msgs {
		want[m.UID] = flags[i]
	}
	return s.change(b, func(uid uint32, o *outMsg) bool {
		f, ok := want[uid]
		if !ok || sameFlags(f, o.flags) {
			return false
		}
		o.flags = f
		return true
	})
}

func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !mailstate.HasFlag(b, x) {
			return false
		}
	}
	return true
}

// Expunge implements mailstate.Backend by rewriting the file without the
// messages (from the first one removed on).
func (s *store) Expunge(b *mailstate.Box, msgs []*mailstate.Msg) error {
	drop := make(map[uint32]bool, len(msgs))
	for _, m := range msgs {
		drop[m.UID] = true
	}
	return s.change(b, func(uid uint32, o *outMsg) bool {
		if !drop[uid] {
			return false
		}
		o.keep = false
		return true
	})
}

// Copy implements mailstate.Backend: the messages are appended to the
// destination file in one write, fsynced.
func (s *store) Copy(src *mailstate.Box, msgs []*mailstate.Msg, dst *mailstate.Box, out []*mailstate.Msg) error {
	sdata, err := os.ReadFile(ext(src).path)
	if err != nil {
		return ioErr(err)
	}
	smsgs, _ := parse(sdata)
	byUID := make(map[uint32]message, len(smsgs))
	for _, m := range smsgs {
		byUID[m.UID] = m
	}
	type part struct{ hdr, body []byte }
	parts := make([]part, len(msgs))
	for i, m := range msgs {
		pm, ok := byUID[m.UID]
		if !ok {
			return fmt.Errorf("uid %d: %w", m.UID, storage.ErrNoSuchMessage)
		}
		parts[i].hdr, parts[i].body = split(sdata, pm)
	}
	mf := ext(dst)
	unlock, f, data, err := s.lockRead(mf)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.syncLocked(dst, f, data); err != nil {
		return err
	}
	off := mf.size
	next := dst.UIDNext
	var buf bytes.Buffer
	buf.WriteString(mf.tail)
	var allFlags [][]string
	for _, o := range out {
		allFlags = append(allFlags, o.Flags)
	}
	kw, grew := baseKeywords(mf.base, dst, allFlags...)
	if mf.base == nil {
		grew = false
	}
	for i, p := range parts {
		var base *imapBase
		if i == 0 && mf.base == nil {
			base = &imapBase{UIDValidity: dst.UIDValidity, UIDNext: next + uint32(len(parts)), Keywords: kw}
		}
		writeMessage(&buf, fromLine(headerSender(p.hdr), out[i].InternalDate), p.hdr, p.body, next+uint32(i), out[i].Flags, false, base)
	}
	if _, err := f.WriteAt(buf.Bytes(), off); err != nil {
		f.Truncate(off)
		return ioErr(err)
	}
	if s.fsync {
		if err := f.Sync(); err != nil {
			f.Truncate(off)
			return ioErr(err)
		}
	}
	all := append(data[:off:off], buf.Bytes()...)
	amsgs, _ := parse(all)
	if grew {
		if all, err = s.rewriteBase(dst, f, all, kw); err != nil {
			return err
		}
		amsgs, _ = parse(all)
	} else {
		s.patchUIDNext(f, all, amsgs, next+uint32(len(parts)))
	}
	added := amsgs[len(amsgs)-len(parts):]
	for i := range out {
		out[i].UID = next + uint32(i)
		out[i].Ext = &mmsg{m: added[i]}
	}
	if mf.base == nil && len(amsgs) > 0 {
		mf.base = amsgs[0].Base
	}
	st, err := fstatStamp(f)
	if err != nil {
		return err
	}
	mf.stamp, mf.size, mf.tail = st, int64(len(all)), ""
	return nil
}
