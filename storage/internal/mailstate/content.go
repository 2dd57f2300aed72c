package mailstate

import (
	"fmt"
	"slices"

	"cote/storage"
)

// ContentBackend is a Backend with an index of message contents: the
// cached structure and a full-text index.
type ContentBackend interface {
	// Cached returns the cached structure of m.
	Cached(b *Box, m *Msg) (storage.Cached, bool, error)
	// SearchText returns those of uids (ascending) whose text may
	// contain query; see storage.TextSearchMailbox.
	SearchText(b *Box, query string, body bool, uids []uint32) ([]uint32, bool, error)
}

// QuotaBackend is a Backend that counts quota.
type QuotaBackend interface {
	Quota() (storage.Quota, error)
}

// Quota implements storage.QuotaStore; backends without quota return
// storage.ErrNotImplemented.
func (st *State) Quota() (storage.Quota, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.Quota{}, storage.ErrClosed
	}
	qb, ok := st.be.(QuotaBackend)
	if !ok {
		return storage.Quota{}, storage.ErrNotImplemented
	}
	return qb.Quota()
}

// CountsQuota implements storage.QuotaCounter.
func (st *State) CountsQuota() bool {
	_, ok := st.be.(QuotaBackend)
	return ok
}

// Cached implements storage.CacheMailbox.
func (s *session) Cached(uid uint32) (storage.Cached, bool, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.closed || s.st.closed {
		return storage.Cached{}, false, storage.ErrClosed
	}
	i, ok := s.find(uid)
	if !ok {
		return storage.Cached{}, false, fmt.Errorf("uid %d: %w", uid, storage.ErrNoSuchMessage)
	}
	cb, ok := s.st.be.(ContentBackend)
	if !ok || s.box.deleted {
		return storage.Cached{}, false, nil
	}
	return cb.Cached(s.box, s.snap[i].m)
}

// SearchText implements storage.TextSearchMailbox over the session's
// snapshot. Without a content index every message is a candidate.
func (s *session) SearchText(query string, body bool) ([]uint32, bool, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, false, err
	}
	uids := make([]uint32, len(s.snap))
	for i, e := range s.snap {
		uids[i] = e.msg.UID
	}
	cb, ok := s.st.be.(ContentBackend)
	if !ok {
		return uids, false, nil
	}
	return cb.SearchText(s.box, query, body, uids)
}

// POP3Backend is a Backend that keeps what POP3 needs for UIDLs that
// match Dovecot's (the pop3 package's optional Mailbox interfaces).
type POP3Backend interface {
	// POP3UIDL returns the UIDL stored for m (dovecot-uidlist's P
	// field); ok is false when none is stored.
	POP3UIDL(b *Box, m *Msg) (string, bool)
	// BaseName returns m's Maildir base file name (before ":2,").
	BaseName(b *Box, m *Msg) (string, bool)
	// GUID returns m's GUID (dovecot-uidlist's G field, or the base file
	// name as Dovecot's Maildir gives).
	GUID(b *Box, m *Msg) (string, bool)
}

// pop3Msg returns the backend and the snapshot's message for uid.
func (s *session) pop3Msg(uid uint32) (POP3Backend, *Msg) {
	pb, ok := s.st.be.(POP3Backend)
	if !ok || s.closed || s.st.closed || s.box.deleted {
		return nil, nil
	}
	i, ok := s.find(uid)
	if !ok {
		return nil, nil
	}
	return pb, s.snap[i].m
}

// POP3UIDL is the pop3 package's UIDLMailbox: the UIDL the backend keeps
// for a message of the session's snapshot.
func (s *session) POP3UIDL(uid uint32) (string, bool) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	pb, m := s.pop3Msg(uid)
	if pb == nil {
		return "", false
	}
	return pb.POP3UIDL(s.box, m)
}

// MaildirBaseName is the pop3 package's FileNameMailbox (%f).
func (s *session) MaildirBaseName(uid uint32) (string, bool) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	pb, m := s.pop3Msg(uid)
	if pb == nil {
		return "", false
	}
	return pb.BaseName(s.box, m)
}

