package imap

import (
	"slices"
	"strings"

	"cote/storage"
)

// systemFlags returns RFC 3501 section 2.3.2's flags, for mailboxes whose
// store lists none.
func systemFlags() []string {
	return []string{storage.FlagAnswered, storage.FlagFlagged, storage.FlagDeleted, storage.FlagSeen, storage.FlagDraft}
}

// cmdSelect: SELECT and EXAMINE, RFC 9051 sections 6.3.2 and 6.3.3,
// with the CONDSTORE and QRESYNC parameters (RFC 7162 sections 3.1.8
// and 3.2.5).
func (s *session) cmdSelect(c *command) error {
	p := c.p
	p.sp()
	name := p.mailbox()
	var qr *qresyncParams
	condstore := false
	if p.trySP() {
		p.list(func() {
			switch strings.ToUpper(p.atom()) {
			case "CONDSTORE":
				condstore = true
			case "QRESYNC":
				p.sp()
				qr = parseQresync(p)
			default:
				p.fail("unknown SELECT parameter")
			}
		})
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	if qr != nil && !s.mode.qresync {
		return errBad("QRESYNC not enabled.")
	}
	// Selecting closes the previous mailbox without expunging, even
	// when the new selection fails; the client learns it from [CLOSED]
	// (RFC 7162 section 3.2.11, RFC 9051 section 7.1).
	if s.mbox != nil {
		s.closeMailbox()
		s.writeLine("* OK [CLOSED] Previous mailbox closed.")
	}
	if condstore {
		s.enableCondstore()
	}
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
	s.mbox, s.view = mbox, newView(mbox.Messages(), &s.mode)
	s.view.noteModSeq(st.HighestModSeq)
	readOnly = readOnly || mbox.ReadOnly()

	flags := mbox.Flags()
	if len(flags) == 0 {
		flags = systemFlags()
	}
	s.view.flags = flags
	s.writeEnc(untagged().raw("FLAGS ").flags(flags))
	perm := []string{}
	if !readOnly {
		perm = permanentFlags(mbox, flags)
	}
	s.writeEnc(untagged().raw("OK [PERMANENTFLAGS ").flags(perm).raw("] Flags permitted."))
	s.writeEnc(untagged().num(s.view.exists()).raw(" EXISTS"))
	if !s.mode.rev2 {
		s.writeEnc(untagged().num(s.view.recent()).raw(" RECENT"))
		if i := slices.IndexFunc(s.view.msgs, func(m storage.Message) bool {
			return !slices.Contains(m.Flags, storage.FlagSeen)
		}); i >= 0 {
			s.writeEnc(untagged().raw("OK [UNSEEN ").num(uint32(i + 1)).raw("] First unseen."))
		}
	}
	s.writeEnc(untagged().raw("OK [UIDVALIDITY ").num(st.UIDValidity).raw("] UIDs valid"))
	uidNext := max(st.UIDNext, s.view.maxUID()+1)
	s.writeEnc(untagged().raw("OK [UIDNEXT ").num(uidNext).raw("] Predicted next UID"))
	if s.view.highestModSeq > 0 {
		s.writeEnc(untagged().raw("OK [HIGHESTMODSEQ ").num64(s.view.highestModSeq).raw("] Highest"))
	} else {
		s.writeLine("* OK [NOMODSEQ] No permanent modsequences")
	}
	if qr != nil && qr.uidValidity == st.UIDValidity {
		if err := s.qresync(qr); err != nil {
			return err
		}
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
	c.okModSeq = true
	return nil
}
