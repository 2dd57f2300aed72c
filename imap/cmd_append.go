package imap

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"cote/storage"
)

// appendItem is one message of an APPEND.
type appendItem struct {
	opts storage.AppendOptions
	data []byte
	cat  []catPart // CATENATE (RFC 4469): data is built from these
}

// maxAppendMessages bounds a MULTIAPPEND.
const maxAppendMessages = 1000

// cmdAppend: RFC 9051 section 6.3.12, with MULTIAPPEND (RFC 3502),
// APPENDUID (RFC 4315 section 3), literal8 (RFC 3516 section 4.4: binary
// parts are stored in base64), CATENATE (RFC 4469), UTF8
// (RFC 6855 section 4), LITERAL+ (RFC 7888) and APPENDLIMIT (RFC 7889,
// enforced by the command reader before a literal is read).
func (s *session) cmdAppend(c *command) error {
	p := c.p
	p.sp()
	name := p.mailbox()
	var msgs []appendItem
	for p.err == nil && p.trySP() {
		if len(msgs) >= maxAppendMessages {
			p.fail("too many messages")
			break
		}
		msgs = append(msgs, parseAppendMsg(p))
	}
	p.end()
	if p.err == nil && len(msgs) == 0 {
		p.fail("expected message literal")
	}
	if p.err != nil {
		return p.err
	}
	if err := s.catenate(name, msgs); err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		m.data = encodeBinaryParts(m.data)
		for _, f := range m.opts.Flags {
			if strings.EqualFold(f, storage.FlagRecent) {
				return errBad(`\Recent can't be set.`)
			}
		}
		m.opts.Flags = canonicalFlags(m.opts.Flags)
		if len(m.data) == 0 {
			return errNo("", "Can't save a zero byte message.")
		}
		if m.opts.Date.IsZero() {
			m.opts.Date = time.Now()
		}
	}
	var uidValidity uint32
	var uids []uint32
	for _, m := range msgs {
		uv, uid, err := s.o.Store.Append(name, bytes.NewReader(m.data), m.opts)
		if err != nil {
			// RFC 3502 section 6.3.11: all or nothing.
			s.undoAppend(name, uids)
			return destination(err)
		}
		uidValidity = uv
		uids = append(uids, uid)
	}
	c.ok("APPENDUID "+itoa(uidValidity)+" "+formatUIDSet(uids), "Append completed.")
	return nil
}

// parseAppendMsg parses [flag-list SP] [date-time SP] append-data.
func parseAppendMsg(p *parser) appendItem {
	var m appendItem
	if p.peek() == '(' {
		m.opts.Flags = p.flagList()
		p.sp()
	}
	if p.peek() == '"' {
		m.opts.Date = p.dateTime()
		p.sp()
	}
	switch c := p.peek(); {
	case c == '{' || c == '~':
		m.data, _ = p.literal8()
	case c == 'U' || c == 'u':
		// RFC 6855 section 4: "UTF8" SP "(" literal8 ")".
		if !strings.EqualFold(p.atom(), "UTF8") {
			p.fail("expected message literal")
			return m
		}
		p.sp()
		p.expect('(')
		m.data, _ = p.literal8()
		p.expect(')')
	case c == 'C' || c == 'c':
		m.cat = parseCatenate(p)
	default:
		if p.err == nil {
			p.fail("expected message literal")
		}
	}
	return m
}

// undoAppend removes the messages a failed MULTIAPPEND had stored.
func (s *session) undoAppend(name string, uids []uint32) {
	if len(uids) == 0 {
		return
	}
	mb, err := s.o.Store.Open(name, false)
	if err == nil {
		_, err = mb.Store(uids, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
		if err == nil {
			_, err = mb.Expunge(uids)
		}
		mb.Close()
	}
	if err != nil {
		s.log.Warn("undo partial MULTIAPPEND", "mailbox", name, "err", err)
	}
}

// canonicalFlags spells system flags canonically (flags are
// case-insensitive, RFC 3501 section 2.3.2) and drops duplicates.
func canonicalFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		for _, sf := range systemFlags() {
			if strings.EqualFold(f, sf) {
				f = sf
			}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
