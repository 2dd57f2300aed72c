package mailstate

import (
	"slices"
	"time"

	"cote/storage"
)

// Msg is one message as the state knows it. Flags is normalized and never
// modified in place: a change stores a new slice, so snapshots may share it.
type Msg struct {
	UID          uint32
	Flags        []string
	ModSeq       uint64
	InternalDate time.Time
	SaveDate     time.Time
	Size         int64
	// Body holds the message for backends that keep it in memory.
	Body []byte
	// Ext is the backend's own data (the maildir file name).
	Ext any
}

func (m *Msg) message(recent bool) storage.Message {
	return storage.Message{
		UID:          m.UID,
		Flags:        m.Flags,
		Recent:       recent,
		ModSeq:       m.ModSeq,
		InternalDate: m.InternalDate,
		SaveDate:     m.SaveDate,
		Size:         m.Size,
	}
}

// Expunged records one removed message for QRESYNC.
type Expunged struct {
	UID    uint32
	ModSeq uint64
}

// Box is one mailbox's state. Backends change it only through its methods,
// with the State's lock held (they are called from Backend hooks).
type Box struct {
	Name        string
	UIDValidity uint32
	UIDNext     uint32
	ModSeq      uint64 // HIGHESTMODSEQ, at least 1
	Msgs        []*Msg // ascending by UID
	Expunges    []Expunged
	// HistoryFrom is the lowest MODSEQ ChangesSince can answer from.
	HistoryFrom uint64
	// RecentFrom is the first UID not yet seen by a read-write session.
	RecentFrom uint32
	// Keywords lists the keywords defined in the mailbox, in the order
	// they were defined.
	Keywords   []string
	SpecialUse []string
	// Ext is the backend's own data.
	Ext any

	deleted bool
	// flagList is what flags returned last: the system flags, then
	// Keywords.
	flagList []string
}

// flags returns the system flags followed by the keywords, the list
// FLAGS announces. The slice is the same from call to call until the
// keywords change (sessions ask at every command, to see whether they
// must announce it again); callers do not modify it.
func (b *Box) flags() []string {
	sys := len(systemFlags)
	if len(b.flagList) != sys+len(b.Keywords) || !slices.Equal(b.flagList[sys:], b.Keywords) {
		b.flagList = slices.Clip(append(SystemFlags(), b.Keywords...))
	}
	return b.flagList
}

// NewBox returns an empty mailbox state.
func NewBox(name string, uidValidity uint32) *Box {
	return &Box{Name: name, UIDValidity: uidValidity, UIDNext: 1, ModSeq: 1, RecentFrom: 1}
}

// Find returns the message with uid, or nil.
func (b *Box) Find(uid uint32) *Msg {
	i, ok := slices.BinarySearchFunc(b.Msgs, uid, func(m *Msg, u uint32) int { return cmpUID(m.UID, u) })
	if !ok {
		return nil
	}
	return b.Msgs[i]
}

func cmpUID(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// NextModSeq raises HIGHESTMODSEQ by one and returns it.
func (b *Box) NextModSeq() uint64 {
	b.ModSeq++
	return b.ModSeq
}

// Add inserts m (its UID and ModSeq already set) in UID order and
// raises UIDNEXT past it.
func (b *Box) Add(m *Msg) {
	i, _ := slices.BinarySearchFunc(b.Msgs, m.UID, func(x *Msg, u uint32) int { return cmpUID(x.UID, u) })
	b.Msgs = slices.Insert(b.Msgs, i, m)
	if m.UID >= b.UIDNext {
		b.UIDNext = m.UID + 1
	}
	if m.ModSeq > b.ModSeq {
		b.ModSeq = m.ModSeq
	}
	b.DefineKeywords(m.Flags)
}

// DefineKeywords adds the keywords of flags to the mailbox's list.
func (b *Box) DefineKeywords(flags []string) {
	for _, k := range Keywords(flags) {
		if lookupFold(b.Keywords, k) == "" {
			b.Keywords = append(b.Keywords, k)
		}
	}
}

// Remove drops the messages with the given UIDs and records them as
// expunged at modseq.
func (b *Box) Remove(uids []uint32, modseq uint64) {
	if len(uids) == 0 {
		return
	}
	set := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		set[u] = true
	}
	b.Msgs = slices.DeleteFunc(b.Msgs, func(m *Msg) bool { return set[m.UID] })
	for _, u := range uids {
		b.Expunges = append(b.Expunges, Expunged{UID: u, ModSeq: modseq})
	}
	if modseq > b.ModSeq {
		b.ModSeq = modseq
	}
}

// SetFlags gives m new (normalized) flags at a new MODSEQ; it is for
// changes a backend finds on disk.
func (b *Box) SetFlags(m *Msg, flags []string) {
	m.Flags = flags
	m.ModSeq = b.NextModSeq()
	b.DefineKeywords(flags)
}

// Status computes the mailbox's counts.
func (b *Box) Status() storage.Status {
	st := storage.Status{
		Messages:      uint32(len(b.Msgs)),
		UIDNext:       b.UIDNext,
		UIDValidity:   b.UIDValidity,
		HighestModSeq: b.ModSeq,
	}
	for _, m := range b.Msgs {
		if m.UID >= b.RecentFrom {
			st.Recent++
		}
		if !HasFlag(m.Flags, storage.FlagSeen) {
			st.Unseen++
		}
		if HasFlag(m.Flags, storage.FlagDeleted) {
			st.Deleted++
		}
		st.Size += m.Size
	}
	return st
}

// Deleted reports whether the mailbox was deleted.
func (b *Box) Deleted() bool { return b.deleted }
