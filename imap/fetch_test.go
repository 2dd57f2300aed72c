package imap

import (
	"testing"

	"cote/storage/memstore"
)

func TestFetchSections(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", multipartMsg)
	c := login(t, st)
	c.cmd("f0 EXAMINE INBOX").ok()
	for _, tc := range []struct{ items, want string }{
		{"BODY.PEEK[2.1]", "BODY[2.1] {9}\r\nplain alt"},
		{"BODY.PEEK[2.2.MIME]", "BODY[2.2.MIME] {56}\r\nContent-Type: text/html\r\nContent-Disposition: inline\r\n\r\n"},
		{"BODY.PEEK[1]<0.4>", "BODY[1]<0> {4}\r\nCaf="},
		{"BODY.PEEK[1]<100.4>", "BODY[1]<100> {0}\r\n"},
		{"BODY.PEEK[3.HEADER]", "BODY[3.HEADER] {49}\r\nFrom: Dave <dave@example.com>\r\nSubject: inner\r\n\r\n"},
		{"BODY.PEEK[3.TEXT]", "BODY[3.TEXT] {10}\r\ninner body"},
		{"BODY.PEEK[3.1]", "BODY[3.1] {10}\r\ninner body"},
		{"BODY.PEEK[3]", "BODY[3] {59}\r\nFrom: Dave <dave@example.com>\r\nSubject: inner\r\n\r\ninner body"},
		{"BODY.PEEK[HEADER.FIELDS (subject message-id)]", "BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] {69}\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <2@example.com>\r\n\r\n"},
		{"BODY.PEEK[3.HEADER.FIELDS.NOT (From)]", "BODY[3.HEADER.FIELDS.NOT (FROM)] {18}\r\nSubject: inner\r\n\r\n"},
		{"BODY.PEEK[4]", "BODY[4] NIL"},
		{"BODY.PEEK[1.1]", "BODY[1.1] {19}\r\nCaf=C3=A9 body text"},
		{"BODY.PEEK[2.1.1]", "BODY[2.1.1] {9}\r\nplain alt"},
		{"BODY.PEEK[1.2]", "BODY[1.2] NIL"},
	} {
		c.cmd("f1 FETCH 1 ("+tc.items+")").want("* 1 FETCH ("+tc.want+")", "f1 OK Fetch completed.")
	}
}

func TestFetchBodyStructure(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", multipartMsg)
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("f0 SELECT INBOX").ok()
	c.cmd("f1 FETCH 1 BODYSTRUCTURE").want(
		`* 1 FETCH (BODYSTRUCTURE (`+
			`("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 19 1 NIL NIL NIL NIL)`+
			`(("text" "plain" NIL NIL NIL "7bit" 9 1 NIL NIL NIL NIL)("text" "html" NIL NIL NIL "7bit" 15 1 NIL ("inline" NIL) NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)`+
			`("message" "rfc822" NIL NIL NIL "7bit" 59 (NIL "inner" (("Dave" NIL "dave" "example.com")) (("Dave" NIL "dave" "example.com")) (("Dave" NIL "dave" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)`+
			` "mixed" ("boundary" "outer") NIL NIL NIL))`,
		"f1 OK Fetch completed.")
	c.cmd("f2 FETCH 2 (BODY ENVELOPE)").want(
		`* 2 FETCH (BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 23 2) ENVELOPE ("Tue, 5 Mar 2024 10:00:00 +0100" "Hello there" (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) (("Bob" NIL "bob" "example.org")("Carol, C." NIL "carol" "example.net")) NIL NIL NIL "<1@example.com>"))`,
		"f2 OK Fetch completed.")
	c.cmd("f3 FETCH 1 ENVELOPE").want(
		`* 1 FETCH (ENVELOPE ("Wed, 6 Mar 2024 08:00:00 +0000" "=?utf-8?q?Gr=C3=BC=C3=9Fe?=" (("=?utf-8?q?J=C3=BCrgen?=" NIL "jurgen" "example.com")) (("=?utf-8?q?J=C3=BCrgen?=" NIL "jurgen" "example.com")) (("=?utf-8?q?J=C3=BCrgen?=" NIL "jurgen" "example.com")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<2@example.com>"))`,
		"f3 OK Fetch completed.")
	c.cmd("f4 FETCH 2 FAST").want(`* 2 FETCH (FLAGS (\Recent) INTERNALDATE " 5-Mar-2024 10:20:30 +0100" RFC822.SIZE 207)`, "f4 OK Fetch completed.")
	c.cmd("f5 UID FETCH 2 (RFC822.HEADER)").has(`* 2 FETCH (UID 2 RFC822.HEADER {184}*`)
}

func TestFetchSetsSeen(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("f0 SELECT INBOX").ok()
	c.cmd("f1 FETCH 1 BODY.PEEK[TEXT]").want("* 1 FETCH (BODY[TEXT] {23}\r\nHi Bob,\r\nhow are you?\r\n)", "f1 OK Fetch completed.")
	c.cmd("f2 FETCH 1 BODY[TEXT]").want(`* 1 FETCH (BODY[TEXT] {23}`+"\r\nHi Bob,\r\nhow are you?\r\n"+` FLAGS (\Seen \Recent))`, "f2 OK Fetch completed.")
	c.cmd("f3 FETCH 1 (FLAGS BODY[TEXT]<0.2>)").want("* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT]<0> {2}\r\nHi)", "f3 OK Fetch completed.")
	c.cmd("f4 FETCH 2 RFC822").has(`* 2 FETCH (RFC822 {207}*FLAGS (\Seen \Recent))`)
	c.cmd("f5 EXAMINE INBOX").ok()
	appendMsg(t, st, "INBOX", simpleMsg)
	c.cmd("f6 NOOP").want("* 3 EXISTS", "* 1 RECENT", "f6 OK Noop completed.")
	c.cmd("f7 FETCH 3 BODY[]").want("* 3 FETCH (BODY[] {207}*)", "f7 OK Fetch completed.")
	c.cmd("f8 FETCH 3 FLAGS").want("* 3 FETCH (FLAGS (\\Recent))", "f8 OK Fetch completed.")
	c.cmd("f9 FETCH 4 FLAGS").want("f9 BAD Invalid messageset.")
}
