package imap

import (
	"errors"
	"slices"

	"cote/storage"
)

// AutoMailbox is a mailbox created at login when missing (Dovecot's
// namespace "mailbox NAME { special_use = ...; auto = create|subscribe }").
type AutoMailbox struct {
	Name string
	// SpecialUse is its RFC 6154 attribute (`\Sent`, ...), or "". A
	// mailbox that already has the attribute under another name stands
	// for this one, so "Sent Items" is not doubled by "Sent".
	SpecialUse string
	// Subscribe subscribes the mailbox when it is created (auto =
	// subscribe).
	Subscribe bool
}

// DefaultAutoMailboxes are the special-use mailboxes created at login
// unless Options says otherwise: Drafts, Sent, Trash, Junk and Archive,
// subscribed.
func DefaultAutoMailboxes() []AutoMailbox {
	return []AutoMailbox{
		{Name: "Drafts", SpecialUse: storage.AttrDrafts, Subscribe: true},
		{Name: "Sent", SpecialUse: storage.AttrSent, Subscribe: true},
		{Name: "Trash", SpecialUse: storage.AttrTrash, Subscribe: true},
		{Name: "Junk", SpecialUse: storage.AttrJunk, Subscribe: true},
		{Name: "Archive", SpecialUse: storage.AttrArchive, Subscribe: true},
	}
}

// autoCreate creates the configured mailboxes that are missing. Failures
// are logged; the login goes on.
func (s *session) autoCreate() {
	if s.o.NoAutoMailboxes {
		return
	}
	boxes := s.o.AutoMailboxes
	if boxes == nil {
		boxes = DefaultAutoMailboxes()
	}
	if len(boxes) == 0 {
		return
	}
	infos, err := s.mailboxes()
	if err != nil {
		s.log.Warn("auto-create mailboxes: list", "err", err)
		return
	}
	for _, b := range boxes {
		if slices.ContainsFunc(infos, func(mi storage.MailboxInfo) bool {
			return mi.Name == b.Name || (b.SpecialUse != "" && slices.Contains(mi.Attrs, b.SpecialUse))
		}) {
			continue
		}
		var use []string
		if b.SpecialUse != "" {
			use = []string{b.SpecialUse}
		}
		err := s.o.Store.Create(b.Name, use)
		if errors.Is(err, storage.ErrUseAttr) {
			err = s.o.Store.Create(b.Name, nil)
		}
		if err != nil && !errors.Is(err, storage.ErrMailboxExists) {
			s.log.Warn("auto-create mailbox", "mailbox", b.Name, "err", err)
			continue
		}
		if b.Subscribe {
			if err := s.o.Store.SetSubscribed(b.Name, true); err != nil {
				s.log.Warn("auto-subscribe mailbox", "mailbox", b.Name, "err", err)
			}
		}
	}
}

// mailboxes lists the store's mailboxes with the configured special-use
// attributes (Options.SpecialUse) added to those that have none.
func (s *session) mailboxes() ([]storage.MailboxInfo, error) {
	infos, err := s.o.Store.List()
	if err != nil || len(s.o.SpecialUse) == 0 {
		return infos, err
	}
	for i, mi := range infos {
		use := s.o.SpecialUse[mi.Name]
		if len(use) == 0 || hasSpecialUse(mi.Attrs) ||
			slices.Contains(mi.Attrs, storage.AttrNoselect) || slices.Contains(mi.Attrs, storage.AttrNonExistent) {
			continue
		}
		infos[i].Attrs = append(slices.Clip(mi.Attrs), use...)
	}
	return infos, nil
}
