package imap

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"cote/storage/memstore"
)

func TestLoginReply(t *testing.T) {
	c := serveTest(t, nil, Options{Tag: "a1", SendCapability: true})
	if l := c.readResponse(); !strings.HasPrefix(l, "* CAPABILITY IMAP4rev1 ") {
		t.Fatalf("first line %q", l)
	}
	if l := c.readResponse(); l != "a1 OK Logged in" {
		t.Fatalf("tagged %q", l)
	}
	c.cmd("a2 NOOP").want("a2 OK Noop completed.")
	c.cmd("a3 LOGOUT").want("* BYE Logging out", "a3 OK Logout completed.")
}

func TestLeftoverPipelined(t *testing.T) {
	c := serveTest(t, nil, Options{Tag: "L", Leftover: []byte("p1 NOOP\r\np2 CREATE foo\r\np3 LIST \"\" f%\r\n")})
	c.until("login", "L")
	c.until("p1", "p1").want("p1 OK Noop completed.")
	c.until("p2", "p2").want("p2 OK Create completed.")
	c.until("p3", "p3").want(`* LIST (\HasNoChildren) "/" foo`, "p3 OK List completed.")
}

func TestBadSyntax(t *testing.T) {
	c := login(t, nil)
	for _, tc := range []struct{ cmd, want string }{
		{"b1 FROB", "b1 BAD Unknown command FROB."},
		{"b2 SELECT", "b2 BAD Error in IMAP command SELECT: expected space"},
		{"b3 FETCH 1 FLAGS", "b3 BAD No mailbox selected."},
		{"b4 CREATE \"unterminated", "b4 BAD Error in IMAP command CREATE: unterminated quoted string"},
		{"b5 LOGIN a b", "b5 BAD Already logged in."},
		{"b6 UID FROB", "b6 BAD Unknown UID command FROB."},
	} {
		c.cmd(tc.cmd).want(tc.want)
	}
	c.send("\r\n")
	if l := c.readResponse(); l != "* BAD Empty command." {
		t.Fatalf("empty line: %q", l)
	}
	c.cmd("b7 NOOP").ok()
}

func TestLineTooLong(t *testing.T) {
	c := serveTest(t, nil, Options{Tag: "L", MaxLineLength: 100})
	c.until("login", "L")
	c.cmd("t1 NOOP " + strings.Repeat("x", 200)).want("t1 BAD Line too long.")
	c.cmd("t2 NOOP").ok()
	// A literal beyond the line limit in a non-APPEND command.
	c.send("t3 CREATE {500}\r\n")
	if l := c.readResponse(); l != "t3 BAD Literal too large (limit 100)." {
		t.Fatalf("got %q", l)
	}
	c.cmd("t4 NOOP").ok()
}

func TestSelectEmptyAndStatus(t *testing.T) {
	c := login(t, nil)
	c.cmd("s1 SELECT INBOX").want(
		`* FLAGS (\Answered \Deleted \Draft \Flagged \Seen)`,
		`* OK [PERMANENTFLAGS (*`,
		"* 0 EXISTS",
		"* 0 RECENT",
		"* OK [UIDVALIDITY *",
		"* OK [UIDNEXT 1] Predicted next UID",
		"* OK [HIGHESTMODSEQ *",
		"s1 OK [READ-WRITE] Select completed.",
	)
	c.cmd("s2 EXAMINE inbox").has(`* OK [PERMANENTFLAGS ()] Flags permitted.`, "s2 OK [READ-ONLY] Examine completed.")
	// RFC 7162 section 3.2.11: the failed SELECT closed INBOX.
	c.cmd("s3 SELECT nosuch").want("* OK [CLOSED] Previous mailbox closed.", "s3 NO [NONEXISTENT] Mailbox doesn't exist.")
	c.cmd("s4 FETCH 1 FLAGS").want("s4 BAD No mailbox selected.")
	appendMsg(t, c.store, "INBOX", simpleMsg)
	c.cmd("s5 STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE)").want(
		"* STATUS INBOX (MESSAGES 1 UNSEEN 1 UIDNEXT 2 SIZE 207)", "s5 OK Status completed.")
}

func TestAppendLiterals(t *testing.T) {
	c := login(t, nil)
	c.send("a1 APPEND INBOX (\\Seen $Label) \" 5-Mar-2024 10:20:30 +0100\" {" + itoa(uint32(len(simpleMsg))) + "}\r\n")
	if l := c.readResponse(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation = %q", l)
	}
	c.send(simpleMsg + "\r\n")
	c.until("append", "a1").want("a1 OK [APPENDUID * 1] Append completed.")
	// LITERAL+: no continuation request.
	c.send("a2 APPEND INBOX {" + itoa(uint32(len(simpleMsg))) + "+}\r\n" + simpleMsg + "\r\n")
	c.until("append+", "a2").want("a2 OK [APPENDUID * 2] Append completed.")
	c.cmd("a3 SELECT INBOX").has("* 2 EXISTS", "* 2 RECENT", "* OK [UNSEEN 2] First unseen.")
	c.cmd("a4 FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)").want(
		`* 1 FETCH (UID 1 FLAGS (\Seen $Label \Recent) INTERNALDATE " 5-Mar-2024 10:20:30 +0100" RFC822.SIZE 207)`,
		`* 2 FETCH (UID 2 FLAGS (\Recent) INTERNALDATE *`,
		"a4 OK Fetch completed.")
	c.cmd("a5 APPEND nosuch {3+}\r\nabc").want("a5 NO [TRYCREATE] Mailbox doesn't exist.")
}

func TestAppendTooBig(t *testing.T) {
	c := serveTest(t, nil, Options{Tag: "L", MaxLiteral: 10})
	c.until("login", "L")
	c.send("a1 APPEND INBOX {11}\r\n")
	if l := c.readResponse(); l != "a1 NO [TOOBIG] Literal too large (limit 10)." {
		t.Fatalf("got %q", l)
	}
	c.cmd("a2 NOOP").ok()
	c.send("a3 APPEND INBOX {11+}\r\n")
	c.readResponse()
	if l := c.readResponse(); !strings.HasPrefix(l, "* BYE ") {
		t.Fatalf("got %q", l)
	}
}

func TestShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, _ := ln.Accept()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, server, Options{Store: memstore.New(), Tag: "L"}) }()
	c := &tconn{t: t, conn: client, r: bufio.NewReader(client)}
	c.readResponse()
	c.send("i IDLE\r\n")
	c.readResponse()
	cancel()
	if l := c.readResponse(); l != "* BYE Server shutting down." {
		t.Fatalf("got %q", l)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// And outside IDLE.
	c2 := serveTest(t, nil, Options{Tag: "L"})
	c2.readResponse()
	c2.cmd("n NOOP").ok()
}

func TestSeqSetStar(t *testing.T) {
	c := login(t, nil)
	c.cmd("s1 SELECT INBOX").ok()
	c.cmd("s2 FETCH 1:* FLAGS").want("s2 OK Fetch completed.")
	c.cmd("s3 FETCH 1 FLAGS").want("s3 BAD Invalid messageset.")
	c.cmd("s4 UID FETCH 1:* FLAGS").want("s4 OK UID Fetch completed.")
	appendMsg(t, c.store, "INBOX", simpleMsg)
	c.cmd("s5 FETCH 3:* UID").want("* 1 EXISTS", "* 1 RECENT", "* 1 FETCH (UID 1)", "s5 OK Fetch completed.")
}
