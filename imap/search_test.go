package imap

import (
	"testing"

	"cote/storage/memstore"
)

func TestSearch(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg, `\Seen`)                       // 1
	appendMsg(t, st, "INBOX", multipartMsg, `\Flagged`, `$Work`)        // 2
	appendMsg(t, st, "INBOX", crlf("Subject: tiny\n\nx\n"), `\Deleted`) // 3
	c := login(t, st)
	c.cmd("s0 SELECT INBOX").ok()
	for _, tc := range []struct{ keys, want string }{
		{"ALL", "1 2 3"},
		{"SEEN", "1"},
		{"UNSEEN", "2 3"},
		{"FLAGGED KEYWORD $Work", "2"},
		{"UNKEYWORD $work", "1 3"},
		{"DELETED", "3"},
		{"NOT DELETED", "1 2"},
		{"OR SEEN DELETED", "1 3"},
		{"(OR SEEN FLAGGED) NOT SEEN", "2"},
		{"2:*", "2 3"},
		{"UID 1,3", "1 3"},
		{"SUBJECT hello", "1"},
		{`SUBJECT "GRÜSSE"`, ""},
		{"CHARSET UTF-8 SUBJECT {7+}\r\ngrüße", "2"},
		{"FROM alice@EXAMPLE", "1"},
		{`FROM "jürgen"`, "2"},
		{"TO carol", "1"},
		{"HEADER Message-ID <2@", "2"},
		{`HEADER MIME-Version ""`, "2"},
		{`BODY "café"`, "2"},
		{"BODY \"how are\"", "1"},
		{"TEXT tiny", "3"},
		{"TEXT inner", "2"},
		{"LARGER 300", "2"},
		{"SMALLER 100", "3"},
		{"SENTON 5-Mar-2024", "1"},
		{"SENTBEFORE 6-Mar-2024", "1"},
		{"SENTSINCE 6-Mar-2024", "2"},
		{"ON 5-Mar-2024", "1 2 3"},
		{`BEFORE "5-Mar-2024"`, ""},
		{"SINCE 1-Jan-2024 RECENT", "1 2 3"},
		{"NEW", "2 3"},
		{"OLD", ""},
	} {
		want := "* SEARCH"
		if tc.want != "" {
			want += " " + tc.want
		}
		c.cmd("s1 SEARCH "+tc.keys).want(want, "s1 OK Search completed.")
	}
	c.cmd("s2 UID SEARCH 2").want("* SEARCH 2", "s2 OK UID Search completed.")
	c.cmd("s3 SEARCH CHARSET KOI8-R ALL").want("s3 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.")
	c.cmd("s4 SEARCH FOO").want(`s4 BAD Error in IMAP command SEARCH: unknown search key "FOO"`)
	// A number above EXISTS matches nothing (as Dovecot; imaptest's
	// esearch script).
	c.cmd("s5 SEARCH 7").want("* SEARCH", "s5 OK Search completed.")
	c.cmd("s6 SEARCH (SEEN").want(`s6 BAD Error in IMAP command SEARCH: expected ')'`)
}
