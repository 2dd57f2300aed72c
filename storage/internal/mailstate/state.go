// Package mailstate is the in-memory state of one user's mailboxes and of
// the sessions that have them open, shared by the storage backends. It
// carries out the semantics of the storage API (UIDs, MODSEQ, \Recent,
// snapshots and Poll, QRESYNC history, Watch); a Backend makes each change
// durable before the state shows it, and reconciles external changes in
// Sync.
package mailstate

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"cote/storage"
)

// Backend carries out changes on durable storage. The State calls it with
// its lock held; a hook that fails leaves the state unchanged. The change
// a hook carries out (Append, SetFlags, Expunge, Copy) takes the MODSEQ
// b.ModSeq+1 as b stands when the hook returns, so a backend can make the
// change durable with its final MODSEQ before it returns.
type Backend interface {
	// ValidName checks a normalized mailbox name against backend limits.
	ValidName(name string) error
	// NewUIDValidity returns a UIDVALIDITY for a new mailbox.
	NewUIDValidity() uint32
	// KeywordLimit is the number of keywords a mailbox can hold, 0 for
	// no limit.
	KeywordLimit() int

	CreateMailbox(b *Box) error
	DeleteMailbox(b *Box) error
	// RenameMailbox renames b and, when children is true, the
	// mailboxes below it; the state renames the Boxes afterwards.
	RenameMailbox(b *Box, newName string, children []*Box) error
	// RenameInbox moves every message of inbox into the new mailbox
	// dst (already created); the state then resets inbox.
	RenameInbox(inbox, dst *Box) error
	SetSubscriptions(names []string) error

	// Sync reconciles external changes into b.
	Sync(b *Box) error
	// Append stores the message read from r durably and sets m.UID
	// (b.UIDNext unless the backend knows better), m.Size and m.Ext.
	Append(b *Box, r io.Reader, m *Msg) error
	// SetFlags stores the new flags of messages; flags[i] is msgs[i]'s.
	SetFlags(b *Box, msgs []*Msg, flags [][]string) error
	Expunge(b *Box, msgs []*Msg) error
	// Copy copies msgs of src into dst as out (flags, dates and sizes
	// set); it sets out[i].UID and out[i].Ext.
	Copy(src *Box, msgs []*Msg, dst *Box, out []*Msg) error
	Open(b *Box, m *Msg) (io.ReadCloser, error)
	// Commit persists b's MODSEQ state after a change.
	Commit(b *Box) error
}

// State is one user's mailboxes.
type State struct {
	be    Backend
	delim rune
	now   func() time.Time

	mu sync.Mutex // guards everything below, and every Box and session
	// boxes by normalized name.
	boxes    map[string]*Box
	subs     map[string]bool
	watchers map[int]chan struct{}
	nextW    int
	closed   bool
	// feeds are the WatchChanges watchers (changes.go).
	feeds map[*storage.ChangeFeed]bool
	// urlKeys are the URLAUTH keys by mailbox name, nil until loaded
	// (urlauth.go).
	urlKeys map[string]urlKey
}

// New returns a state with the given mailboxes (INBOX is created when
// missing) and subscriptions.
func New(be Backend, delim rune, boxes []*Box, subs []string) (*State, error) {
	st := &State{
		be:       be,
		delim:    delim,
		now:      time.Now,
		boxes:    make(map[string]*Box),
		subs:     make(map[string]bool),
		watchers: make(map[int]chan struct{}),
	}
	for _, b := range boxes {
		st.boxes[b.Name] = b
	}
	for _, s := range subs {
		if n, err := st.normalize(s); err == nil {
			st.subs[n] = true
		}
	}
	if st.boxes["INBOX"] == nil {
		b := NewBox("INBOX", be.NewUIDValidity())
		if err := be.CreateMailbox(b); err != nil {
			return nil, fmt.Errorf("create INBOX: %w", err)
		}
		st.boxes["INBOX"] = b
	}
	return st, nil
}

