package imap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"net"
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/memstore"
)

// RFC 4731 ESEARCH and RFC 5182 SEARCHRES, with RFC 4731 section 3.1's
// return options and RFC 5182 section 3's example of "$".
func TestESearchAndSearchRes(t *testing.T) {
	st := memstore.New()
	for i := range 6 {
		flags := []string{}
		if i%2 == 1 {
			flags = append(flags, storage.FlagSeen)
		}
		appendMsg(t, st, "INBOX", simpleMsg, flags...)
	}
	c := login(t, st)
	c.cmd("e0 SELECT INBOX").ok()
	c.cmd("e1 SEARCH RETURN (MIN COUNT) UNSEEN").want(`* ESEARCH (TAG "e1") MIN 1 COUNT 3`, "e1 OK Search completed.")
	c.cmd("e2 UID SEARCH RETURN () SEEN").want(`* ESEARCH (TAG "e2") UID ALL 2,4,6`, "e2 OK UID Search completed.")
	c.cmd("e3 SEARCH RETURN (MAX ALL) 1:3").want(`* ESEARCH (TAG "e3") MAX 3 ALL 1:3`, "e3 OK Search completed.")
	c.cmd("e4 SEARCH RETURN (COUNT) KEYWORD nothing").want(`* ESEARCH (TAG "e4") COUNT 0`, "e4 OK Search completed.")
	// SAVE alone sends no ESEARCH; "$" works in FETCH, STORE, SEARCH.
	c.cmd("e5 SEARCH RETURN (SAVE) SEEN").want("e5 OK Search completed.")
	c.cmd("e6 FETCH $ (UID)").want("* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)", "* 6 FETCH (UID 6)", "e6 OK Fetch completed.")
	c.cmd("e7 SEARCH $ 3:5").want("* SEARCH 4", "e7 OK Search completed.")
	c.cmd("e8 UID SEARCH UID $").want("* SEARCH 2 4 6", "e8 OK UID Search completed.")
	c.cmd("e9 SEARCH RETURN (SAVE MIN) SEEN").want(`* ESEARCH (TAG "e9") MIN 2`, "e9 OK Search completed.")
	c.cmd("e10 FETCH $ (UID)").want("* 2 FETCH (UID 2)", "e10 OK Fetch completed.")
	c.cmd("e11 SEARCH RETURN (SAVE) FOO").want(`e11 BAD Error in IMAP command SEARCH: unknown search key "FOO"`)
	c.cmd("e12 FETCH $ (UID)").want("e12 OK Fetch completed.")
}

