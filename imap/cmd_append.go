package imap

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"cote/storage"
)

// cmdAppend: RFC 3501 section 6.3.11, with APPENDUID (RFC 4315 section
// 3), LITERAL+ (RFC 7888) and APPENDLIMIT (RFC 7889, enforced by the
// command reader before the literal is read).
func (s *session) cmdAppend(c *command) error {
	p := c.p
	p.sp()
	name := p.mailbox()
	p.sp()
	var opts storage.AppendOptions
	if p.peek() == '(' {
		opts.Flags = p.flagList()
		p.sp()
	}
	if p.peek() == '"' {
		opts.Date = p.dateTime()
		p.sp()
	}
	if p.peek() != '{' && p.err == nil {
		p.fail("expected message literal")
	}
	msg := p.literal()
	p.end()
	if p.err != nil {
		return p.err
	}
	for _, f := range opts.Flags {
		if strings.EqualFold(f, storage.FlagRecent) {
			return errBad(`\Recent can't be set.`)
		}
	}
	opts.Flags = canonicalFlags(opts.Flags)
	if len(msg) == 0 {
		return errNo("", "Can't save a zero byte message.")
	}
	if opts.Date.IsZero() {
		opts.Date = time.Now()
	}
	uidValidity, uid, err := s.o.Store.Append(name, bytes.NewReader(msg), opts)
	if err != nil {
		return destination(err)
	}
	c.ok("APPENDUID "+itoa(uidValidity)+" "+itoa(uid), "Append completed.")
	return nil
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
