package mailstate

import (
	"fmt"
	"io"
	"slices"

	"cote/storage"
)

// entry is one message of a session's snapshot.
type entry struct {
	msg storage.Message
	m   *Msg
}

// session is a mailbox opened by one session; it implements
// storage.Mailbox. Its fields are guarded by the State's lock.
type session struct {
	st       *State
	box      *Box
	readOnly bool

	snap        []entry // ascending by UID
	seenModSeq  uint64  // box.ModSeq when the snapshot was last refreshed
	seenUIDNext uint32
	closed      bool
}

// refresh moves the snapshot to the box's current state and returns the
// differences. Callers hold the lock and have synced the box.
func (s *session) refresh() storage.Changes {
	b := s.box
	var ch storage.Changes
	if len(s.snap) > 0 && s.current() {
		// Nothing changed (every command polls): keep the snapshot
		// rather than build a copy of it.
		return s.settle(ch)
	}
	next := make([]entry, 0, len(b.Msgs))
	if len(s.snap) == 0 {
		// The first refresh (Open) reports every message.
		ch.Updated = make([]storage.Message, 0, len(b.Msgs))
	}
	i := 0
	for _, m := range b.Msgs {
		for i < len(s.snap) && s.snap[i].msg.UID < m.UID {
			ch.Expunged = append(ch.Expunged, s.snap[i].msg.UID)
			i++
		}
		if i < len(s.snap) && s.snap[i].msg.UID == m.UID {
			e := s.snap[i]
			i++
			if e.msg.ModSeq != m.ModSeq || !slices.Equal(e.msg.Flags, m.Flags) {
				e.msg = m.message(e.msg.Recent)
				e.m = m
				ch.Updated = append(ch.Updated, e.msg)
			}
			next = append(next, e)
			continue
		}
		e := entry{msg: m.message(m.UID >= b.RecentFrom), m: m}
		next = append(next, e)
		ch.Updated = append(ch.Updated, e.msg)
	}
	for ; i < len(s.snap); i++ {
		ch.Expunged = append(ch.Expunged, s.snap[i].msg.UID)
	}
	s.snap = next
	return s.settle(ch)
}

// load takes the first snapshot (Open): refresh from nothing, without
// the list of every message as changed, which Open would drop.
func (s *session) load() {
	b := s.box
	s.snap = make([]entry, len(b.Msgs))
	for i, m := range b.Msgs {
		s.snap[i] = entry{msg: m.message(m.UID >= b.RecentFrom), m: m}
	}
	s.settle(storage.Changes{})
}

// current reports whether the snapshot holds the box's messages as they
// are: the same UIDs, modseqs and flags, which is what refresh compares.
func (s *session) current() bool {
	b := s.box
	if len(b.Msgs) != len(s.snap) {
		return false
	}
	for i, m := range b.Msgs {
		e := &s.snap[i]
		if e.msg.UID != m.UID || e.msg.ModSeq != m.ModSeq || !slices.Equal(e.msg.Flags, m.Flags) {
			return false
		}
	}
	return true
}

// settle ends a refresh: the box's recent messages are this session's,
// and ch gets the box's UIDNEXT and HIGHESTMODSEQ.
func (s *session) settle(ch storage.Changes) storage.Changes {
	b := s.box
	if !s.readOnly && b.RecentFrom < b.UIDNext {
		b.RecentFrom = b.UIDNext
	}
	s.seenModSeq = b.ModSeq
	s.seenUIDNext = b.UIDNext
	ch.UIDNext = b.UIDNext
	ch.HighestModSeq = b.ModSeq
	return ch
}

// find returns the index of uid in the snapshot.
func (s *session) find(uid uint32) (int, bool) {
	return slices.BinarySearchFunc(s.snap, uid, func(e entry, u uint32) int { return cmpUID(e.msg.UID, u) })
}

// check returns an error when the session cannot be used; callers hold
// the lock.
func (s *session) check() error {
	switch {
	case s.closed || s.st.closed:
		return storage.ErrClosed
	case s.box.deleted:
		return fmt.Errorf("%q: %w", s.box.Name, storage.ErrNoSuchMailbox)
	}
	return nil
}

