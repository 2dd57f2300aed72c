package storage

// URLAuthStore is a Store that keeps the per-mailbox secret keys of
// URLAUTH (RFC 4467 section 3, "mailbox access key"). A key belongs to a
// mailbox as it is now: a mailbox deleted and created again, or renamed,
// has none, so URLs made for the old one stop verifying. Keys persist
// across sessions, and across restarts where the backend keeps state on
// disk.
type URLAuthStore interface {
	// URLAuthKey returns the key of mailbox name. When the mailbox has
	// none it makes a new random one if create is true and returns nil
	// otherwise. A mailbox that does not exist is ErrNoSuchMailbox.
	URLAuthKey(name string, create bool) ([]byte, error)
	// ResetURLAuthKeys forgets the key of mailbox name, or every key of
	// the user when name is "" (RFC 4467 section 7.1 RESETKEY). A
	// mailbox that does not exist is ErrNoSuchMailbox.
	ResetURLAuthKeys(name string) error
}
