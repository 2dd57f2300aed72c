package imap

import (
	"strings"
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

// cmdStatus: RFC 3501 section 6.3.10, with SIZE (RFC 8438) and DELETED
// (RFC 9051 section 6.3.11).
func (s *session) cmdStatus(c *command) error {
	p := c.p
	p.sp()
	name := normalizeInbox(p.mailbox())
	p.sp()
	var items []string
	p.list(func() {
		it := strings.ToUpper(p.atom())
		switch it {
		case "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "DELETED":
			items = append(items, it)
		default:
			p.fail("unknown STATUS item %q", truncate(it, 20))
		}
	})
	p.end()
	if p.err != nil {
		return p.err
	}
	if len(items) == 0 {
		return errBad("STATUS needs at least one item.")
	}
	st, err := s.o.Store.Status(name)
	if err != nil {
		return err
	}
	out := untagged().raw("STATUS ").mailbox(name).raw(" (")
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
		}
	}
	s.writeEnc(out.close())
	return nil
}

// normalizeInbox spells INBOX in upper case however the client wrote it
// (RFC 3501 section 5.1).
func normalizeInbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}
