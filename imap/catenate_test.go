package imap

import (
	"fmt"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/memstore"
)

// draftMsg is RFC 4469 section 4's draft: a multipart whose parts the
// example reuses by URL.
var draftMsg = crlf(`From: Joe <joe@example.com>
Subject: draft
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="------------030308070208000400050907"

--------------030308070208000400050907
Content-Type: text/plain; charset=us-ascii

Hello world

--------------030308070208000400050907
Content-Type: application/pdf
Content-Transfer-Encoding: base64

JVBERi0=
--------------030308070208000400050907--
`)

// uidValidity returns a mailbox's UIDVALIDITY.
func uidValidity(t *testing.T, st storage.Store, name string) uint32 {
	t.Helper()
	s, err := st.Status(name)
	if err != nil {
		t.Fatal(err)
	}
	return s.UIDValidity
}

// RFC 4469 section 4: the example, a forward that keeps the draft's
// header and parts by URL and adds a new part as TEXT.
func TestCatenateRFCExample(t *testing.T) {
	st := memstore.New()
	if err := st.Create("Drafts", nil); err != nil {
		t.Fatal(err)
	}
	uid := appendMsg(t, st, "Drafts", draftMsg)
	uv := uidValidity(t, st, "Drafts")
	c := login(t, st)
	if l := c.cmd("a0 CAPABILITY").lines[0]; !matchLine(l, "* CAPABILITY * CATENATE *") {
		t.Fatalf("capabilities %q", l)
	}
	base := fmt.Sprintf("/Drafts;UIDVALIDITY=%d/;UID=%d", uv, uid)
	newPart := "\r\n--------------030308070208000400050907\r\n"
	c.send("A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"" + base + "/;section=HEADER\" TEXT " + lit(newPart) +
		" URL \"" + base + "/;section=1.MIME\" URL \"" + base + "/;section=1\" TEXT " +
		lit("\r\n--------------030308070208000400050907--\r\n") + ")\r\n")
	c.until("A003", "A003").want("+ Ready for literal data", "+ Ready for literal data",
		fmt.Sprintf("A003 OK [APPENDUID %d %d] Append completed.", uv, uid+1))
	c.cmd("A004 SELECT Drafts").ok()
	want := "From: Joe <joe@example.com>\r\nSubject: draft\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"------------030308070208000400050907\"\r\n\r\n" +
		newPart + "Content-Type: text/plain; charset=us-ascii\r\n\r\nHello world\r\n" +
		"\r\n--------------030308070208000400050907--\r\n"
	c.cmd("A005 FETCH 2 (FLAGS BODY.PEEK[])").want(
		fmt.Sprintf("* 2 FETCH (FLAGS (\\Draft \\Seen $MDNSent \\Recent) BODY[] {%d}\r\n%s)", len(want), want),
		"A005 OK Fetch completed.")
}

