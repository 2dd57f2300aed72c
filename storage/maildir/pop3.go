package maildir

import (
	"cote/storage/internal/mailstate"
)

// What Dovecot's Maildir gives POP3 (maildir-mail.c,
// maildir_mail_get_special): MAIL_FETCH_UIDL_BACKEND is the P field of the
// message's dovecot-uidlist record, an empty P meaning the base file
// name; MAIL_FETCH_STORAGE_ID (%f) is the file name before the ':' of the
// info; MAIL_FETCH_GUID (%g) is the G field, or else the base file name.

// POP3UIDL implements mailstate.POP3Backend.
func (s *store) POP3UIDL(b *mailstate.Box, m *mailstate.Msg) (string, bool) {
	mm := m.Ext.(*mmsg)
	for _, e := range mm.ext {
		if e != "" && e[0] == 'P' {
			if e == "P" {
				return baseName(mm.name), true
			}
			return e[1:], true
		}
	}
	return "", false
}

// BaseName implements mailstate.POP3Backend.
func (s *store) BaseName(b *mailstate.Box, m *mailstate.Msg) (string, bool) {
	return baseName(m.Ext.(*mmsg).name), true
}

// GUID implements mailstate.POP3Backend.
func (s *store) GUID(b *mailstate.Box, m *mailstate.Msg) (string, bool) {
	mm := m.Ext.(*mmsg)
	if g := (uidRec{Ext: mm.ext}).ext('G'); g != "" {
		return g, true
	}
	return baseName(mm.name), true
}
