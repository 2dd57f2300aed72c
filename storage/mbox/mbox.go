// Package mbox is the mbox storage backend, read and write, compatible
// with Dovecot's (mail_location = mbox:~/mail:INBOX=/var/mail/%u):
// folders are files under the root, with directories for the hierarchy;
// UIDs, UIDVALIDITY and flags live in the headers Dovecot writes
// (X-IMAPbase in the first message, X-UID, Status, X-Status, X-Keywords)
// with Content-Length; writers take a dotlock and an fcntl lock.
//
// The state that mbox headers cannot hold lives in memory only: MODSEQs
// start afresh (above any earlier value, history empty) each time a store
// is opened, so CONDSTORE/QRESYNC clients resynchronize then. There is no
// structure cache and no full-text index: engines read the messages.
package mbox

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/internal/layout"
	"cote/storage/internal/mailstate"
)

// Options configure a store.
type Options struct {
	// Location is the mail_location value, e.g.
	// "mbox:~/mail:INBOX=/var/mail/%u". Without INBOX=, INBOX is the
	// file "inbox" in the root.
	Location string
	Home     string
	User     string
	// NoFsync turns off fsync (Dovecot's mail_fsync=never).
	NoFsync bool
	// Delimiter is the IMAP hierarchy separator; 0 means '/'.
	Delimiter rune
	// PollInterval is how often the files are checked for changes by
	// other programs to wake watchers; 0 means 2 s, negative disables.
	PollInterval time.Duration
	Log          *slog.Logger
}

// Location is a parsed mbox mail_location.
type Location struct {
	Root  string
	Inbox string
	UTF8  bool
}

// ParseLocation parses "mbox:<root>[:INBOX=<file>][:UTF-8]" (other
// Dovecot keys such as INDEX= and CONTROL= are accepted and ignored:
// cote keeps no files beside the mbox files), expanding "~", %u, %n, %d,
// %h.
func ParseLocation(loc, home, user string) (Location, error) {
	var l Location
	rest, ok := strings.CutPrefix(loc, "mbox:")
	if !ok {
		return l, fmt.Errorf("bad mail_location: %q does not start with \"mbox:\"", loc)
	}
	parts := layout.SplitLocation(rest)
	if parts[0] == "" {
		return l, fmt.Errorf("bad mail_location: no root in %q", loc)
	}
	var err error
	if l.Root, err = layout.ExpandPath(parts[0], home, user); err != nil {
		return l, fmt.Errorf("bad mail_location: %w", err)
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "INBOX":
			if l.Inbox, err = layout.ExpandPath(v, home, user); err != nil {
				return l, fmt.Errorf("bad mail_location: %w", err)
			}
		case "UTF-8":
			l.UTF8 = true
		case "LAYOUT":
			if !strings.EqualFold(v, "fs") {
				return l, fmt.Errorf("bad mail_location: LAYOUT=%s not supported for mbox", v)
			}
		case "INDEX", "INDEXPVT", "CONTROL", "VOLATILEDIR", "LISTINDEX", "SUBSCRIPTIONS", "DIRNAME", "":
		default:
			return l, fmt.Errorf("bad mail_location: unknown key %q", k)
		}
	}
	if l.Inbox == "" {
		l.Inbox = filepath.Join(l.Root, "inbox")
	}
	return l, nil
}

// Store is an open mbox tree.
type Store struct {
	*mailstate.State
	s *store
}

// Close stops watching and closes the store.
func (st *Store) Close() error {
	st.s.closeOnce.Do(func() {
		close(st.s.stop)
		st.s.wg.Wait()
	})
	return st.State.Close()
}

