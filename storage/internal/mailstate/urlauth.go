package mailstate

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"cote/storage"
)

// urlAuthKeyLen is the size of a URLAUTH mailbox key: 256 bits, above
// RFC 4467 section 3's minimum of 128.
const urlAuthKeyLen = 32

// URLAuthKeyBackend is a Backend that persists URLAUTH keys. Without it
// the keys live as long as the State.
type URLAuthKeyBackend interface {
	// LoadURLAuthKeys returns what SaveURLAuthKeys last stored, nil
	// when nothing was.
	LoadURLAuthKeys() ([]byte, error)
	// SaveURLAuthKeys replaces the stored keys durably.
	SaveURLAuthKeys(data []byte) error
}

// urlKey is one mailbox's URLAUTH key, valid while the mailbox has the
// UIDVALIDITY it was made for.
type urlKey struct {
	uidValidity uint32
	key         []byte
}

// URLAuthKey implements storage.URLAuthStore.
func (st *State) URLAuthKey(name string, create bool) ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	b, err := st.lookup(name)
	if err != nil {
		return nil, err
	}
	if err := st.loadURLKeys(); err != nil {
		return nil, err
	}
	if k, ok := st.urlKeys[b.Name]; ok && k.uidValidity == b.UIDValidity {
		return slices.Clone(k.key), nil
	}
	if !create {
		return nil, nil
	}
	key := make([]byte, urlAuthKeyLen)
	rand.Read(key)
	next := maps.Clone(st.urlKeys)
	next[b.Name] = urlKey{uidValidity: b.UIDValidity, key: key}
	if err := st.saveURLKeys(next); err != nil {
		return nil, err
	}
	return slices.Clone(key), nil
}

// ResetURLAuthKeys implements storage.URLAuthStore.
func (st *State) ResetURLAuthKeys(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return storage.ErrClosed
	}
	if err := st.loadURLKeys(); err != nil {
		return err
	}
	next := map[string]urlKey{}
	if name != "" {
		b, err := st.lookup(name)
		if err != nil {
			return err
		}
		if _, ok := st.urlKeys[b.Name]; !ok {
			return nil
		}
		next = maps.Clone(st.urlKeys)
		delete(next, b.Name)
	} else if len(st.urlKeys) == 0 {
		return nil
	}
	return st.saveURLKeys(next)
}

// loadURLKeys reads the keys once; callers hold the lock.
func (st *State) loadURLKeys() error {
	if st.urlKeys != nil {
		return nil
	}
	st.urlKeys = map[string]urlKey{}
	kb, ok := st.be.(URLAuthKeyBackend)
	if !ok {
		return nil
	}
	data, err := kb.LoadURLAuthKeys()
	if err != nil {
		st.urlKeys = nil
		return fmt.Errorf("load URLAUTH keys: %w", err)
	}
	st.urlKeys = parseURLKeys(data)
	return nil
}

// saveURLKeys stores keys through the backend, then makes them current.
func (st *State) saveURLKeys(keys map[string]urlKey) error {
	if kb, ok := st.be.(URLAuthKeyBackend); ok {
		if err := kb.SaveURLAuthKeys(formatURLKeys(keys)); err != nil {
			return fmt.Errorf("save URLAUTH keys: %w", err)
		}
	}
	st.urlKeys = keys
	return nil
}

// formatURLKeys writes one line per mailbox: UIDVALIDITY, the key in hex
// and the name, separated by tabs; the name is last since it may hold
// tabs (it never holds CR or LF).
func formatURLKeys(keys map[string]urlKey) []byte {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("# cote URLAUTH mailbox keys (RFC 4467), version 1\n")
	for _, n := range names {
		k := keys[n]
		fmt.Fprintf(&b, "%d\t%s\t%s\n", k.uidValidity, hex.EncodeToString(k.key), n)
	}
	return b.Bytes()
}

// parseURLKeys reads formatURLKeys's output; bad lines are skipped (their
// mailboxes get new keys).
func parseURLKeys(data []byte) map[string]urlKey {
	keys := map[string]urlKey{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 || f[2] == "" {
			continue
		}
		uv, err := strconv.ParseUint(f[0], 10, 32)
		key, herr := hex.DecodeString(f[1])
		if err != nil || herr != nil || len(key) < 16 {
			continue
		}
		keys[f[2]] = urlKey{uidValidity: uint32(uv), key: key}
	}
	return keys
}
