package storage

import "sync"

// ChangeKind says what a MailboxChange is about.
type ChangeKind int

const (
	// ChangeMessages: messages were added to or expunged from the
	// mailbox, or their flags changed. What changed is read with Status
	// or a Mailbox's Poll.
	ChangeMessages ChangeKind = iota
	ChangeCreated
	ChangeDeleted
	// ChangeRenamed: OldName is now Mailbox. A rename of a mailbox with
	// children reports each child too.
	ChangeRenamed
	ChangeSubscribed
	ChangeUnsubscribed
)

// MailboxChange is one change to a user's mailboxes, as a ChangeStore
// reports it.
type MailboxChange struct {
	Kind    ChangeKind
	Mailbox string // the mailbox's name; after a rename, the new name
	OldName string // ChangeRenamed: the name before
}

// ChangeStore is a Store that says which of the user's mailboxes changed
// and how, for IMAP NOTIFY (RFC 5465): a session that watches mailboxes
// other than its selected one learns which to look at instead of
// re-reading all of them on every Watch hint.
type ChangeStore interface {
	// WatchChanges returns a feed of the changes made from now on by
	// any session of the store and, as far as the backend notices
	// them, from outside. Stop the feed when done with it.
	WatchChanges() *ChangeFeed
}

// MaxPendingChanges bounds a ChangeFeed: a watcher that lets more changes
// pile up than this loses them and is told it overflowed.
const MaxPendingChanges = 1024

// ChangeFeed is one watcher's queue of MailboxChanges. Backends create it
// with NewChangeFeed and Push to it; the watcher waits on Ready and calls
// Take. It is safe for concurrent use.
type ChangeFeed struct {
	ready chan struct{}
	stop  func()

	mu       sync.Mutex // guards the fields below
	pending  []MailboxChange
	messages map[string]bool // mailboxes with a ChangeMessages in pending
	overflow bool
	stopped  bool
}

// NewChangeFeed returns an empty feed; stop is called once, by the first
// Stop, for the backend to forget the feed.
func NewChangeFeed(stop func()) *ChangeFeed {
	return &ChangeFeed{ready: make(chan struct{}, 1), stop: stop, messages: map[string]bool{}}
}

// Push queues changes and wakes the watcher. A ChangeMessages for a
// mailbox that already has one pending is dropped (one look at the
// mailbox covers both); past MaxPendingChanges the feed drops everything
// and reports an overflow at the next Take.
func (f *ChangeFeed) Push(changes ...MailboxChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	for _, c := range changes {
		if f.overflow {
			break
		}
		if c.Kind == ChangeMessages {
			if f.messages[c.Mailbox] {
				continue
			}
			f.messages[c.Mailbox] = true
		}
		if len(f.pending) >= MaxPendingChanges {
			f.overflow = true
			f.pending = nil
			clear(f.messages)
			break
		}
		f.pending = append(f.pending, c)
	}
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// Ready receives a value when changes are pending (coalesced).
func (f *ChangeFeed) Ready() <-chan struct{} { return f.ready }

// Take returns the pending changes in the order they happened and empties
// the queue. overflow reports that changes were lost: the watcher must
// treat every mailbox as changed.
func (f *ChangeFeed) Take() (changes []MailboxChange, overflow bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changes, overflow = f.pending, f.overflow
	f.pending, f.overflow = nil, false
	clear(f.messages)
	return changes, overflow
}

// Stop ends the feed: it receives no more changes. Stop may be called
// more than once.
func (f *ChangeFeed) Stop() {
	f.mu.Lock()
	first := !f.stopped
	f.stopped = true
	f.pending = nil
	f.mu.Unlock()
	if first && f.stop != nil {
		f.stop()
	}
}
