package imap

import (
	"slices"
	"strings"

	"cote/storage"
)

// cmdStore: STORE and UID STORE, RFC 9051 sections 6.4.6 and 6.4.9, with
// UNCHANGEDSINCE (RFC 7162 section 3.1.3).
func (s *session) cmdStore(c *command) error {
	p := c.p
	p.sp()
	set := p.seqSet()
	p.sp()
	var mods storeModifiers
	if p.peek() == '(' {
		mods = parseStoreModifiers(p)
		p.sp()
	}
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
	if mods.hasUnchangedSince {
		s.enableCondstore()
	}
	if len(idx) == 0 {
		return nil
	}
	uids := s.view.uids(idx)
	var res storage.StoreResult
	if mods.hasUnchangedSince && mods.unchangedSince == 0 {
		// Every message has a MODSEQ above 0 (RFC 7162 section 3.1.3).
		res.Failed = uids
	} else {
		res, err = s.mbox.Store(uids, op, flags, mods.unchangedSince)
		if err != nil {
			return err
		}
	}
	s.announceFlags()
	changed := map[uint32]bool{}
	for _, m := range res.Changed {
		s.view.setFlags(m)
		changed[m.UID] = true
	}
	for _, i := range idx {
		m := s.view.msgs[i]
		if slices.Contains(res.Failed, m.UID) {
			continue
		}
		if silent && !(s.mode.condstore && changed[m.UID]) {
			continue
		}
		// Report every message in the set, changed or not, as RFC
		// 9051's example does; with .SILENT and CONDSTORE only the
		// new MODSEQ of changed ones (RFC 7162 section 3.1.3).
		e := untagged().num(uint32(i + 1)).raw(" FETCH (")
		if c.uid {
			e.raw("UID ").num(m.UID).sp()
		}
		if !silent {
			e.raw("FLAGS ").flags(s.view.flagsOf(m))
			if s.mode.condstore {
				e.sp()
			}
		}
		if s.mode.condstore {
			e.raw("MODSEQ (").num64(m.ModSeq).raw(")")
		}
		s.writeEnc(e.close())
	}
	if len(res.Failed) > 0 {
		failed := res.Failed
		if !c.uid {
			failed = make([]uint32, 0, len(res.Failed))
			for _, u := range res.Failed {
				if seq := s.view.seqOf(u); seq != 0 {
					failed = append(failed, seq)
				}
			}
			slices.Sort(failed)
		}
		c.ok("MODIFIED "+formatUIDSet(failed), "Conditional STORE failed.")
	}
	return nil
}
