package imap

import (
	"strconv"
	"strings"

	"cote/storage"
)

// Capabilities returns the post-login capability list (RFC 9051 section
// 7.2.2). Only what this engine implements is listed; QUOTA only when the
// store counts quota.
func Capabilities(o Options) []string {
	o.setDefaults()
	caps := []string{
		"IMAP4rev1",
		"IMAP4rev2", // RFC 9051, with appendix E: both at once
	}
	if o.LiteralMinus {
		caps = append(caps, "LITERAL-") // RFC 7888
	} else {
		caps = append(caps, "LITERAL+") // RFC 7888
	}
	caps = append(caps,
		"ID",                 // RFC 2971
		"ENABLE",             // RFC 5161
		"IDLE",               // RFC 2177
		"NAMESPACE",          // RFC 2342
		"UIDPLUS",            // RFC 4315
		"MOVE",               // RFC 6851
		"UNSELECT",           // RFC 3691
		"CHILDREN",           // RFC 3348
		"LIST-EXTENDED",      // RFC 5258
		"LIST-STATUS",        // RFC 5819
		"SPECIAL-USE",        // RFC 6154
		"CREATE-SPECIAL-USE", // RFC 6154
		"STATUS=SIZE",        // RFC 8438
		"SAVEDATE",           // RFC 8514
		"CONDSTORE",          // RFC 7162
		"QRESYNC",            // RFC 7162
		"ESEARCH",            // RFC 4731
		"SEARCHRES",          // RFC 5182
		"WITHIN",             // RFC 5032
		"SORT",               // RFC 5256
		"SORT=DISPLAY",       // RFC 5957
		"THREAD=ORDEREDSUBJECT",
		"THREAD=REFERENCES", // RFC 5256
		"THREAD=REFS",       // draft-ietf-morg-inthread
		"ESORT",             // RFC 5267
		"CONTEXT=SEARCH",    // RFC 5267
		"CONTEXT=SORT",      // RFC 5267
		"I18NLEVEL=1",       // RFC 5255
		"BINARY",            // RFC 3516
		"MULTIAPPEND",       // RFC 3502
		"UTF8=ACCEPT",       // RFC 6855
		"PREVIEW",           // RFC 8970
		"APPENDLIMIT="+strconv.FormatInt(o.MaxLiteral, 10), // RFC 7889
	)
	if _, ok := o.Store.(storage.ChangeStore); ok {
		caps = append(caps, "NOTIFY") // RFC 5465
	}
	if quotaSupported(o.Store) {
		caps = append(caps, "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE") // RFC 9208
	}
	caps = append(caps, "CATENATE") // RFC 4469
	if urlAuthStore(o.Store) != nil {
		caps = append(caps, "URLAUTH", "URLAUTH=BINARY") // RFC 4467, RFC 5524
	}
	if o.Unauthenticate != nil {
		caps = append(caps, "UNAUTHENTICATE") // RFC 8437
	}
	if !o.NoCompress {
		caps = append(caps, "COMPRESS=DEFLATE") // RFC 4978; cmdCapability drops it, so it stays last
	}
	return caps
}

// quotaSupported reports a store that counts quota (storage.QuotaStore
// that does not answer ErrNotImplemented).
func quotaSupported(st storage.Store) bool {
	qs, ok := st.(storage.QuotaStore)
	if !ok {
		return false
	}
	if qc, ok := st.(storage.QuotaCounter); ok {
		return qc.CountsQuota() // without a usage query on every greeting
	}
	_, err := qs.Quota()
	return err == nil
}

// cmdCapability: RFC 9051 section 6.1.1.
func (s *session) cmdCapability(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	caps := Capabilities(s.o)
	if s.fw != nil {
		caps = caps[:len(caps)-1] // COMPRESS=DEFLATE is last
	}
	s.writeLine("* CAPABILITY " + strings.Join(caps, " "))
	return nil
}

// cmdEnable: RFC 5161 section 3.1, for CONDSTORE and QRESYNC (RFC 7162
// section 3.2.3), UTF8=ACCEPT (RFC 6855 section 3) and IMAP4rev2 (RFC
// 9051 section 6.3.1). ENABLED lists what this command turned on.
func (s *session) cmdEnable(c *command) error {
	p := c.p
	var names []string
	for p.err == nil {
		p.sp()
		names = append(names, p.atom())
		if p.atEnd() {
			break
		}
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	var enabled []string
	for _, n := range names {
		switch strings.ToUpper(n) {
		case "CONDSTORE":
			if !s.mode.condstore {
				s.enableCondstore()
				enabled = append(enabled, "CONDSTORE")
			}
		case "QRESYNC":
			if !s.mode.qresync {
				s.enableCondstore()
				s.mode.qresync = true
				enabled = append(enabled, "QRESYNC")
			}
		case "UTF8=ACCEPT":
			if !s.mode.utf8 {
				s.mode.utf8 = true
				enabled = append(enabled, "UTF8=ACCEPT")
			}
		case "IMAP4REV2":
			if !s.mode.rev2 {
				s.mode.rev2 = true
				enabled = append(enabled, "IMAP4rev2")
			}
		}
	}
	s.writeLine(strings.TrimSpace("* ENABLED " + strings.Join(enabled, " ")))
	return nil
}

// enableCondstore turns CONDSTORE on; in the selected state the client
// learns HIGHESTMODSEQ at once (RFC 7162 section 3.1).
func (s *session) enableCondstore() {
	if s.mode.condstore {
		return
	}
	s.mode.condstore = true
	if s.view != nil {
		s.writeEnc(untagged().raw("OK [HIGHESTMODSEQ ").num64(s.view.highestModSeq).raw("] Highest"))
	}
}
