package imap

import (
	"slices"
	"strings"

	"cote/storage"
)

// cmdCreate: RFC 3501 section 6.3.3, with RFC 6154 section 3's USE
// option (CREATE-SPECIAL-USE).
func (s *session) cmdCreate(c *command) error {
	p := c.p
	p.sp()
	name := p.mailbox()
	var use []string
	if p.trySP() {
		p.list(func() {
			if !strings.EqualFold(p.atom(), "USE") {
				p.fail("unknown CREATE parameter")
				return
			}
			p.sp()
			use = append(use, p.flagList()...)
		})
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if p.badName {
		return errNo("CANNOT", "Mailbox name is not valid modified UTF-7.")
	}
	name = strings.TrimSuffix(name, string(s.o.Store.Delimiter()))
	if name == "" {
		return errNo("CANNOT", "Invalid mailbox name.")
	}
	if strings.EqualFold(name, "INBOX") {
		return errNo("ALREADYEXISTS", "Mailbox already exists.")
	}
	if err := s.o.Store.Create(name, use); err != nil {
		return err
	}
	return nil
}

// cmdDelete: RFC 3501 section 6.3.4.
func (s *session) cmdDelete(c *command) error {
	p := c.p
	p.sp()
	name := normalizeInbox(p.mailbox())
	p.end()
	if p.err != nil {
		return p.err
	}
	if name == "INBOX" {
		return errNo("CANNOT", "INBOX can't be deleted.")
	}
	if s.mbox != nil && s.mbox.Name() == name {
		return errNo("INUSE", "Can't delete the selected mailbox.")
	}
	return s.o.Store.Delete(name)
}

// cmdRename: RFC 3501 section 6.3.5. Renaming INBOX moves its messages
// (the store implements that).
func (s *session) cmdRename(c *command) error {
	p := c.p
	p.sp()
	from := normalizeInbox(p.mailbox())
	p.sp()
	to := normalizeInbox(p.mailbox())
	p.end()
	if p.err != nil {
		return p.err
	}
	if p.badName {
		return errNo("CANNOT", "Mailbox name is not valid modified UTF-7.")
	}
	to = strings.TrimSuffix(to, string(s.o.Store.Delimiter()))
	if to == "INBOX" {
		return errNo("ALREADYEXISTS", "Mailbox already exists.")
	}
	return s.o.Store.Rename(from, to)
}

// cmdSubscribe: SUBSCRIBE and UNSUBSCRIBE, RFC 3501 sections 6.3.6 and
// 6.3.7.
func (s *session) cmdSubscribe(c *command) error {
	p := c.p
	p.sp()
	name := normalizeInbox(p.mailbox())
	p.end()
	if p.err != nil {
		return p.err
	}
	return s.o.Store.SetSubscribed(name, c.name == "SUBSCRIBE")
}

// cmdStatus: RFC 9051 section 6.3.11, with SIZE (RFC 8438),
// HIGHESTMODSEQ (RFC 7162 section 3.1.6), APPENDLIMIT (RFC 7889 section
// 3.2) and DELETED-STORAGE (RFC 9208 section 4.2.1).
func (s *session) cmdStatus(c *command) error {
	p := c.p
	p.sp()
	name := normalizeInbox(p.mailbox())
	p.sp()
	items := parseStatusItems(p)
	p.end()
	if p.err != nil {
		return p.err
	}
	if len(items) == 0 {
		return errBad("STATUS needs at least one item.")
	}
	e, err := s.statusResponse(name, items)
	if err != nil {
		return err
	}
	s.writeEnc(e)
	return nil
}

// parseStatusItems parses "(" status-att *(SP status-att) ")".
func parseStatusItems(p *parser) []string {
	var items []string
	p.list(func() {
		it := strings.ToUpper(p.atom())
		switch it {
		case "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "DELETED",
			"HIGHESTMODSEQ", "APPENDLIMIT", "DELETED-STORAGE":
			items = append(items, it)
		default:
			p.fail("unknown STATUS item %q", truncate(it, 20))
		}
	})
	return items
}

// statusResponse builds "* STATUS name (...)".
func (s *session) statusResponse(name string, items []string) (*enc, error) {
	st, err := s.o.Store.Status(name)
	if err != nil {
		return nil, err
	}
	if slices.Contains(items, "HIGHESTMODSEQ") {
		s.enableCondstore()
	}
	return s.statusEnc(name, st, items)
}

// statusEnc encodes "* STATUS name (...)" from st: for STATUS, LIST
// RETURN (STATUS) and NOTIFY's STATUS responses. It has no side effect
// on the session (statusResponse enables CONDSTORE for HIGHESTMODSEQ).
func (s *session) statusEnc(name string, st storage.Status, items []string) (*enc, error) {
	out := untagged().raw("STATUS ").mailbox(name, s.utf8Names()).raw(" (")
	for i, it := range items {
		if i > 0 {
			out.sp()
		}
		out.raw(it).sp()
		switch it {
		case "MESSAGES":
			out.num(st.Messages)
		case "RECENT":
			out.num(st.Recent)
		case "UIDNEXT":
			out.num(st.UIDNext)
		case "UIDVALIDITY":
			out.num(st.UIDValidity)
		case "UNSEEN":
			out.num(st.Unseen)
		case "SIZE":
			out.num64(uint64(max(st.Size, 0)))
		case "DELETED":
			out.num(st.Deleted)
		case "HIGHESTMODSEQ":
			out.num64(st.HighestModSeq)
		case "APPENDLIMIT":
			out.num64(uint64(s.o.MaxLiteral))
		case "DELETED-STORAGE":
			n, err := s.deletedStorage(name)
			if err != nil {
				return nil, err
			}
			out.num64(uint64(n))
		}
	}
	return out.close(), nil
}

// deletedStorage is the size in KiB of the messages marked \Deleted
// (RFC 9208 section 4.2.1).
func (s *session) deletedStorage(name string) (int64, error) {
	mb, err := s.o.Store.Open(name, true)
	if err != nil {
		return 0, err
	}
	defer mb.Close()
	var n int64
	for _, m := range mb.Messages() {
		if slices.Contains(m.Flags, storage.FlagDeleted) {
			n += m.Size
		}
	}
	return (n + 1023) / 1024, nil
}

// utf8Names reports that mailbox names go as UTF-8 rather than modified
// UTF-7.
func (s *session) utf8Names() bool { return s.mode.utf8 || s.mode.rev2 }

// normalizeInbox spells INBOX in upper case however the client wrote it
// (RFC 3501 section 5.1).
func normalizeInbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}
