package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// urlAuthKeysFile holds the URLAUTH mailbox keys (RFC 4467) in the
// Maildir root, beside subscriptions, so that they survive a rebuild of
// the index. Dovecot keeps them as mailbox attributes and ignores this
// file.
const urlAuthKeysFile = "cote-urlauth-keys"

// LoadURLAuthKeys implements mailstate.URLAuthKeyBackend.
func (s *store) LoadURLAuthKeys() ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(s.loc.Root, urlAuthKeysFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", urlAuthKeysFile, ioErr(err))
	}
	return data, nil
}

// SaveURLAuthKeys implements mailstate.URLAuthKeyBackend: written to a
// temporary file and renamed over the old one, readable by the user
// only.
func (s *store) SaveURLAuthKeys(data []byte) error {
	path := filepath.Join(s.loc.Root, urlAuthKeysFile)
	unlock, err := dotlock(path)
	if err != nil {
		return err
	}
	defer unlock()
	return s.writeAtomic(path, data)
}
