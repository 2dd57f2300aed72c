package imap

import (
	"slices"

	"cote/storage"
)

// systemFlags returns RFC 3501 section 2.3.2's flags, for mailboxes whose
// store lists none.
func systemFlags() []string {
	return []string{storage.FlagAnswered, storage.FlagFlagged, storage.FlagDeleted, storage.FlagSeen, storage.FlagDraft}
}

// cmdSelect: SELECT and EXAMINE, RFC 3501 sections 6.3.1 and 6.3.2.
func (s *session) cmdSelect(c *command) error {
	p := c.p
	p.sp()
	name := p.mailbox()
	p.end()
	if p.err != nil {
		return p.err
	}
	// Selecting closes the previous mailbox without expunging, even
	// when the new selection fails.
	s.closeMailbox()
	readOnly := c.name == "EXAMINE"
	mbox, err := s.o.Store.Open(name, readOnly)
	if err != nil {
		return err
	}
	st, err := mbox.Status()
	if err != nil {
		mbox.Close()
		return err
	}
	s.mbox, s.view = mbox, newView(mbox.Messages())
	readOnly = readOnly || mbox.ReadOnly()

	flags := mbox.Flags()
	if len(flags) == 0 {
		flags = systemFlags()
	}
	s.writeEnc(untagged().raw("FLAGS ").flags(flags))
	perm := []string{}
	if !readOnly {
		perm = mbox.PermanentFlags()
	}
	s.writeEnc(untagged().raw("OK [PERMANENTFLAGS ").flags(perm).raw("] Flags permitted."))
	s.writeEnc(untagged().num(s.view.exists()).raw(" EXISTS"))
	s.writeEnc(untagged().num(s.view.recent()).raw(" RECENT"))
	if i := slices.IndexFunc(s.view.msgs, func(m storage.Message) bool {
		return !slices.Contains(m.Flags, storage.FlagSeen)
	}); i >= 0 {
		s.writeEnc(untagged().raw("OK [UNSEEN ").num(uint32(i + 1)).raw("] First unseen."))
	}
	s.writeEnc(untagged().raw("OK [UIDVALIDITY ").num(st.UIDValidity).raw("] UIDs valid"))
	uidNext := max(st.UIDNext, s.view.maxUID()+1)
	s.writeEnc(untagged().raw("OK [UIDNEXT ").num(uidNext).raw("] Predicted next UID"))
	if st.HighestModSeq > 0 {
		s.writeEnc(untagged().raw("OK [HIGHESTMODSEQ ").num64(st.HighestModSeq).raw("] Highest"))
	}
	if readOnly {
		c.ok("READ-ONLY", "Examine completed.")
	} else {
		c.ok("READ-WRITE", "Select completed.")
	}
	return nil
}

// closeMailbox deselects without expunging.
func (s *session) closeMailbox() {
	if s.mbox == nil {
		return
	}
	if err := s.mbox.Close(); err != nil {
		s.log.Warn("close mailbox", "mailbox", s.mbox.Name(), "err", err)
	}
	s.mbox, s.view = nil, nil
}

// cmdClose: CLOSE (RFC 3501 section 6.4.2) expunges silently in a
// read-write mailbox; UNSELECT (RFC 3691) does not.
func (s *session) cmdClose(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	var err error
	if c.name == "CLOSE" && !s.mbox.ReadOnly() {
		_, err = s.mbox.Expunge(nil)
	}
	s.closeMailbox()
	return err
}

// cmdExpunge: EXPUNGE (RFC 3501 section 6.4.3) and UID EXPUNGE (RFC 4315
// section 2.1).
func (s *session) cmdExpunge(c *command) error {
	p := c.p
	var uids []uint32
	if c.uid {
		p.sp()
		set := p.seqSet()
		p.end()
		if p.err != nil {
			return p.err
		}
		idx, err := s.view.resolve(set, true)
		if err != nil {
			return err
		}
		if len(idx) == 0 {
			return nil
		}
		uids = s.view.uids(idx)
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if s.mbox.ReadOnly() {
		return errNo("READ-ONLY", "Mailbox is read-only.")
	}
	removed, err := s.mbox.Expunge(uids)
	if err != nil {
		return err
	}
	s.view.expunge(removed, s.writeEnc)
	return nil
}
