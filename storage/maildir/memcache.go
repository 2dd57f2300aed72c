package maildir

import (
	"sync"

	"cote/storage"
	"cote/storage/internal/mailstate"
)

// The worker keeps the cached structures of the messages it saved or
// served last in memory (memCache), so that a client's next FETCH of
// them reads no index row: a mail client fetches the envelope, then the
// structure, then a part of a message it has just been told about, and
// one that polls fetches the newest messages' envelopes again and again.
// A record of the index costs a query and a decode; one in memory a map
// lookup. A cached structure never changes for a UID of a UIDVALIDITY
// (a message's content is fixed), so an entry is never wrong, only
// evicted: the oldest go first once the cache holds memCacheBytes.
//
// Only small batches fill it (under memFillMax messages): a FETCH 1:* of
// a large mailbox would evict everything for records it will not ask
// for again soon, and its rows are read a range at a time anyway.

// memCacheBytes bounds what the cache holds (its entries' cost: header
// fields and encodings, plus a fixed part per body part).
const memCacheBytes = 1 << 20

// memFillMax is the largest batch whose results the cache keeps.
const memFillMax = burstMin

// memCache is a store's cache of structures, keyed by mailbox and UID.
type memCache struct {
	mu    sync.Mutex
	m     map[memKey]memEntry
	fifo  []memSlot // insertion order; a key put again is in it twice
	head  int
	seq   uint64
	bytes int
}

type memKey struct {
	mb  *mbox
	uid uint32
}

// memSlot is a key as it was put: an entry is evicted by the slot of its
// last put (the seqs match), and slots of keys put again or forgotten
// since are passed over.
type memSlot struct {
	k   memKey
	seq uint64
}

type memEntry struct {
	c        storage.Cached
	validity uint32
	// wireOnly says c holds the encoding alone (Part unset): it serves
	// a request for that encoding only.
	wireOnly bool
	cost     int
	seq      uint64
}

// get returns the structure of a message of b, if the cache has what a
// request needs: the Part, or for a request of the encoding alone (wire)
// an encoding of this version. With needWire, an entry without an
// encoding of this version is not enough either.
func (mc *memCache) get(b *mailstate.Box, uid uint32, wire, needWire bool, version byte) (storage.Cached, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if len(mc.m) == 0 {
		return storage.Cached{}, false
	}
	e, ok := mc.m[memKey{ext(b), uid}]
	if !ok || e.validity != b.UIDValidity {
		return storage.Cached{}, false
	}
	current := len(e.c.Wire) > 0 && e.c.Wire[0] == version
	switch {
	case (wire || needWire) && current:
		return e.c, true
	case !e.wireOnly && !needWire:
		return e.c, true
	}
	return storage.Cached{}, false
}

// put keeps a message's structure, evicting the oldest entries beyond
// memCacheBytes. wireOnly is as memEntry's.
func (mc *memCache) put(b *mailstate.Box, uid uint32, c storage.Cached, wireOnly bool) {
	cost := cachedCost(&c.Part) + len(c.Wire) + 64
	if cost > memCacheBytes/16 {
		return
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = make(map[memKey]memEntry)
	}
	k := memKey{ext(b), uid}
	if old, ok := mc.m[k]; ok {
		if wireOnly && !old.wireOnly && old.validity == b.UIDValidity {
			// Keep the Part beside the new encoding.
			d := len(c.Wire) - len(old.c.Wire)
			old.c.Wire = c.Wire
			old.cost += d
			mc.bytes += d
			mc.m[k] = old
			return
		}
		mc.bytes -= old.cost
	}
	mc.seq++
	mc.m[k] = memEntry{c: c, validity: b.UIDValidity, wireOnly: wireOnly, cost: cost, seq: mc.seq}
	mc.fifo = append(mc.fifo, memSlot{k, mc.seq})
	mc.bytes += cost
	for mc.bytes > memCacheBytes && mc.head < len(mc.fifo) {
		old := mc.fifo[mc.head]
		mc.fifo[mc.head] = memSlot{}
		mc.head++
		if e, ok := mc.m[old.k]; ok && e.seq == old.seq {
			delete(mc.m, old.k)
			mc.bytes -= e.cost
		}
	}
	switch {
	case len(mc.fifo)-mc.head > 2*len(mc.m)+64:
		// Mostly slots of keys forgotten or put again: keep the live.
		live := mc.fifo[:0]
		for _, q := range mc.fifo[mc.head:] {
			if e, ok := mc.m[q.k]; ok && e.seq == q.seq {
				live = append(live, q)
			}
		}
		clear(mc.fifo[len(live):])
		mc.fifo, mc.head = live, 0
	case mc.head > 64 && mc.head > len(mc.fifo)/2:
		mc.fifo = append(mc.fifo[:0], mc.fifo[mc.head:]...)
		mc.head = 0
	}
}

// forget drops a message's entry (its file is gone for good).
func (mc *memCache) forget(b *mailstate.Box, uid uint32) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	k := memKey{ext(b), uid}
	if e, ok := mc.m[k]; ok {
		delete(mc.m, k)
		mc.bytes -= e.cost
	}
}

// cachedCost is what a structure's parts cost the cache.
func cachedCost(p *storage.Part) int {
	n := 96 + len(p.Header)
	for i := range p.Children {
		n += cachedCost(&p.Children[i])
	}
	if p.Message != nil {
		n += cachedCost(p.Message)
	}
	return n
}
