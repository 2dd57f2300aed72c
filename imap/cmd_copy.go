package imap

// cmdCopy: COPY (RFC 3501 section 6.4.7) and MOVE (RFC 6851 section 3.1),
// their UID forms, with COPYUID (RFC 4315 section 3).
func (s *session) cmdCopy(c *command) error {
	p := c.p
	p.sp()
	set := p.seqSet()
	p.sp()
	dest := p.mailbox()
	p.end()
	if p.err != nil {
		return p.err
	}
	idx, err := s.view.resolve(set, c.uid)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		// RFC 9051 section 6.4.7: OK when nothing matched.
		c.ok("", "No messages found.")
		return nil
	}
	uids := s.view.uids(idx)
	if c.name == "COPY" {
		res, err := s.mbox.Copy(uids, dest)
		if err != nil {
			return destination(err)
		}
		c.ok(copyUID(res.UIDValidity, res.SrcUIDs, res.DstUIDs), "Copy completed.")
		return nil
	}
	if s.mbox.ReadOnly() {
		return errNo("READ-ONLY", "Mailbox is read-only.")
	}
	res, err := s.mbox.Move(uids, dest)
	if err != nil {
		return destination(err)
	}
	// RFC 6851 section 4.3: COPYUID goes in an untagged OK before the
	// EXPUNGE responses.
	if code := copyUID(res.UIDValidity, res.SrcUIDs, res.DstUIDs); code != "" {
		s.writeLine("* OK [" + code + "] Moved UIDs.")
	}
	s.view.expunge(res.SrcUIDs, s.writeEnc)
	c.ok("", "Move completed.")
	return nil
}

func copyUID(uidValidity uint32, src, dst []uint32) string {
	if len(src) == 0 || len(src) != len(dst) {
		return ""
	}
	return "COPYUID " + itoa(uidValidity) + " " + formatUIDSet(src) + " " + formatUIDSet(dst)
}
