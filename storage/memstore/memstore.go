// Package memstore is an in-memory storage.Store for protocol tests. It has
// the full semantics of the storage API (UIDs, UIDVALIDITY, MODSEQ, \Recent,
// snapshots and Poll, QRESYNC history, Watch) and keeps nothing on disk.
package memstore

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"cote/storage"
	"cote/storage/internal/mailstate"
)

// Options configure a store.
type Options struct {
	// Delimiter is the hierarchy separator; 0 means '/'.
	Delimiter rune
	// MaxMessageSize makes Append fail with storage.ErrTooBig above it;
	// 0 means no limit.
	MaxMessageSize int64
	// KeywordLimit is the number of keywords a mailbox can hold (Maildir
	// has 26); 0 means no limit.
	KeywordLimit int
}

// New returns an empty store with the default options.
func New() storage.Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty store.
func NewWithOptions(opts Options) storage.Store {
	if opts.Delimiter == 0 {
		opts.Delimiter = '/'
	}
	be := &backend{opts: opts, lastUIDValidity: uint32(time.Now().Unix())}
	st, err := mailstate.New(be, opts.Delimiter, nil, nil)
	if err != nil {
		panic(err) // the backend cannot fail
	}
	return st
}

// backend keeps message bodies in memory.
type backend struct {
	opts Options

	mu              sync.Mutex // guards lastUIDValidity
	lastUIDValidity uint32
}

func (b *backend) ValidName(name string) error { return nil }

func (b *backend) NewUIDValidity() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := uint32(time.Now().Unix())
	if now <= b.lastUIDValidity {
		now = b.lastUIDValidity + 1
	}
	b.lastUIDValidity = now
	return now
}

func (b *backend) KeywordLimit() int                                            { return b.opts.KeywordLimit }
func (b *backend) CreateMailbox(*mailstate.Box) error                           { return nil }
func (b *backend) DeleteMailbox(*mailstate.Box) error                           { return nil }
func (b *backend) RenameMailbox(*mailstate.Box, string, []*mailstate.Box) error { return nil }
func (b *backend) RenameInbox(_, _ *mailstate.Box) error                        { return nil }
func (b *backend) SetSubscriptions([]string) error                              { return nil }
func (b *backend) Sync(*mailstate.Box) error                                    { return nil }
func (b *backend) Commit(*mailstate.Box) error                                  { return nil }
func (b *backend) Expunge(*mailstate.Box, []*mailstate.Msg) error               { return nil }
func (b *backend) SetFlags(*mailstate.Box, []*mailstate.Msg, [][]string) error  { return nil }

func (b *backend) Append(_ *mailstate.Box, r io.Reader, m *mailstate.Msg) error {
	var buf bytes.Buffer
	w := &mailstate.CRLFWriter{W: &buf}
	if b.opts.MaxMessageSize > 0 {
		r = io.LimitReader(r, b.opts.MaxMessageSize+1)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	if b.opts.MaxMessageSize > 0 && w.N > b.opts.MaxMessageSize {
		return storage.ErrTooBig
	}
	m.Body = buf.Bytes()
	m.Size = int64(len(m.Body))
	return nil
}

func (b *backend) Copy(_ *mailstate.Box, _ []*mailstate.Msg, _ *mailstate.Box, _ []*mailstate.Msg) error {
	return nil
}

func (b *backend) Open(_ *mailstate.Box, m *mailstate.Msg) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.Body)), nil
}