// store is the mailstate.Backend; its methods run with the State's lock
// held, except poll.
type store struct {
	loc   Location
	delim rune
	fsync bool
	log   *slog.Logger
	user  string
	st    *mailstate.State

	// Guarded by the State's lock.
	lastUIDValidity uint32
	lastModSeq      uint64

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// mfile is a mailbox's file as last read or written.
type mfile struct {
	path  string
	stamp stamp
	// size is the file's size as cote last saw it, and tail what
	// appending must write first so that the new From_ line starts a
	// message (a missing newline or separator line).
	size int64
	tail string
	// base is the X-IMAPbase of the file; nil when the file has none
	// (empty, or written by another program), in which case a write
	// rewrites the first message.
	base *imapBase
}

// mmsg is a message's place in the file.
type mmsg struct {
	m message
}

type stamp struct {
	mtime, size int64
	ino         uint64
}

func statStamp(path string) stamp {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return stamp{}
	}
	return stamp{mtime: st.Mtim.Nano(), size: st.Size, ino: st.Ino}
}

func ext(b *mailstate.Box) *mfile { return b.Ext.(*mfile) }

// Open opens the user's mbox tree, creating the root and the INBOX file
// if needed.
func Open(opts Options) (storage.Store, error) {
	loc, err := ParseLocation(opts.Location, opts.Home, opts.User)
	if err != nil {
		return nil, err
	}
	s := &store{loc: loc, delim: opts.Delimiter, fsync: !opts.NoFsync, log: opts.Log, user: opts.User,
		stop: make(chan struct{})}
	if s.delim == 0 {
		s.delim = '/'
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.user == "" {
		s.user = "MAILER-DAEMON"
	}
	if err := os.MkdirAll(loc.Root, 0o700); err != nil {
		return nil, fmt.Errorf("mbox root: %w", ioErr(err))
	}
	boxes, err := s.loadAll()
	if err != nil {
		return nil, err
	}
	var subs []string
	if data, err := os.ReadFile(filepath.Join(loc.Root, ".subscriptions")); err == nil {
		subs = layout.ParseSubscriptions(data, s.delim)
	}
	st, err := mailstate.New(s, s.delim, boxes, subs)
	if err != nil {
		return nil, err
	}
	s.st = st
	interval := opts.PollInterval
	if interval == 0 {
		interval = 2 * time.Second
	}
	if interval > 0 {
		s.wg.Add(1)
		go s.poll(interval)
	}
	return &Store{State: st, s: s}, nil
}

func (s *store) poll(d time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.st.SyncAll(); err != nil {
			s.log.Warn("mbox rescan", "err", err)
		}
	}
}

// pathOf returns a mailbox's file.
func (s *store) pathOf(name string) string {
	if name == "INBOX" {
		return s.loc.Inbox
	}
	levels := strings.Split(name, string(s.delim))
	for i, l := range levels {
		if !s.loc.UTF8 {
			levels[i] = layout.EncodeMUTF7(l)
		}
	}
	return filepath.Join(append([]string{s.loc.Root}, levels...)...)
}

// skipName reports whether a directory entry under the root is not a
// mailbox: dot files (.subscriptions, Dovecot's .imap), locks and
// temporary files.
func skipName(n string) bool {
	return strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".lock") || strings.Contains(n, ".lock.")
}

// loadAll finds every mailbox: INBOX, and every file under the root.
func (s *store) loadAll() ([]*mailstate.Box, error) {
	if err := os.MkdirAll(filepath.Dir(s.loc.Inbox), 0o700); err != nil {
		return nil, ioErr(err)
	}
	f, err := os.OpenFile(s.loc.Inbox, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("INBOX: %w", ioErr(err))
	}
	f.Close()
	inbox, err := s.loadBox("INBOX")
	if err != nil {
		return nil, err
	}
	boxes := []*mailstate.Box{inbox}
	err = filepath.WalkDir(s.loc.Root, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == s.loc.Root {
			return nil
		}
		if skipName(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || path == s.loc.Inbox {
			return nil
		}
		rel, _ := filepath.Rel(s.loc.Root, path)
		name, ok := s.nameOf(strings.Split(rel, string(filepath.Separator)))
		if !ok || name == "INBOX" {
			return nil
		}
		b, err := s.loadBox(name)
		if err != nil {
			return fmt.Errorf("open mailbox %q: %w", name, err)
		}
		boxes = append(boxes, b)
		return nil
	})
	return boxes, err
}

