package worker

import (
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"cote/storage"
)

// mailLog logs mailbox changes, as Dovecot's mail_log plugin does, with
// its settings: plugin { mail_log_events = delete undelete expunge copy
// mailbox_create mailbox_delete mailbox_rename flag_change save } and
// mail_log_fields (uid box flags size; Dovecot's default "uid box msgid
// size" — msgid needs the message's header and is not logged).
type mailLog struct {
	log    *slog.Logger
	events map[string]bool
	fields map[string]bool
}

// newMailLog returns nil when no events are configured.
func newMailLog(plugin map[string]string, log *slog.Logger) *mailLog {
	ev := strings.Fields(plugin["mail_log_events"])
	if len(ev) == 0 {
		return nil
	}
	fields := strings.Fields(plugin["mail_log_fields"])
	if len(fields) == 0 {
		fields = []string{"uid", "box", "size"}
	}
	ml := &mailLog{log: log, events: map[string]bool{}, fields: map[string]bool{}}
	for _, e := range ev {
		ml.events[e] = true
	}
	for _, f := range fields {
		ml.fields[f] = true
	}
	return ml
}

func (ml *mailLog) on(event string) bool { return ml != nil && ml.events[event] }

func (ml *mailLog) message(event, box string, m storage.Message, extra ...any) {
	args := []any{"event", event}
	if ml.fields["box"] {
		args = append(args, "box", box)
	}
	if ml.fields["uid"] {
		args = append(args, "uid", m.UID)
	}
	if ml.fields["size"] || ml.fields["vsize"] {
		args = append(args, "size", m.Size)
	}
	if ml.fields["flags"] {
		args = append(args, "flags", strings.Join(m.Flags, " "))
	}
	ml.log.Info("mail_log", append(args, extra...)...)
}

// wrapStore returns st with logging, or st itself when nothing is logged.
func (ml *mailLog) wrapStore(st storage.Store) storage.Store {
	if ml == nil {
		return st
	}
	ls := &loggedStore{Store: st, ml: ml}
	if ks, ok := st.(storage.URLAuthStore); ok {
		return &loggedURLAuthStore{loggedStore: ls, URLAuthStore: ks}
	}
	return ls
}

type loggedStore struct {
	storage.Store
	ml *mailLog
}

func (s *loggedStore) Create(name string, specialUse []string) error {
	err := s.Store.Create(name, specialUse)
	if err == nil && s.ml.on("mailbox_create") {
		s.ml.log.Info("mail_log", "event", "mailbox_create", "box", name)
	}
	return err
}

func (s *loggedStore) Delete(name string) error {
	err := s.Store.Delete(name)
	if err == nil && s.ml.on("mailbox_delete") {
		s.ml.log.Info("mail_log", "event", "mailbox_delete", "box", name)
	}
	return err
}

func (s *loggedStore) Rename(oldName, newName string) error {
	err := s.Store.Rename(oldName, newName)
	if err == nil && s.ml.on("mailbox_rename") {
		s.ml.log.Info("mail_log", "event", "mailbox_rename", "box", oldName, "new", newName)
	}
	return err
}

func (s *loggedStore) Append(name string, r io.Reader, opts storage.AppendOptions) (uint32, uint32, error) {
	uv, uid, err := s.Store.Append(name, r, opts)
	if err == nil && s.ml.on("save") {
		s.ml.message("save", name, storage.Message{UID: uid, Flags: opts.Flags})
	}
	return uv, uid, err
}

func (s *loggedStore) Open(name string, readOnly bool) (storage.Mailbox, error) {
	mb, err := s.Store.Open(name, readOnly)
	if err != nil || readOnly {
		return mb, err
	}
	return &loggedMailbox{Mailbox: mb, ml: s.ml}, nil
}

// loggedMailbox logs changes made through one opened mailbox. It keeps the
// optional interfaces of the mailbox it wraps visible by forwarding them.
type loggedMailbox struct {
	storage.Mailbox
	ml *mailLog
}

// Unwrap gives the underlying mailbox to code that checks for optional
// interfaces (caches, text search).
func (m *loggedMailbox) Unwrap() storage.Mailbox { return m.Mailbox }

func (m *loggedMailbox) byUID() map[uint32]storage.Message {
	out := map[uint32]storage.Message{}
	for _, msg := range m.Messages() {
		out[msg.UID] = msg
	}
	return out
}

