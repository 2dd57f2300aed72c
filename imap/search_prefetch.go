package imap

import "cote/storage"

// structPrefetch reads the cached structures of the messages a SEARCH,
// SORT or THREAD is about to check in batches (storage.CacheBatchMailbox:
// one index query for many messages) rather than one query per message.
// SEARCH SUBJECT over a mailbox the index does not narrow (its text not
// indexed yet) asks for every message's structure.
//
// The batch is the next messages in the order the command asks for them,
// those a key's index candidates allow. Its size adapts: a search whose
// other keys rule out most messages before their header is looked at
// (UNSEEN SUBJECT x) uses few of a batch, and the next one is smaller.
type structPrefetch struct {
	s  *session
	cb storage.CacheBatchMailbox
	// order are the view indexes in the order they are asked for; nil
	// for the whole view, ascending.
	order []int
	// pos is where in order the current batch began.
	pos int
	// parts holds the current batch; a nil part: not cached.
	parts map[uint32]*part
	// size is the next batch's size; used counts the current batch's
	// messages asked for.
	size, used int
}

const (
	prefetchMin = 8
	prefetchMax = 512
)

// newPrefetch returns a prefetch over order (nil: the whole view), or nil
// when the mailbox cannot read structures in batches.
func (s *session) newPrefetch(order []int) *structPrefetch {
	cb, ok := s.mbox.(storage.CacheBatchMailbox)
	if !ok {
		return nil
	}
	return &structPrefetch{s: s, cb: cb, order: order, parts: map[uint32]*part{}, size: prefetchMin}
}

func (p *structPrefetch) len() int {
	if p.order == nil {
		return len(p.s.view.msgs)
	}
	return len(p.order)
}

func (p *structPrefetch) at(n int) int {
	if p.order == nil {
		return n
	}
	return p.order[n]
}

// get returns the cached structure of the message at view index idx, and
// false when it has none (the caller reads the message). hint, when not
// nil, holds the UIDs worth reading ahead (a key's index candidates).
func (p *structPrefetch) get(idx int, hint map[uint32]bool) (*part, bool, error) {
	uid := p.s.view.msgs[idx].UID
	if pt, ok := p.parts[uid]; ok {
		p.used++
		return pt, pt != nil, nil
	}
	// A new batch, sized by how much of the last one was used.
	if len(p.parts) > 0 {
		if p.used*2 >= len(p.parts) {
			p.size = min(p.size*2, prefetchMax)
		} else {
			p.size = max(p.size/2, prefetchMin)
		}
	}
	n := p.pos
	for n < p.len() && p.at(n) != idx {
		n++
	}
	uids := []uint32{uid}
	if n < p.len() {
		p.pos = n
		for j := n + 1; j < p.len() && len(uids) < p.size; j++ {
			u := p.s.view.msgs[p.at(j)].UID
			if hint == nil || hint[u] {
				uids = append(uids, u)
			}
		}
	}
	res, err := p.cb.CachedBatch(uids)
	if err != nil {
		return nil, false, err
	}
	clear(p.parts)
	for _, u := range uids {
		p.parts[u] = nil
	}
	for i := range res {
		if res[i].OK {
			p.parts[res[i].UID] = partFromCache(&res[i].Cached.Part, false)
		}
	}
	p.used = 1
	pt := p.parts[uid]
	return pt, pt != nil, nil
}