// RFC 5032 WITHIN and RFC 8514 SAVEDATE.
func TestWithinAndSaveDate(t *testing.T) {
	st := memstore.New()
	_, _, err := st.Append("INBOX", strings.NewReader(simpleMsg), storage.AppendOptions{Date: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	appendMsg(t, st, "INBOX", simpleMsg) // 2024
	c := login(t, st)
	c.cmd("w0 SELECT INBOX").ok()
	c.cmd("w1 SEARCH YOUNGER 86400").want("* SEARCH 1", "w1 OK Search completed.")
	c.cmd("w2 SEARCH OLDER 3600").want("* SEARCH 1 2", "w2 OK Search completed.")
	c.cmd("w3 SEARCH OLDER 0").want("w3 BAD Error in IMAP command SEARCH: interval must be positive")
	today := time.Now().Format("2-Jan-2006")
	c.cmd("w4 SEARCH SAVEDON "+today).want("* SEARCH 1 2", "w4 OK Search completed.")
	c.cmd("w5 SEARCH SAVEDBEFORE 1-Jan-2000").want("* SEARCH", "w5 OK Search completed.")
	c.cmd("w6 SEARCH SAVEDATESUPPORTED").want("* SEARCH 1 2", "w6 OK Search completed.")
	c.cmd("w7 FETCH 2 SAVEDATE").want(`* 2 FETCH (SAVEDATE "*")`, "w7 OK Fetch completed.")
}

// RFC 5819 LIST-STATUS and RFC 8438 STATUS=SIZE, RFC 7889 APPENDLIMIT.
func TestListStatus(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("l1 CREATE Lists/Work").ok()
	c.cmd(`l2 LIST "" * RETURN (STATUS (MESSAGES UNSEEN SIZE APPENDLIMIT))`).want(
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* STATUS INBOX (MESSAGES 1 UNSEEN 1 SIZE * APPENDLIMIT 67108864)`,
		`* LIST (\Noselect \HasChildren) "/" Lists`,
		`* LIST (\HasNoChildren) "/" Lists/Work`,
		`* STATUS Lists/Work (MESSAGES 0 UNSEEN 0 SIZE 0 APPENDLIMIT 67108864)`,
		"l2 OK List completed.")
}

// RFC 3516 BINARY: decoded parts, BINARY.SIZE, literal8 in APPEND.
func TestBinary(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", multipartMsg)
	c := login(t, st)
	c.cmd("b0 SELECT INBOX").ok()
	c.cmd("b1 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])").want(
		"* 1 FETCH (BINARY.SIZE[1] 15 BINARY[1] {15}\r\nCafé body text)", "b1 OK Fetch completed.")
	c.cmd("b2 FETCH 1 BINARY.PEEK[1]<0.4>").want("* 1 FETCH (BINARY[1]<0> {4}\r\nCaf\xc3)", "b2 OK Fetch completed.")
	c.cmd("b3 FETCH 1 BINARY.PEEK[9]").want("* 1 FETCH (BINARY[9] NIL)", "b3 OK Fetch completed.")
	msg := "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
	c.send("b4 APPEND INBOX ~{" + itoa(uint32(len(msg))) + "+}\r\n" + msg + "\r\n")
	c.until("b4", "b4").has("b4 OK [APPENDUID * 2] Append completed.")
	c.cmd("b5 NOOP").ok()
	c.cmd("b6 FETCH 2 (BINARY[1] BINARY.SIZE[1])").has("* 2 FETCH (BINARY[1] ~{3}\r\n\x00\x01\x02 BINARY.SIZE[1] 3 FLAGS (\\Seen \\Recent))")
	bad := "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
	appendMsg(t, st, "INBOX", bad)
	c.cmd("b7 FETCH 3 BINARY.PEEK[1]").has("b7 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.")
}

// RFC 3502 MULTIAPPEND: several messages, one APPENDUID; all or none.
func TestMultiAppend(t *testing.T) {
	st := memstore.NewWithOptions(memstore.Options{MaxMessageSize: 100})
	c := login(t, st)
	a, b := "Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n"
	c.cmd("m1 APPEND INBOX (\\Seen) " + lit(a) + " \"05-Mar-2024 10:00:00 +0000\" " + lit(b)).
		has("m1 OK [APPENDUID * 1:2] Append completed.")
	big := strings.Repeat("x", 200)
	c.cmd("m2 APPEND INBOX " + lit(a) + " " + lit(big)).has("m2 NO [TOOBIG] Message too large.")
	c.cmd("m3 STATUS INBOX (MESSAGES)").has("* STATUS INBOX (MESSAGES 2)")
	c.cmd("m4 APPEND INBOX UTF8 (~" + lit("Subject: é\r\n\r\nx\r\n") + ")").has("m4 OK [APPENDUID * 4] Append completed.")
}

// RFC 6855 UTF8=ACCEPT and RFC 9051 (IMAP4rev2) mailbox names in UTF-8.
func TestUTF8Accept(t *testing.T) {
	c := login(t, nil)
	c.cmd("u1 CREATE Entw&APw-rfe").ok()
	c.cmd(`u2 LIST "" Entw*`).want(`* LIST (\HasNoChildren) "/" Entw&APw-rfe`, "u2 OK List completed.")
	c.cmd("u3 ENABLE UTF8=ACCEPT").want("* ENABLED UTF8=ACCEPT", "u3 OK Enable completed.")
	c.cmd(`u4 LIST "" Entw*`).want(`* LIST (\HasNoChildren) "/" "Entwürfe"`, "u4 OK List completed.")
	c.cmd(`u5 CREATE "台北"`).ok()
	c.cmd(`u6 STATUS "台北" (MESSAGES)`).want(`* STATUS "台北" (MESSAGES 0)`, "u6 OK Status completed.")
	c.cmd(`u7 SELECT "A&B"`).want(`u7 NO [NONEXISTENT] Mailbox doesn't exist.`)
}

// RFC 9051 with appendix E: after ENABLE IMAP4rev2 no \Recent or RECENT,
// SEARCH answers ESEARCH.
func TestIMAP4rev2(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("r1 ENABLE IMAP4rev2").want("* ENABLED IMAP4rev2", "r1 OK Enable completed.")
	c.cmd("r2 SELECT INBOX").want(`* FLAGS *`, `* OK [PERMANENTFLAGS *`, "* 1 EXISTS",
		"* OK [UIDVALIDITY *", "* OK [UIDNEXT 2] *", "* OK [HIGHESTMODSEQ 2] Highest", "r2 OK [READ-WRITE] Select completed.")
	c.cmd("r3 FETCH 1 FLAGS").want("* 1 FETCH (FLAGS ())", "r3 OK Fetch completed.")
	c.cmd("r4 SEARCH ALL").want(`* ESEARCH (TAG "r4") ALL 1`, "r4 OK Search completed.")
	c.cmd("r5 UID SEARCH NOT ALL").want(`* ESEARCH (TAG "r5") UID`, "r5 OK UID Search completed.")
}

// RFC 4978 COMPRESS=DEFLATE.
func TestCompress(t *testing.T) {
	c := login(t, nil)
	c.cmd("z1 COMPRESS DEFLATE").want("z1 OK DEFLATE active.")
	fw, _ := flate.NewWriter(c.conn, flate.BestSpeed)
	fr := flate.NewReader(c.r)
	zc := &tconn{t: t, conn: writerConn{c.conn, fw}, r: bufio.NewReader(fr)}
	zc.cmd("z2 NOOP").want("z2 OK Noop completed.")
	zc.cmd("z3 COMPRESS DEFLATE").want("z3 NO [COMPRESSIONACTIVE] Compression is already active.")
	zc.cmd("z4 CAPABILITY").has("z4 OK Capability completed.")
	if strings.Contains(zc.cmd("z5 CAPABILITY").lines[0], "COMPRESS=") {
		t.Errorf("COMPRESS still advertised")
	}
}

// writerConn sends through a flate writer, flushing each write.
type writerConn struct {
	net.Conn
	fw *flate.Writer
}

func (w writerConn) Write(b []byte) (int, error) {
	n, err := w.fw.Write(b)
	if err == nil {
		err = w.fw.Flush()
	}
	return n, err
}

// RFC 7888 LITERAL-: non-synchronising literals up to 4096 bytes.
func TestLiteralMinus(t *testing.T) {
	c := serveTest(t, nil, Options{Tag: "L", LiteralMinus: true})
	if l := c.readResponse(); !strings.Contains(l, " LITERAL- ") {
		t.Fatalf("login reply %q", l)
	}
	c.cmd("n1 CREATE {3+}\r\nabc").ok()
	c.send("n2 APPEND abc {5000+}\r\n")
	if l := c.readResponse(); l != "n2 BAD Non-synchronizing literal too large." {
		t.Fatalf("got %q", l)
	}
}

// Special-use mailboxes made at login (Options.AutoMailboxes).
func TestAutoMailboxes(t *testing.T) {
	st := memstore.New()
	if err := st.Create("Sent Items", []string{storage.AttrSent}); err != nil {
		t.Fatal(err)
	}
	c := serveTest(t, st, Options{Tag: "L", AutoMailboxes: DefaultAutoMailboxes()})
	c.readResponse()
	c.cmd(`a1 LIST "" * RETURN (SPECIAL-USE)`).want(
		`* LIST (\Archive \HasNoChildren) "/" Archive`,
		`* LIST (\Drafts \HasNoChildren) "/" Drafts`,
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\Junk \HasNoChildren) "/" Junk`,
		`* LIST (\Sent \HasNoChildren) "/" "Sent Items"`,
		`* LIST (\Trash \HasNoChildren) "/" Trash`,
		"a1 OK List completed.")
	c.cmd(`a2 LSUB "" *`).has(`* LSUB () "/" Drafts`, `* LSUB () "/" Trash`)
}

// RFC 8970 PREVIEW.
func TestPreview(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	appendMsg(t, st, "INBOX", multipartMsg)
	appendMsg(t, st, "INBOX", crlf("Content-Type: text/html\n\n<html><style>p{}</style><p>Hi &amp; bye</p>\n"))
	c := login(t, st)
	c.cmd("p0 SELECT INBOX").ok()
	c.cmd("p1 FETCH 1:3 PREVIEW").want(
		`* 1 FETCH (PREVIEW "Hi Bob, how are you?")`,
		"* 2 FETCH (PREVIEW {15}\r\nCafé body text)",
		`* 3 FETCH (PREVIEW "Hi & bye")`,
		"p1 OK Fetch completed.")
	c.cmd("p2 FETCH 1 (PREVIEW (LAZY) UID)").want(`* 1 FETCH (PREVIEW "Hi Bob, how are you?" UID 1)`, "p2 OK Fetch completed.")
	long := previewText(strings.Repeat("word ", 100) + "\n> quoted\n")
	if n := len([]rune(long)); n != maxPreviewChars {
		t.Errorf("preview length %d, want %d", n, maxPreviewChars)
	}
	if !bytes.Equal([]byte(previewText("> q\nx  y\n")), []byte("x y")) {
		t.Errorf("previewText quoting")
	}
}
