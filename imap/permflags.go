package imap

import (
	"slices"
	"strings"

	"cote/storage"
)

// permanentFlags is the PERMANENTFLAGS list to send after the FLAGS list
// flags: the mailbox's permanent flags without keywords another session
// defined after flags was read. Every keyword in PERMANENTFLAGS must have
// been announced by FLAGS (RFC 9051 section 7.1, PERMANENTFLAGS; imaptest
// checks it); the next sync announces the new ones in both.
func permanentFlags(mbox storage.Mailbox, flags []string) []string {
	perm := mbox.PermanentFlags()
	out := make([]string, 0, len(perm))
	for _, f := range perm {
		if strings.HasPrefix(f, `\`) || slices.Contains(flags, f) {
			out = append(out, f)
		}
	}
	return out
}
