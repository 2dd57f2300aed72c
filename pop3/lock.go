package pop3

import "sync"

// MaildropLocker gives one POP3 session at a time a user's maildrop (RFC
// 1939 section 8: the exclusive-access lock of the TRANSACTION state).
// TryLock does not wait: ok is false when another session holds the
// lock. unlock releases it and may be called more than once.
type MaildropLocker interface {
	TryLock(user string) (unlock func(), ok bool)
}

// Locks is an in-process MaildropLocker. Every session of a user runs in
// the user's one worker process, so a lock in memory is enough there; a
// worker holds one Locks for all its sessions. The zero value is ready
// to use.
type Locks struct {
	mu   sync.Mutex      // guards held
	held map[string]bool // users whose maildrop is locked
}

// TryLock implements MaildropLocker.
func (l *Locks) TryLock(user string) (unlock func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[user] {
		return nil, false
	}
	if l.held == nil {
		l.held = make(map[string]bool)
	}
	l.held[user] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, user)
			l.mu.Unlock()
		})
	}, true
}