// targets returns the box's messages for uids that are in the snapshot,
// ascending and without duplicates.
func (s *session) targets(uids []uint32) []*Msg {
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var out []*Msg
	for _, u := range sorted {
		if _, ok := s.find(u); !ok {
			continue
		}
		if m := s.box.Find(u); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// update puts m's current state into the snapshot.
func (s *session) update(m *Msg) storage.Message {
	i, ok := s.find(m.UID)
	if !ok {
		return m.message(false)
	}
	s.snap[i].msg = m.message(s.snap[i].msg.Recent)
	s.snap[i].m = m
	return s.snap[i].msg
}

func (s *session) drop(uids []uint32) {
	set := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		set[u] = true
	}
	s.snap = slices.DeleteFunc(s.snap, func(e entry) bool { return set[e.msg.UID] })
}

func (s *session) Name() string {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.box.Name
}

func (s *session) ReadOnly() bool { return s.readOnly }

func (s *session) Status() (storage.Status, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.check(); err != nil {
		return storage.Status{}, err
	}
	if err := s.st.sync(s.box); err != nil {
		return storage.Status{}, err
	}
	return s.box.Status(), nil
}

func (s *session) Messages() []storage.Message {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	out := make([]storage.Message, len(s.snap))
	for i, e := range s.snap {
		out[i] = e.msg
	}
	return out
}

func (s *session) Poll() (storage.Changes, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.check(); err != nil {
		return storage.Changes{}, err
	}
	if err := s.st.sync(s.box); err != nil {
		return storage.Changes{}, err
	}
	return s.refresh(), nil
}

func (s *session) PermanentFlags() []string {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.readOnly {
		return nil
	}
	out := append(SystemFlags(), s.box.Keywords...)
	if l := s.st.be.KeywordLimit(); l == 0 || len(s.box.Keywords) < l {
		out = append(out, `\*`)
	}
	return out
}

func (s *session) Flags() []string {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.box.flags()
}

func (s *session) Read(uid uint32) (io.ReadCloser, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.closed || s.st.closed {
		return nil, storage.ErrClosed
	}
	i, ok := s.find(uid)
	if !ok {
		return nil, fmt.Errorf("uid %d: %w", uid, storage.ErrNoSuchMessage)
	}
	return s.st.be.Open(s.box, s.snap[i].m)
}

// Store implements storage.Mailbox (RFC 9051 section 6.4.6, RFC 7162
// section 3.1.3). Messages the session does not know, or that were
// expunged meanwhile, are skipped.
func (s *session) Store(uids []uint32, op storage.FlagOp, flags []string, unchangedSince uint64) (storage.StoreResult, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	var res storage.StoreResult
	if err := s.check(); err != nil {
		return res, err
	}
	if s.readOnly {
		return res, storage.ErrReadOnly
	}
	b := s.box
	if err := s.st.sync(b); err != nil {
		return res, err
	}
	norm := NormalizeFlags(flags, b.Keywords)
	if op != storage.FlagsRemove {
		if err := s.st.checkKeywords(b, norm); err != nil {
			return res, err
		}
	}
	var msgs []*Msg
	var newFlags [][]string
	for _, m := range s.targets(uids) {
		if unchangedSince > 0 && m.ModSeq > unchangedSince {
			res.Failed = append(res.Failed, m.UID)
			continue
		}
		nf := applyFlags(m.Flags, op, norm, b.Keywords)
		if slices.Equal(nf, m.Flags) {
			continue
		}
		msgs = append(msgs, m)
		newFlags = append(newFlags, nf)
	}
	if len(msgs) == 0 {
		return res, nil
	}
	if err := s.st.be.SetFlags(b, msgs, newFlags); err != nil {
		return res, fmt.Errorf("store flags in %q: %w", b.Name, err)
	}
	ms := b.NextModSeq()
	for i, m := range msgs {
		m.Flags = newFlags[i]
		m.ModSeq = ms
		b.DefineKeywords(m.Flags)
		res.Changed = append(res.Changed, s.update(m))
	}
	if err := s.st.be.Commit(b); err != nil {
		return res, err
	}
	s.st.messagesChanged(b)
	return res, nil
}

// Expunge implements storage.Mailbox (RFC 9051 section 6.4.3, RFC 4315
// UID EXPUNGE). The removed UIDs leave the session's snapshot at once.
func (s *session) Expunge(uids []uint32) ([]uint32, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.readOnly {
		return nil, storage.ErrReadOnly
	}
	b := s.box
	if err := s.st.sync(b); err != nil {
		return nil, err
	}
	var cand []*Msg
	if uids == nil {
		for _, e := range s.snap {
			if m := b.Find(e.msg.UID); m != nil {
				cand = append(cand, m)
			}
		}
	} else {
		cand = s.targets(uids)
	}
	msgs := slices.DeleteFunc(cand, func(m *Msg) bool { return !HasFlag(m.Flags, storage.FlagDeleted) })
	if len(msgs) == 0 {
		return nil, nil
	}
	return s.remove(msgs)
}

func (s *session) remove(msgs []*Msg) ([]uint32, error) {
	b := s.box
	if err := s.st.be.Expunge(b, msgs); err != nil {
		return nil, fmt.Errorf("expunge in %q: %w", b.Name, err)
	}
	out := make([]uint32, len(msgs))
	for i, m := range msgs {
		out[i] = m.UID
	}
	b.Remove(out, b.NextModSeq())
	s.drop(out)
	if err := s.st.be.Commit(b); err != nil {
		return out, err
	}
	s.st.messagesChanged(b)
	return out, nil
}

// Copy implements storage.Mailbox (RFC 9051 section 6.4.7, RFC 4315).
func (s *session) Copy(uids []uint32, dest string) (storage.CopyResult, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	res, _, err := s.copy(uids, dest)
	return res, err
}

func (s *session) copy(uids []uint32, dest string) (storage.CopyResult, []*Msg, error) {
	var res storage.CopyResult
	if err := s.check(); err != nil {
		return res, nil, err
	}
	if err := s.st.sync(s.box); err != nil {
		return res, nil, err
	}
	dst, err := s.st.lookup(dest)
	if err != nil {
		return res, nil, err
	}
	res.UIDValidity = dst.UIDValidity
	msgs := s.targets(uids)
	if len(msgs) == 0 {
		return res, nil, nil
	}
	var all []string
	for _, m := range msgs {
		all = append(all, Keywords(m.Flags)...)
	}
	if err := s.st.checkKeywords(dst, NormalizeFlags(all, dst.Keywords)); err != nil {
		return res, nil, err
	}
	now := s.st.now()
	out := make([]*Msg, len(msgs))
	for i, m := range msgs {
		out[i] = &Msg{
			UID:          dst.UIDNext + uint32(i),
			Flags:        NormalizeFlags(m.Flags, dst.Keywords),
			InternalDate: m.InternalDate,
			SaveDate:     now,
			Size:         m.Size,
			Body:         m.Body,
		}
	}
	if err := s.st.be.Copy(s.box, msgs, dst, out); err != nil {
		return res, nil, fmt.Errorf("copy to %q: %w", dst.Name, err)
	}
	ms := dst.NextModSeq()
	for i, m := range out {
		m.ModSeq = ms
		dst.Add(m)
		res.SrcUIDs = append(res.SrcUIDs, msgs[i].UID)
		res.DstUIDs = append(res.DstUIDs, m.UID)
	}
	if err := s.st.be.Commit(dst); err != nil {
		return res, nil, err
	}
	s.st.messagesChanged(dst)
	return res, msgs, nil
}

// Move implements storage.Mailbox (RFC 6851): a copy, then an expunge
// of the originals; the moved UIDs leave the session's snapshot at once.
func (s *session) Move(uids []uint32, dest string) (storage.CopyResult, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.readOnly {
		return storage.CopyResult{}, storage.ErrReadOnly
	}
	res, msgs, err := s.copy(uids, dest)
	if err != nil || len(msgs) == 0 {
		return res, err
	}
	_, err = s.remove(msgs)
	return res, err
}

// ChangesSince implements storage.Mailbox (RFC 7162 section 3.2.5),
// relative to the session's snapshot.
func (s *session) ChangesSince(modseq uint64) (storage.Changes, bool, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	var ch storage.Changes
	if err := s.check(); err != nil {
		return ch, false, err
	}
	b := s.box
	for _, e := range s.snap {
		if e.msg.ModSeq > modseq {
			ch.Updated = append(ch.Updated, e.msg)
		}
	}
	for _, x := range b.Expunges {
		if x.ModSeq > modseq && x.UID < s.seenUIDNext {
			if _, ok := s.find(x.UID); !ok {
				ch.Expunged = append(ch.Expunged, x.UID)
			}
		}
	}
	slices.Sort(ch.Expunged)
	ch.Expunged = slices.Compact(ch.Expunged)
	ch.UIDNext = s.seenUIDNext
	ch.HighestModSeq = s.seenModSeq
	return ch, modseq >= b.HistoryFrom, nil
}

func (s *session) Close() error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.closed = true
	return nil
}
