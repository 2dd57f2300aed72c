package imap

import (
	"strings"

	"cote/storage"
)

// cmdStore: STORE and UID STORE, RFC 3501 sections 6.4.6 and 6.4.8.
func (s *session) cmdStore(c *command) error {
	p := c.p
	p.sp()
	set := p.seqSet()
	p.sp()
	op := storage.FlagsReplace
	if p.tryByte('+') {
		op = storage.FlagsAdd
	} else if p.tryByte('-') {
		op = storage.FlagsRemove
	}
	item := strings.ToUpper(p.atom())
	silent := false
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		silent = true
	default:
		p.fail("unknown STORE item %q", truncate(item, 20))
	}
	p.sp()
	var flags []string
	if p.peek() == '(' {
		flags = p.flagList()
	} else {
		flags = append(flags, p.flag())
		for p.trySP() {
			flags = append(flags, p.flag())
		}
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	for _, f := range flags {
		if strings.EqualFold(f, storage.FlagRecent) {
			return errBad(`\Recent can't be changed.`)
		}
	}
	flags = canonicalFlags(flags)
	idx, err := s.view.resolve(set, c.uid)
	if err != nil {
		return err
	}
	if s.mbox.ReadOnly() {
		return errNo("READ-ONLY", "Mailbox is read-only.")
	}
	if len(idx) == 0 {
		return nil
	}
	res, err := s.mbox.Store(s.view.uids(idx), op, flags, 0)
	if err != nil {
		return err
	}
	for _, m := range res.Changed {
		s.view.setFlags(m)
	}
	if silent {
		return nil
	}
	// Report the flags of every message in the set, changed or not, as
	// RFC 3501's example does.
	for _, i := range idx {
		m := s.view.msgs[i]
		e := untagged().num(uint32(i + 1)).raw(" FETCH (")
		if c.uid {
			e.raw("UID ").num(m.UID).sp()
		}
		s.writeEnc(e.raw("FLAGS ").flags(sessionFlags(m)).close())
	}
	return nil
}
