package maildir

import (
	"errors"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
)

// rangeGap splits a batch into separate index queries where the UIDs
// asked for are this far apart, so that a sparse set (the result of a
// SEARCH, the candidates of a header search) does not read every row
// between its ends: a row read in a range costs a few microseconds, a
// query of its own some tens.
const rangeGap = 32

// CachedBatch implements mailstate.BatchContentBackend: one index query
// per run of UIDs; messages without a cache row (delivered by another
// program) are parsed now and their rows written in one transaction.
func (s *store) CachedBatch(b *mailstate.Box, msgs []*mailstate.Msg) ([]storage.CachedResult, error) {
	mb := ext(b)
	out := make([]storage.CachedResult, len(msgs))
	for i, m := range msgs {
		out[i].UID = m.UID
	}
	if mb.row.ID != 0 {
		for start := 0; start < len(msgs); {
			end := start + 1
			for end < len(msgs) && msgs[end].UID-msgs[end-1].UID <= rangeGap {
				end++
			}
			i := start
			err := s.idx.CachedRange(mb.row.ID, msgs[start].UID, msgs[end-1].UID, func(uid uint32, c storage.Cached) {
				for i < end && msgs[i].UID < uid {
					i++
				}
				if i < end && msgs[i].UID == uid {
					out[i].Cached, out[i].OK = c, true
				}
			})
			if err != nil {
				return nil, err
			}
			start = end
		}
	}
	fresh := make(map[uint32]*index.Content)
	for i, m := range msgs {
		if out[i].OK {
			continue
		}
		content, err := s.readContent(b, m)
		if errors.Is(err, storage.ErrNoSuchMessage) {
			// Expunged by another session since the caller's view was
			// made: no result for it (the caller reads it alone and
			// finds it gone), the rest of the batch still counts.
			continue
		}
		if err != nil {
			return nil, err
		}
		if content == nil {
			continue
		}
		out[i].Cached, out[i].OK = content.Cached, true
		fresh[m.UID] = content
	}
	if len(fresh) > 0 {
		if err := s.putContent(b, fresh); err != nil {
			s.log.Warn("index cache", "mailbox", b.Name, "messages", len(fresh), "err", err)
		}
	}
	return out, nil
}
