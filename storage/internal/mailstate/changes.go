package mailstate

import "cote/storage"

// WatchChanges implements storage.ChangeStore: every change the state
// carries out, and every external change Sync finds, is pushed to the
// feed.
func (st *State) WatchChanges() *storage.ChangeFeed {
	st.mu.Lock()
	defer st.mu.Unlock()
	var f *storage.ChangeFeed
	f = storage.NewChangeFeed(func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		delete(st.feeds, f)
	})
	if st.feeds == nil {
		st.feeds = make(map[*storage.ChangeFeed]bool)
	}
	if !st.closed {
		st.feeds[f] = true
	}
	return f
}

// changed reports changes to the feeds and wakes every watcher; callers
// hold the lock.
func (st *State) changed(changes ...storage.MailboxChange) {
	for f := range st.feeds {
		f.Push(changes...)
	}
	st.Notify()
}

// messagesChanged reports a change to a mailbox's messages.
func (st *State) messagesChanged(b *Box) {
	st.changed(storage.MailboxChange{Kind: storage.ChangeMessages, Mailbox: b.Name})
}
