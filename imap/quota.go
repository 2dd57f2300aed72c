package imap

import (
	"strings"

	"cote/storage"
)

// quotaRoot is the name of the one quota root, the user's (Dovecot
// calls it the same).
const quotaRoot = "User quota"

// cmdQuota: GETQUOTA, GETQUOTAROOT and SETQUOTA, RFC 9208 sections 4.1
// and 4.2, on storage.QuotaStore. Every mailbox is under the user's root;
// SETQUOTA is refused (limits come from the configuration).
func (s *session) cmdQuota(c *command) error {
	p := c.p
	p.sp()
	switch c.name {
	case "GETQUOTAROOT":
		name := normalizeInbox(p.mailbox())
		p.end()
		if p.err != nil {
			return p.err
		}
		if _, err := s.o.Store.Status(name); err != nil {
			return err
		}
		q, err := s.o.Store.(storage.QuotaStore).Quota()
		if err != nil {
			return err
		}
		e := untagged().raw("QUOTAROOT ").mailbox(name, s.utf8Names())
		if hasLimits(q) {
			e.sp().str(quotaRoot)
		}
		s.writeEnc(e)
		if hasLimits(q) {
			s.writeEnc(quotaResponse(q))
		}
		return nil
	case "GETQUOTA":
		root := p.astring()
		p.end()
		if p.err != nil {
			return p.err
		}
		q, err := s.o.Store.(storage.QuotaStore).Quota()
		if err != nil {
			return err
		}
		if root != quotaRoot || !hasLimits(q) {
			return errNo("NONEXISTENT", "Quota root does not exist.")
		}
		s.writeEnc(quotaResponse(q))
		return nil
	}
	// SETQUOTA root (resources...): parsed, then refused.
	p.astring()
	p.sp()
	p.list(func() {
		p.atom()
		p.sp()
		p.number64()
	})
	p.end()
	if p.err != nil {
		return p.err
	}
	return errNo("NOPERM", "Quota limits are set by the administrator.")
}

func hasLimits(q storage.Quota) bool { return q.StorageLimit > 0 || q.MessageLimit > 0 }

// quotaResponse is "* QUOTA root (STORAGE used limit MESSAGE used
// limit)", storage in units of 1024 octets (RFC 9208 section 5.1), with
// the resources that have a limit.
func quotaResponse(q storage.Quota) *enc {
	e := untagged().raw("QUOTA ").str(quotaRoot).raw(" (")
	var parts []string
	if q.StorageLimit > 0 {
		parts = append(parts, "STORAGE "+i64(q.StorageUsed/1024)+" "+i64(q.StorageLimit/1024))
	}
	if q.MessageLimit > 0 {
		parts = append(parts, "MESSAGE "+i64(q.MessagesUsed)+" "+i64(q.MessageLimit))
	}
	return e.raw(strings.Join(parts, " ")).close()
}