func (s *store) nameOf(levels []string) (string, bool) {
	for i, l := range levels {
		if !s.loc.UTF8 {
			d, err := layout.DecodeMUTF7(l)
			if err != nil {
				return "", false
			}
			levels[i] = d
		}
		if levels[i] == "" || strings.ContainsRune(levels[i], s.delim) || strings.ContainsAny(levels[i], "\x00\r\n*%") {
			return "", false
		}
	}
	if strings.EqualFold(levels[0], "INBOX") {
		levels[0] = "INBOX"
	}
	return strings.Join(levels, string(s.delim)), true
}

// loadBox reads a mailbox file into a new Box. Its MODSEQs start above
// anything a client can hold from before (the time in microseconds).
func (s *store) loadBox(name string) (*mailstate.Box, error) {
	b := mailstate.NewBox(name, 0)
	b.Ext = &mfile{path: s.pathOf(name)}
	b.ModSeq = s.freshModSeq()
	b.HistoryFrom = b.ModSeq
	if err := s.syncFile(b, true); err != nil {
		return nil, err
	}
	b.HistoryFrom = b.ModSeq
	return b, nil
}

func (s *store) freshModSeq() uint64 {
	ms := uint64(time.Now().UnixMicro())
	if ms <= s.lastModSeq {
		ms = s.lastModSeq + 1
	}
	s.lastModSeq = ms
	return ms
}

// ValidName implements mailstate.Backend.
func (s *store) ValidName(name string) error {
	if name == "INBOX" {
		return nil
	}
	for _, l := range strings.Split(name, string(s.delim)) {
		if l == "." || l == ".." || strings.HasPrefix(l, ".") || strings.ContainsRune(l, '/') && s.delim != '/' ||
			strings.HasSuffix(l, ".lock") || len(l) > 255 {
			return fmt.Errorf("%q: %w", name, storage.ErrInvalidName)
		}
	}
	return nil
}

// NewUIDValidity implements mailstate.Backend: the current Unix time,
// kept increasing.
func (s *store) NewUIDValidity() uint32 {
	v := uint32(time.Now().Unix())
	if v <= s.lastUIDValidity {
		v = s.lastUIDValidity + 1
	}
	s.lastUIDValidity = v
	return v
}

// KeywordLimit implements mailstate.Backend: X-Keywords has no limit.
func (s *store) KeywordLimit() int { return 0 }

// CreateMailbox implements mailstate.Backend. In mbox a mailbox is a file
// and a parent a directory: a mailbox cannot have children, nor a name
// with children hold mail (Dovecot's \NoInferiors).
func (s *store) CreateMailbox(b *mailstate.Box) error {
	path := s.pathOf(b.Name)
	for d := filepath.Dir(path); len(d) > len(s.loc.Root); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
			return fmt.Errorf("%q: the mailbox %s is a file and cannot have children: %w",
				b.Name, filepath.Base(d), storage.ErrInvalidName)
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%q has children and cannot hold mail in mbox: %w", b.Name, storage.ErrInvalidName)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return ioErr(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return ioErr(err)
	}
	f.Close()
	b.Ext = &mfile{path: path}
	return s.syncFile(b, true)
}

// DeleteMailbox implements mailstate.Backend.
func (s *store) DeleteMailbox(b *mailstate.Box) error {
	mf := ext(b)
	if err := os.Remove(mf.path); err != nil && !os.IsNotExist(err) {
		return ioErr(err)
	}
	// Parent directories left empty go too.
	for d := filepath.Dir(mf.path); len(d) > len(s.loc.Root); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// RenameMailbox implements mailstate.Backend; mbox mailboxes have no
// children.
func (s *store) RenameMailbox(b *mailstate.Box, newName string, children []*mailstate.Box) error {
	if len(children) > 0 {
		return fmt.Errorf("%q has children: %w", b.Name, storage.ErrInvalidName)
	}
	mf := ext(b)
	to := s.pathOf(newName)
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("%s exists on disk: %w", to, storage.ErrMailboxExists)
	}
	for d := filepath.Dir(to); len(d) > len(s.loc.Root); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
			return fmt.Errorf("%q: %s is a mailbox file: %w", newName, filepath.Base(d), storage.ErrInvalidName)
		}
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return ioErr(err)
	}
	if err := os.Rename(mf.path, to); err != nil {
		return ioErr(err)
	}
	mf.path = to
	return nil
}