// SyncAll reconciles every mailbox with its backend, waking watchers
// when something changed.
func (st *State) SyncAll() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	var first error
	for _, b := range st.boxes {
		if err := st.sync(b); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// SyncWhere reconciles the mailboxes for which pick returns true with
// their backend, waking watchers when something changed. pick runs with
// the lock held and must not call the State.
func (st *State) SyncWhere(pick func(b *Box) bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	var first error
	for _, b := range st.boxes {
		if !pick(b) {
			continue
		}
		if err := st.sync(b); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Delimiter implements storage.Store.
func (st *State) Delimiter() rune { return st.delim }

// normalize checks a mailbox name and returns it with INBOX in capitals.
func (st *State) normalize(name string) (string, error) {
	d := string(st.delim)
	if name == "" || strings.HasPrefix(name, d) || strings.HasSuffix(name, d) ||
		strings.Contains(name, d+d) || strings.ContainsAny(name, "\x00\r\n*%") {
		return "", fmt.Errorf("%q: %w", name, storage.ErrInvalidName)
	}
	first, rest, hasRest := strings.Cut(name, d)
	if strings.EqualFold(first, "INBOX") {
		name = "INBOX"
		if hasRest {
			name += d + rest
		}
	}
	return name, nil
}

// Normalize checks a name and returns its canonical form.
func (st *State) Normalize(name string) (string, error) {
	n, err := st.normalize(name)
	if err != nil {
		return "", err
	}
	if err := st.be.ValidName(n); err != nil {
		return "", err
	}
	return n, nil
}

func (st *State) isParent(parent, child string) bool {
	return strings.HasPrefix(child, parent+string(st.delim))
}

// Notify wakes every watcher.
func (st *State) Notify() {
	for _, c := range st.watchers {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Watch implements storage.Store.
func (st *State) Watch() (<-chan struct{}, func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := make(chan struct{}, 1)
	id := st.nextW
	st.nextW++
	st.watchers[id] = c
	var once sync.Once
	return c, func() {
		once.Do(func() {
			st.mu.Lock()
			defer st.mu.Unlock()
			if _, ok := st.watchers[id]; ok {
				delete(st.watchers, id)
				close(c)
			}
		})
	}
}

// Close implements storage.Store; it ends every watch.
func (st *State) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	for id, c := range st.watchers {
		delete(st.watchers, id)
		close(c)
	}
	return nil
}

// Closed reports whether Close was called; callers hold the lock.
func (st *State) Closed() bool { return st.closed }

// List implements storage.Store. It returns the existing mailboxes, the
// missing parents of existing mailboxes (\Noselect), and subscribed names
// that do not exist (\NonExistent), in name order.
func (st *State) List() ([]storage.MailboxInfo, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, storage.ErrClosed
	}
	names := make(map[string]bool)
	for n := range st.boxes {
		names[n] = true
		for i := strings.LastIndex(n, string(st.delim)); i > 0; i = strings.LastIndex(n[:i], string(st.delim)) {
			names[n[:i]] = true
		}
	}
	for n := range st.subs {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	out := make([]storage.MailboxInfo, 0, len(sorted))
	for _, n := range sorted {
		info := storage.MailboxInfo{Name: n, Subscribed: st.subs[n]}
		b := st.boxes[n]
		children := st.hasChildren(n)
		switch {
		case b != nil:
			info.Attrs = append(info.Attrs, b.SpecialUse...)
		case children:
			info.Attrs = append(info.Attrs, storage.AttrNoselect)
		default:
			info.Attrs = append(info.Attrs, storage.AttrNonExistent)
		}
		if children {
			info.Attrs = append(info.Attrs, storage.AttrHasChildren)
		} else if b != nil {
			info.Attrs = append(info.Attrs, storage.AttrHasNoChildren)
		}
		out = append(out, info)
	}
	return out, nil
}

func (st *State) hasChildren(name string) bool {
	for n := range st.boxes {
		if st.isParent(name, n) {
			return true
		}
	}
	return false
}

var specialUses = []string{storage.AttrAll, storage.AttrArchive, storage.AttrDrafts,
	storage.AttrFlagged, storage.AttrJunk, storage.AttrSent, storage.AttrTrash}

// Create implements storage.Store (RFC 9051 section 6.3.4, RFC 6154).
// A trailing delimiter is dropped; missing parents are not created and
// list as \Noselect.
func (st *State) Create(name string, specialUse []string) error {
	name = strings.TrimSuffix(name, string(st.delim))
	var use []string
	for _, u := range specialUse {
		c := lookupFold(specialUses, u)
		if c == "" {
			return fmt.Errorf("create %q: %s: %w", name, u, storage.ErrUseAttr)
		}
		if !slices.Contains(use, c) {
			use = append(use, c)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	n, err := st.Normalize(name)
	if err != nil {
		return err
	}
	if st.boxes[n] != nil {
		return fmt.Errorf("create %q: %w", n, storage.ErrMailboxExists)
	}
	b := NewBox(n, st.be.NewUIDValidity())
	b.SpecialUse = use
	if err := st.be.CreateMailbox(b); err != nil {
		return fmt.Errorf("create %q: %w", n, err)
	}
	st.boxes[n] = b
	st.changed(storage.MailboxChange{Kind: storage.ChangeCreated, Mailbox: n})
	return nil
}

// Delete implements storage.Store (RFC 9051 section 6.3.5). Children
// stay; the name then lists as \Noselect.
func (st *State) Delete(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	n, err := st.normalize(name)
	if err != nil {
		return err
	}
	if n == "INBOX" {
		return fmt.Errorf("delete: %w", storage.ErrInbox)
	}
	b := st.boxes[n]
	if b == nil {
		if st.hasChildren(n) {
			return fmt.Errorf("delete %q: %w", n, storage.ErrHasChildren)
		}
		return fmt.Errorf("delete %q: %w", n, storage.ErrNoSuchMailbox)
	}
	if err := st.be.DeleteMailbox(b); err != nil {
		return fmt.Errorf("delete %q: %w", n, err)
	}
	b.deleted = true
	delete(st.boxes, n)
	st.changed(storage.MailboxChange{Kind: storage.ChangeDeleted, Mailbox: n})
	return nil
}

// Rename implements storage.Store (RFC 9051 section 6.3.6): children are
// renamed with their parent; renaming INBOX moves its messages into the
// new mailbox and leaves INBOX empty, its children untouched.
func (st *State) Rename(oldName, newName string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	on, err := st.normalize(oldName)
	if err != nil {
		return err
	}
	nn, err := st.Normalize(newName)
	if err != nil {
		return err
	}
	b := st.boxes[on]
	if b == nil {
		return fmt.Errorf("rename %q: %w", on, storage.ErrNoSuchMailbox)
	}
	if st.boxes[nn] != nil || nn == on {
		return fmt.Errorf("rename to %q: %w", nn, storage.ErrMailboxExists)
	}
	if on == "INBOX" {
		return st.renameInbox(b, nn)
	}
	if st.isParent(on, nn) {
		return fmt.Errorf("rename %q into itself: %w", on, storage.ErrInvalidName)
	}
	var children []*Box
	for n, c := range st.boxes {
		if st.isParent(on, n) {
			newChild := nn + n[len(on):]
			if st.boxes[newChild] != nil {
				return fmt.Errorf("rename to %q: %w", newChild, storage.ErrMailboxExists)
			}
			if err := st.be.ValidName(newChild); err != nil {
				return err
			}
			children = append(children, c)
		}
	}
	slices.SortFunc(children, func(a, b *Box) int { return strings.Compare(a.Name, b.Name) })
	if err := st.be.RenameMailbox(b, nn, children); err != nil {
		return fmt.Errorf("rename %q: %w", on, err)
	}
	delete(st.boxes, on)
	b.Name = nn
	st.boxes[nn] = b
	renamed := []storage.MailboxChange{{Kind: storage.ChangeRenamed, Mailbox: nn, OldName: on}}
	for _, c := range children {
		delete(st.boxes, c.Name)
		old := c.Name
		c.Name = nn + c.Name[len(on):]
		st.boxes[c.Name] = c
		renamed = append(renamed, storage.MailboxChange{Kind: storage.ChangeRenamed, Mailbox: c.Name, OldName: old})
	}
	st.changed(renamed...)
	return nil
}

func (st *State) renameInbox(inbox *Box, nn string) error {
	if err := st.be.Sync(inbox); err != nil {
		return err
	}
	dst := NewBox(nn, st.be.NewUIDValidity())
	if err := st.be.CreateMailbox(dst); err != nil {
		return fmt.Errorf("rename INBOX: %w", err)
	}
	st.boxes[nn] = dst
	if err := st.be.RenameInbox(inbox, dst); err != nil {
		return fmt.Errorf("rename INBOX: %w", err)
	}
	// The messages keep their UIDs in the new mailbox (which has a fresh
	// UIDVALIDITY); INBOX keeps its UIDVALIDITY and UIDNEXT, so its old
	// UIDs are never reused and its open sessions see expunges.
	dst.UIDNext = inbox.UIDNext
	dst.Keywords = slices.Clone(inbox.Keywords)
	ms := dst.NextModSeq()
	var uids []uint32
	for _, m := range inbox.Msgs {
		c := *m
		c.ModSeq = ms
		dst.Add(&c)
		uids = append(uids, m.UID)
	}
	dst.RecentFrom = inbox.RecentFrom
	inbox.Remove(uids, inbox.NextModSeq())
	if err := st.be.Commit(inbox); err != nil {
		return err
	}
	if err := st.be.Commit(dst); err != nil {
		return err
	}
	st.changed(storage.MailboxChange{Kind: storage.ChangeCreated, Mailbox: nn},
		storage.MailboxChange{Kind: storage.ChangeMessages, Mailbox: "INBOX"})
	return nil
}

// SetSubscribed implements storage.Store. Names need not exist.
func (st *State) SetSubscribed(name string, subscribed bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	n, err := st.normalize(name)
	if err != nil {
		return err
	}
	if st.subs[n] == subscribed {
		return nil
	}
	names := make([]string, 0, len(st.subs)+1)
	for s := range st.subs {
		if s != n {
			names = append(names, s)
		}
	}
	if subscribed {
		names = append(names, n)
	}
	slices.Sort(names)
	if err := st.be.SetSubscriptions(names); err != nil {
		return fmt.Errorf("subscriptions: %w", err)
	}
	kind := storage.ChangeUnsubscribed
	if subscribed {
		st.subs[n] = true
		kind = storage.ChangeSubscribed
	} else {
		delete(st.subs, n)
	}
	st.changed(storage.MailboxChange{Kind: kind, Mailbox: n})
	return nil
}

// lookup returns the synced box by name; callers hold the lock.
func (st *State) lookup(name string) (*Box, error) {
	if st.closed {
		return nil, storage.ErrClosed
	}
	n, err := st.normalize(name)
	if err != nil {
		return nil, err
	}
	b := st.boxes[n]
	if b == nil {
		return nil, fmt.Errorf("%q: %w", n, storage.ErrNoSuchMailbox)
	}
	if err := st.sync(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (st *State) sync(b *Box) error {
	ms := b.ModSeq
	if err := st.be.Sync(b); err != nil {
		return fmt.Errorf("sync %q: %w", b.Name, err)
	}
	if b.ModSeq != ms {
		if err := st.be.Commit(b); err != nil {
			return err
		}
		st.messagesChanged(b)
	}
	return nil
}

// Status implements storage.Store.
func (st *State) Status(name string) (storage.Status, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b, err := st.lookup(name)
	if err != nil {
		return storage.Status{}, err
	}
	return b.Status(), nil
}

// Append implements storage.Store.
func (st *State) Append(name string, r io.Reader, opts storage.AppendOptions) (uint32, uint32, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b, err := st.lookup(name)
	if err != nil {
		return 0, 0, err
	}
	flags := NormalizeFlags(opts.Flags, b.Keywords)
	if err := st.checkKeywords(b, flags); err != nil {
		return 0, 0, err
	}
	now := st.now()
	m := &Msg{Flags: flags, InternalDate: opts.Date, SaveDate: now}
	if m.InternalDate.IsZero() {
		m.InternalDate = now
	}
	m.UID = b.UIDNext
	if err := st.be.Append(b, r, m); err != nil {
		return 0, 0, fmt.Errorf("append to %q: %w", b.Name, err)
	}
	m.ModSeq = b.NextModSeq()
	b.Add(m)
	if err := st.be.Commit(b); err != nil {
		return 0, 0, err
	}
	st.messagesChanged(b)
	return b.UIDValidity, m.UID, nil
}

func (st *State) checkKeywords(b *Box, flags []string) error {
	limit := st.be.KeywordLimit()
	if limit == 0 {
		return nil
	}
	n := len(b.Keywords)
	for _, k := range Keywords(flags) {
		if lookupFold(b.Keywords, k) == "" {
			n++
		}
	}
	if n > limit {
		return fmt.Errorf("%q: %w", b.Name, storage.ErrKeywordsFull)
	}
	return nil
}

// Open implements storage.Store.
func (st *State) Open(name string, readOnly bool) (storage.Mailbox, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b, err := st.lookup(name)
	if err != nil {
		return nil, err
	}
	s := &session{st: st, box: b, readOnly: readOnly}
	s.load()
	return s, nil
}

// Each calls fn for every mailbox, in name order, with the lock held
// (for maintenance such as an index rebuild). fn must not call the
// State.
func (st *State) Each(fn func(b *Box) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	names := make([]string, 0, len(st.boxes))
	for n := range st.boxes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := fn(st.boxes[n]); err != nil {
			return fmt.Errorf("mailbox %q: %w", n, err)
		}
	}
	return nil
}