func (m *loggedMailbox) Store(uids []uint32, op storage.FlagOp, flags []string, unchangedSince uint64) (storage.StoreResult, error) {
	var before map[uint32]storage.Message
	if m.ml.on("delete") || m.ml.on("undelete") {
		before = m.byUID()
	}
	res, err := m.Mailbox.Store(uids, op, flags, unchangedSince)
	for _, c := range res.Changed {
		was := slices.Contains(before[c.UID].Flags, storage.FlagDeleted)
		is := slices.Contains(c.Flags, storage.FlagDeleted)
		switch {
		case !was && is && m.ml.on("delete"):
			m.ml.message("delete", m.Name(), c)
		case was && !is && m.ml.on("undelete"):
			m.ml.message("undelete", m.Name(), c)
		case m.ml.on("flag_change"):
			m.ml.message("flag_change", m.Name(), c)
		}
	}
	return res, err
}

func (m *loggedMailbox) Expunge(uids []uint32) ([]uint32, error) {
	before := m.byUID()
	gone, err := m.Mailbox.Expunge(uids)
	if m.ml.on("expunge") {
		for _, uid := range gone {
			m.ml.message("expunge", m.Name(), before[uid])
		}
	}
	return gone, err
}

func (m *loggedMailbox) Copy(uids []uint32, dest string) (storage.CopyResult, error) {
	res, err := m.Mailbox.Copy(uids, dest)
	if err == nil && m.ml.on("copy") {
		m.ml.log.Info("mail_log", "event", "copy", "box", m.Name(), "dest", dest,
			"uids", joinUIDs(res.SrcUIDs), "dest_uids", joinUIDs(res.DstUIDs))
	}
	return res, err
}

func (m *loggedMailbox) Move(uids []uint32, dest string) (storage.CopyResult, error) {
	res, err := m.Mailbox.Move(uids, dest)
	if err == nil && (m.ml.on("copy") || m.ml.on("expunge")) {
		m.ml.log.Info("mail_log", "event", "move", "box", m.Name(), "dest", dest,
			"uids", joinUIDs(res.SrcUIDs), "dest_uids", joinUIDs(res.DstUIDs))
	}
	return res, err
}

func joinUIDs(uids []uint32) string {
	parts := make([]string, len(uids))
	for i, u := range uids {
		parts[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(parts, ",")
}

// The optional interfaces of the wrapped store and mailboxes stay visible
// through the wrappers; where the backend lacks one, the answer is the
// documented "cannot help" value, which the engines already handle.

func (s *loggedStore) Quota() (storage.Quota, error) {
	if q, ok := s.Store.(storage.QuotaStore); ok {
		return q.Quota()
	}
	return storage.Quota{}, storage.ErrNotImplemented
}

func (s *loggedStore) CountsQuota() bool {
	if q, ok := s.Store.(storage.QuotaCounter); ok {
		return q.CountsQuota()
	}
	_, ok := s.Store.(storage.QuotaStore)
	return ok
}

func (m *loggedMailbox) Cached(uid uint32) (storage.Cached, bool, error) {
	if c, ok := m.Mailbox.(storage.CacheMailbox); ok {
		return c.Cached(uid)
	}
	return storage.Cached{}, false, nil
}

func (m *loggedMailbox) SearchText(query string, body bool) ([]uint32, bool, error) {
	if t, ok := m.Mailbox.(storage.TextSearchMailbox); ok {
		return t.SearchText(query, body)
	}
	msgs := m.Messages()
	uids := make([]uint32, len(msgs))
	for i, msg := range msgs {
		uids[i] = msg.UID
	}
	return uids, false, nil
}

func (m *loggedMailbox) POP3UIDL(uid uint32) (string, bool) {
	if u, ok := m.Mailbox.(interface{ POP3UIDL(uint32) (string, bool) }); ok {
		return u.POP3UIDL(uid)
	}
	return "", false
}

func (m *loggedMailbox) MaildirBaseName(uid uint32) (string, bool) {
	if u, ok := m.Mailbox.(interface{ MaildirBaseName(uint32) (string, bool) }); ok {
		return u.MaildirBaseName(uid)
	}
	return "", false
}

func (m *loggedMailbox) MessageGUID(uid uint32) (string, bool) {
	if u, ok := m.Mailbox.(interface{ MessageGUID(uint32) (string, bool) }); ok {
		return u.MessageGUID(uid)
	}
	return "", false
}