// RenameInbox implements mailstate.Backend: INBOX's messages are written
// into dst (with their UIDs) and INBOX is emptied.
func (s *store) RenameInbox(inbox, dst *mailstate.Box) error {
	im, dm := ext(inbox), ext(dst)
	unlock, f, data, err := s.lockRead(im)
	if err != nil {
		return err
	}
	defer unlock()
	msgs, _ := parse(data)
	var out bytes.Buffer
	base := &imapBase{UIDValidity: dst.UIDValidity, UIDNext: inbox.UIDNext, Keywords: inbox.Keywords}
	first := true
	for _, m := range msgs {
		if m.Pseudo || m.UID == 0 || inbox.Find(m.UID) == nil {
			continue
		}
		pm := inbox.Find(m.UID)
		var bp *imapBase
		if first {
			bp = base
			first = false
		}
		hdr, body := split(data, m)
		writeMessage(&out, m.From, hdr, body, m.UID, pm.Flags, m.UID < inbox.RecentFrom, bp)
	}
	if err := s.replace(dm, out.Bytes()); err != nil {
		return err
	}
	if err := s.truncateAt(f, im, 0); err != nil {
		return err
	}
	im.base = nil
	return nil
}

// SetSubscriptions implements mailstate.Backend: .subscriptions in the
// root, Dovecot's version 2 format.
func (s *store) SetSubscriptions(names []string) error {
	path := filepath.Join(s.loc.Root, ".subscriptions")
	unlock, err := dotlock(path)
	if err != nil {
		return err
	}
	defer unlock()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, layout.FormatSubscriptions(names, s.delim), 0o600); err != nil {
		os.Remove(tmp)
		return ioErr(err)
	}
	return ioErr(os.Rename(tmp, path))
}

// Commit implements mailstate.Backend; the mbox file holds all that is
// kept.
func (s *store) Commit(b *mailstate.Box) error { return nil }

// Open implements mailstate.Backend: it reads the message's bytes from
// where the file had them. When the file changed since (another program,
// or the message moved with a rename of INBOX), the message is looked up
// by its X-UID in the file as it is now.
func (s *store) Open(b *mailstate.Box, m *mailstate.Msg) (io.ReadCloser, error) {
	mf := ext(b)
	pm := m.Ext.(*mmsg).m
	f, err := os.Open(mf.path)
	if err != nil {
		return nil, ioErr(err)
	}
	defer f.Close()
	buf := make([]byte, max(pm.End-pm.Start, 0)+1)
	n, err := f.ReadAt(buf, pm.Start)
	if err != nil && err != io.EOF {
		return nil, ioErr(err)
	}
	buf = buf[:n]
	if int64(n) >= pm.End-pm.Start && pm.End > pm.Start {
		if one, _ := parseOne(buf, 0); one.UID == m.UID && one.End == pm.End-pm.Start {
			return io.NopCloser(mailstate.CRLFReader(bytes.NewReader(content(buf, one)))), nil
		}
	}
	data, err := readAllAt(f)
	if err != nil {
		return nil, err
	}
	msgs, _ := parse(data)
	i := slices.IndexFunc(msgs, func(x message) bool { return x.UID == m.UID && !x.Pseudo })
	if i < 0 {
		return nil, fmt.Errorf("uid %d: %w", m.UID, storage.ErrNoSuchMessage)
	}
	return io.NopCloser(mailstate.CRLFReader(bytes.NewReader(content(data, msgs[i])))), nil
}

// crlfSize is the size of b with CRLF line endings.
func crlfSize(b []byte) int64 {
	w := &mailstate.CRLFWriter{W: io.Discard}
	w.Write(b)
	return w.N
}
