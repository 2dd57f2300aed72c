package worker

import "cote/storage"

// loggedURLAuthStore is a loggedStore whose store keeps URLAUTH keys
// (storage.URLAuthStore, RFC 4467): the wrapper keeps the interface
// visible so that the IMAP engine still offers URLAUTH with mail_log on.
// Key changes are not mail events and are not logged.
type loggedURLAuthStore struct {
	*loggedStore
	storage.URLAuthStore
}