// MessageGUID is the pop3 package's GUIDMailbox (%g).
func (s *session) MessageGUID(uid uint32) (string, bool) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	pb, m := s.pop3Msg(uid)
	if pb == nil {
		return "", false
	}
	return pb.GUID(s.box, m)
}

// BatchContentBackend is a ContentBackend that reads the cached
// structure of many messages at once.
type BatchContentBackend interface {
	// CachedBatch returns the results for msgs (ascending by UID), one
	// per message in the same order.
	CachedBatch(b *Box, msgs []*Msg) ([]storage.CachedResult, error)
}

// EncodeBatchBackend is a BatchContentBackend whose index keeps an
// engine's encoding of the cached structures.
type EncodeBatchBackend interface {
	// CachedBatchEncoded is storage.CacheEncodeMailbox's method for
	// msgs (ascending by UID), one result per message in the same order.
	CachedBatchEncoded(b *Box, msgs []*Msg, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error)
}

// WireBatchBackend is an EncodeBatchBackend that can read the kept
// encodings alone.
type WireBatchBackend interface {
	// CachedBatchWire is storage.CacheWireMailbox's method for msgs
	// (ascending by UID), one result per message in the same order.
	CachedBatchWire(b *Box, msgs []*Msg, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error)
}

// CachedBatch implements storage.CacheBatchMailbox.
func (s *session) CachedBatch(uids []uint32) ([]storage.CachedResult, error) {
	return s.cachedBatch(uids, 0, nil, false)
}

// CachedBatchEncoded implements storage.CacheEncodeMailbox; a backend
// that keeps no encodings gives results without Wire, which the caller
// encodes itself.
func (s *session) CachedBatchEncoded(uids []uint32, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error) {
	return s.cachedBatch(uids, version, encode, false)
}

// CachedBatchWire implements storage.CacheWireMailbox; with a backend
// that cannot read the encodings alone it is CachedBatchEncoded.
func (s *session) CachedBatchWire(uids []uint32, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error) {
	return s.cachedBatch(uids, version, encode, true)
}

func (s *session) cachedBatch(uids []uint32, version byte, encode func(*storage.Part) []byte, wireOnly bool) ([]storage.CachedResult, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.closed || s.st.closed {
		return nil, storage.ErrClosed
	}
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	msgs := make([]*Msg, 0, len(sorted))
	for _, u := range sorted {
		if i, ok := s.find(u); ok {
			msgs = append(msgs, s.snap[i].m)
		}
	}
	cb, ok := s.st.be.(ContentBackend)
	if !ok || s.box.deleted {
		out := make([]storage.CachedResult, len(msgs))
		for i, m := range msgs {
			out[i].UID = m.UID
		}
		return out, nil
	}
	if wb, ok := cb.(WireBatchBackend); ok && encode != nil && wireOnly {
		return wb.CachedBatchWire(s.box, msgs, version, encode)
	}
	if eb, ok := cb.(EncodeBatchBackend); ok && encode != nil {
		return eb.CachedBatchEncoded(s.box, msgs, version, encode)
	}
	if bb, ok := cb.(BatchContentBackend); ok {
		return bb.CachedBatch(s.box, msgs)
	}
	out := make([]storage.CachedResult, len(msgs))
	for i, m := range msgs {
		c, ok, err := cb.Cached(s.box, m)
		if err != nil {
			return nil, err
		}
		out[i] = storage.CachedResult{UID: m.UID, Cached: c, OK: ok}
	}
	return out, nil
}

// HeaderSearchBackend is a ContentBackend whose index can narrow a
// search in header fields.
type HeaderSearchBackend interface {
	// SearchHeader returns those of uids (ascending) whose header may
	// contain query; see storage.HeaderSearchMailbox.
	SearchHeader(b *Box, query string, uids []uint32) ([]uint32, error)
}

// SearchHeader implements storage.HeaderSearchMailbox over the
// session's snapshot. Without an index every message is a candidate.
func (s *session) SearchHeader(query string) ([]uint32, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	uids := make([]uint32, len(s.snap))
	for i, e := range s.snap {
		uids[i] = e.msg.UID
	}
	hb, ok := s.st.be.(HeaderSearchBackend)
	if !ok || s.box.deleted {
		return uids, nil
	}
	return hb.SearchHeader(s.box, query, uids)
}