// RFC 4469 sections 3 and 5: TEXT and URL parts, relative and absolute
// URLs, partials, MULTIAPPEND, and the errors: [TRYCREATE] before any
// URL is looked at, [BADURL url], [TOOBIG], all or nothing.
func TestCatenate(t *testing.T) {
	st := memstore.New()
	uid := appendMsg(t, st, "INBOX", simpleMsg)
	uv := uidValidity(t, st, "INBOX")
	if err := st.Create("Out", nil); err != nil {
		t.Fatal(err)
	}
	c := serveTest(t, st, Options{Tag: "L", MaxLiteral: 4096})
	c.readResponse()
	hdr := fmt.Sprintf(`"/INBOX/;UID=%d/;SECTION=HEADER"`, uid)
	body := "Hi Bob,\r\nhow are you?\r\n"
	header := simpleMsg[:strings.Index(simpleMsg, "\r\n\r\n")+4]
	fetch := func(seq int, want string) {
		t.Helper()
		c.cmd("f0 EXAMINE Out").ok()
		c.cmd(fmt.Sprintf("f1 FETCH %d BODY.PEEK[]", seq)).want(
			fmt.Sprintf("* %d FETCH (BODY[] {%d}\r\n%s)", seq, len(want), want), "f1 OK Fetch completed.")
		c.cmd("f2 UNSELECT").ok()
	}

	c.cmd("c1 APPEND Out CATENATE (URL " + hdr + " TEXT {6+}\r\nNew.\r\n)").
		want("c1 OK [APPENDUID * 1] Append completed.")
	fetch(1, header+"New.\r\n")

	// Absolute URLs of this user, UIDVALIDITY, TEXT and a partial.
	abs := fmt.Sprintf(`"imap://test@example.com/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=TEXT/;PARTIAL=3.4"`, uv, uid)
	c.cmd("c2 APPEND Out CATENATE (TEXT {4+}\r\nA: b URL " + abs + " URL " + hdr + ")").
		want("c2 OK [APPENDUID * 2] Append completed.")
	fetch(2, "A: b"+body[3:7]+header)

	// MULTIAPPEND: a CATENATE and a literal in one command.
	c.cmd(fmt.Sprintf("c3 APPEND Out CATENATE (URL \"/INBOX/;UID=%d\") (\\Flagged) {6+}\r\nA: b\r\n", uid)).
		want("c3 OK [APPENDUID * 3:4] Append completed.")
	fetch(3, simpleMsg)

	bad := fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=%d", uv+1, uid)
	for _, tc := range []struct{ cmd, want string }{
		// RFC 4469 section 5: a missing destination wins over a bad URL.
		{`c4 APPEND Nowhere CATENATE (URL "` + bad + `")`, "c4 NO [TRYCREATE] Mailbox doesn't exist."},
		{`c5 APPEND Out CATENATE (TEXT {2+}` + "\r\nA:" + ` URL "` + bad + `")`,
			"c5 NO [BADURL " + bad + "] Unable to fetch the URL."},
		{`c6 APPEND Out CATENATE (URL "/INBOX/;UID=99")`, `c6 NO [BADURL /INBOX/;UID=99] Unable to fetch the URL.`},
		{`c7 APPEND Out CATENATE (URL "/INBOX/;UID=1/;SECTION=7")`, `c7 NO [BADURL /INBOX/;UID=1/;SECTION=7] Unable to fetch the URL.`},
		{`c8 APPEND Out CATENATE (URL "/Nowhere/;UID=1")`, `c8 NO [BADURL /Nowhere/;UID=1] Unable to fetch the URL.`},
		{`c9 APPEND Out CATENATE (URL "imap://other@example.com/INBOX/;UID=1")`,
			`c9 NO [BADURL imap://other@example.com/INBOX/;UID=1] Unable to fetch the URL.`},
		{`c10 APPEND Out CATENATE (URL "INBOX/;UID=1")`, `c10 NO [BADURL INBOX/;UID=1] Invalid IMAP URL.`},
		// All or nothing: the first message is not stored either.
		{`c11 APPEND Out CATENATE (TEXT {2+}` + "\r\nA:" + `) CATENATE (URL "` + bad + `")`,
			"c11 NO [BADURL " + bad + "] Unable to fetch the URL."},
		{`c12 APPEND Out CATENATE ()`, "c12 BAD Error in IMAP command APPEND: empty CATENATE"},
		{`c13 APPEND Out CATENATE (FOO "x")`, `c13 BAD Error in IMAP command APPEND: unknown CATENATE part "FOO"`},
		{`c14 APPEND Out CATENATE (URL "/INBOX/;UID=1/;SECTION=1.HEADER")`,
			`c14 NO [BADURL /INBOX/;UID=1/;SECTION=1.HEADER] Unable to fetch the URL.`},
	} {
		c.cmd(tc.cmd).want(tc.want)
	}
	// [TOOBIG]: over the APPEND limit (4096 here) once put together.
	big := strings.Repeat("x", 3000)
	c.cmd("c15 APPEND Out CATENATE (TEXT "+lit(big)+" TEXT "+lit(big)+")").
		want("+ Ready for literal data", "+ Ready for literal data", "c15 NO [TOOBIG] Message too large.")
	c.cmd("c16 STATUS Out (MESSAGES)").want(`* STATUS Out (MESSAGES 4)`, "c16 OK Status completed.")
}

// RFC 3516 section 4.4: a binary part APPENDed as a literal8 with bare
// line feeds is stored in base64, so BINARY returns its exact bytes on
// every store (imaptest's append-binary).
func TestAppendBinaryReencoded(t *testing.T) {
	body := "\x00-\xe4\n\r\n\n"
	msg := "From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: binary\r\n\r\n" + body
	for name, st := range testStores(t) {
		t.Run(name, func(t *testing.T) {
			c := login(t, st)
			c.cmd("b1 APPEND INBOX ~{" + fmt.Sprint(len(msg)) + "+}\r\n" + msg).ok()
			c.cmd("b2 SELECT INBOX").ok()
			c.cmd("b3 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])").want(
				"* 1 FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n"+body+")", "b3 OK Fetch completed.")
			c.cmd("b4 FETCH 1 (BODY.PEEK[1.MIME] BODY.PEEK[1])").want(
				"* 1 FETCH (BODY[1.MIME] {*}\r\n*Content-Transfer-Encoding: base64\r\n\r\n BODY[1] {14}\r\nAC3kCg0KCg==\r\n)",
				"b4 OK Fetch completed.")
		})
	}
	// A binary part that is plain CRLF text, and other encodings, are
	// kept as they are.
	for _, m := range []string{
		"Content-Transfer-Encoding: binary\r\n\r\nplain\r\ntext\r\n",
		"Content-Transfer-Encoding: 8bit\r\n\r\nbare\nline feeds\n",
	} {
		if got := encodeBinaryParts([]byte(m)); string(got) != m {
			t.Errorf("encodeBinaryParts(%q) = %q, want it unchanged", m, got)
		}
	}
}
