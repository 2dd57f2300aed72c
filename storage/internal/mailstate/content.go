package mailstate

import (
	"fmt"

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
