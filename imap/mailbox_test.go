package imap

import (
	"testing"

	"cote/storage/memstore"
)

func TestStoreFlags(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("s0 SELECT INBOX").ok()
	// A new keyword is announced before it is used (RFC 9051 7.3.5).
	c.cmd(`s1 STORE 1 +FLAGS (\Flagged $Work)`).want(
		`* FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen $Work \*)] Flags permitted.`,
		`* 1 FETCH (FLAGS (\Flagged $Work \Recent))`, "s1 OK Store completed.")
	c.cmd(`s2 UID STORE 1:* FLAGS.SILENT (\seen)`).want("s2 OK UID Store completed.")
	c.cmd(`s3 FETCH 1:2 FLAGS`).want(`* 1 FETCH (FLAGS (\Seen \Recent))`, `* 2 FETCH (FLAGS (\Seen \Recent))`, "s3 OK Fetch completed.")
	c.cmd(`s4 UID STORE 2 -FLAGS \Seen`).want(`* 2 FETCH (UID 2 FLAGS (\Recent))`, "s4 OK UID Store completed.")
	c.cmd(`s5 STORE 1 +FLAGS (\Recent)`).want(`s5 BAD \Recent can't be changed.`)
	c.cmd(`s6 STORE 1 +FLAGZ (\Seen)`).want(`s6 BAD Error in IMAP command STORE: unknown STORE item "FLAGZ"`)
	c.cmd("s7 EXAMINE INBOX").ok()
	c.cmd(`s8 STORE 1 +FLAGS (\Seen)`).want(`s8 NO [READ-ONLY] Mailbox is read-only.`)
}

func TestExpungeNotifications(t *testing.T) {
	st := memstore.New()
	for range 4 {
		appendMsg(t, st, "INBOX", simpleMsg)
	}
	a, b := login(t, st), login(t, st)
	a.cmd("a0 SELECT INBOX").ok()
	b.cmd("b0 SELECT INBOX").ok()
	a.cmd(`a1 STORE 2,4 +FLAGS.SILENT (\Deleted)`).ok()
	// b sees the flag change, with UID (RFC 7162 style).
	b.cmd("b1 NOOP").want(`* 2 FETCH (UID 2 FLAGS (\Deleted))`, `* 4 FETCH (UID 4 FLAGS (\Deleted))`, "b1 OK Noop completed.")
	a.cmd("a2 EXPUNGE").want("* 4 EXPUNGE", "* 2 EXPUNGE", "a2 OK Expunge completed.")
	// No EXPUNGE during FETCH (RFC 3501 section 7.4.1); the expunged
	// message still has its sequence number.
	b.cmd("b2 FETCH 4 (UID FLAGS)").want(`* 4 FETCH (UID 4 FLAGS (\Deleted))`, "b2 OK Fetch completed.")
	b.cmd("b3 FETCH 4 BODY.PEEK[]").want("b3 NO [EXPUNGEISSUED] Some of the requested messages no longer exist.")
	b.cmd("b4 SEARCH ALL").want("* SEARCH 1 2 3 4", "b4 OK Search completed.")
	b.cmd("b5 NOOP").want("* 4 EXPUNGE", "* 2 EXPUNGE", "b5 OK Noop completed.")
	b.cmd("b6 SEARCH ALL").want("* SEARCH 1 2", "b6 OK Search completed.")
	b.cmd("b7 UID SEARCH ALL").want("* SEARCH 1 3", "b7 OK UID Search completed.")
	// UID EXPUNGE only removes the named messages.
	a.cmd(`a3 STORE 1:2 +FLAGS.SILENT (\Deleted)`).ok()
	a.cmd("a4 UID EXPUNGE 3").want("* 2 EXPUNGE", "a4 OK UID Expunge completed.")
	b.cmd("b8 UID FETCH 1:* FLAGS").want(`* 1 FETCH (UID 1 FLAGS (\Deleted))`, "* 2 EXPUNGE", `* 1 FETCH (UID 1 FLAGS (\Deleted))`, "b8 OK UID Fetch completed.")
	// CLOSE expunges silently.
	a.cmd("a5 CLOSE").want("a5 OK Close completed.")
	b.cmd("b9 NOOP").want("* 1 EXPUNGE", "b9 OK Noop completed.")
	a.cmd("a6 STATUS INBOX (MESSAGES)").want("* STATUS INBOX (MESSAGES 0)", "a6 OK Status completed.")
}

func TestNewMessagesAndIdle(t *testing.T) {
	st := memstore.New()
	a, b := login(t, st), login(t, st)
	a.cmd("a0 SELECT INBOX").ok()
	b.cmd("b0 CREATE Archive").ok()
	a.send("a1 IDLE\r\n")
	if l := a.readResponse(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	b.cmd("b1 APPEND INBOX " + lit(simpleMsg)).ok()
	if l := a.readResponse(); l != "* 1 EXISTS" {
		t.Fatalf("IDLE update: %q", l)
	}
	if l := a.readResponse(); l != "* 1 RECENT" {
		t.Fatalf("IDLE update: %q", l)
	}
	b.cmd("b2 SELECT INBOX").ok()
	b.cmd("b3 MOVE 1 Archive").want("* OK [COPYUID * 1 1] Moved UIDs.", "* 1 EXPUNGE", "b3 OK Move completed.")
	if l := a.readResponse(); l != "* 1 EXPUNGE" {
		t.Fatalf("IDLE update: %q", l)
	}
	a.send("DONE\r\n")
	a.until("idle", "a1").want("a1 OK Idle completed.")
	a.send("a2 IDLE\r\n")
	if l := a.readResponse(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	a.send("NOPE\r\n")
	a.until("idle", "a2").want("a2 BAD Expected DONE.")
}

func TestIdleKeepalive(t *testing.T) {
	c := serveTest(t, nil, Options{Tag: "L", IdleNotify: 20 * 1000 * 1000})
	c.until("login", "L")
	c.send("i1 IDLE\r\n")
	c.readResponse()
	if l := c.readResponse(); l != "* OK Still here" {
		t.Fatalf("keepalive = %q", l)
	}
	c.send("done\r\n")
	c.until("idle", "i1").ok()
}

func TestCopyMove(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg, `\Flagged`)
	appendMsg(t, st, "INBOX", simpleMsg)
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("c0 CREATE Dest").ok()
	c.cmd("c1 SELECT INBOX").ok()
	c.cmd("c2 COPY 1:2 Dest").want("c2 OK [COPYUID * 1:2 1:2] Copy completed.")
	c.cmd("c3 UID COPY 3 nosuch").want("c3 NO [TRYCREATE] Mailbox doesn't exist.")
	c.cmd("c4 UID MOVE 2:3 Dest").want("* OK [COPYUID * 2:3 3:4] Moved UIDs.", "* 3 EXPUNGE", "* 2 EXPUNGE", "c4 OK Move completed.")
	c.cmd("c5 STATUS Dest (MESSAGES)").want("* STATUS Dest (MESSAGES 4)", "c5 OK Status completed.")
	c.cmd("c6 SELECT Dest").ok()
	c.cmd("c7 FETCH 1 FLAGS").want(`* 1 FETCH (FLAGS (\Flagged \Recent))`, "c7 OK Fetch completed.")
	c.cmd("c8 UID COPY 99 INBOX").want("c8 OK No messages found.")
}

func TestMailboxCommands(t *testing.T) {
	c := login(t, nil)
	c.cmd("m1 CREATE Work/Projects/").ok()
	c.cmd("m2 CREATE Trash (USE (\\Trash))").ok()
	c.cmd("m3 CREATE Trash").want("m3 NO [ALREADYEXISTS] Mailbox already exists.")
	c.cmd("m4 CREATE &ZeVnLIqe-").ok()
	c.cmd("m5 CREATE &Jjo").want("m5 NO [CANNOT] Mailbox name is not valid modified UTF-7.")
	c.cmd(`m6 LIST "" *`).want(
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\Trash \HasNoChildren) "/" Trash`,
		`* LIST (\Noselect \HasChildren) "/" Work`,
		`* LIST (\HasNoChildren) "/" Work/Projects`,
		`* LIST (\HasNoChildren) "/" &ZeVnLIqe-`,
		"m6 OK List completed.")
	c.cmd(`m7 LIST "" %`).has(`* LIST (\Noselect \HasChildren) "/" Work`)
	c.cmd(`m8 LIST "" ""`).want(`* LIST (\Noselect) "/" ""`, "m8 OK List completed.")
	c.cmd(`m9 LIST "Work/" %`).want(`* LIST (\HasNoChildren) "/" Work/Projects`, "m9 OK List completed.")
	c.cmd(`m10 SUBSCRIBE Work/Projects`).ok()
	c.cmd(`m11 LSUB "" *`).want(`* LSUB () "/" Work/Projects`, "m11 OK Lsub completed.")
	c.cmd(`m12 LSUB "" %`).want(`* LSUB (\Noselect) "/" Work`, "m12 OK Lsub completed.")
	c.cmd(`m13 LIST (SUBSCRIBED RECURSIVEMATCH) "" %`).want(`* LIST (\Noselect \HasChildren) "/" Work ("CHILDINFO" ("SUBSCRIBED"))`, "m13 OK List completed.")
	c.cmd(`m14 LIST "" (INBOX Work/*) RETURN (SUBSCRIBED CHILDREN)`).want(
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\HasNoChildren \Subscribed) "/" Work/Projects`,
		"m14 OK List completed.")
	c.cmd(`m15 LIST (SPECIAL-USE) "" *`).want(`* LIST (\Trash \HasNoChildren) "/" Trash`, "m15 OK List completed.")
	c.cmd(`m16 RENAME Work/Projects Job`).ok()
	c.cmd(`m17 LIST "" Job*`).want(`* LIST (\HasNoChildren) "/" Job`, "m17 OK List completed.")
	c.cmd(`m18 DELETE Trash`).ok()
	c.cmd(`m19 DELETE Trash`).want("m19 NO [NONEXISTENT] Mailbox doesn't exist.")
	c.cmd(`m20 DELETE INBOX`).want("m20 NO [CANNOT] INBOX can't be deleted.")
	c.cmd(`m21 NAMESPACE`).want(`* NAMESPACE (("" "/")) NIL NIL`, "m21 OK Namespace completed.")
	c.cmd(`m22 ID ("name" "test" "version" NIL)`).want(`* ID ("name" "cote")`, "m22 OK Id completed.")
	c.cmd(`m23 ENABLE CONDSTORE X-UNKNOWN`).want(`* ENABLED CONDSTORE`, "m23 OK Enable completed.")
	c.cmd(`m24 STATUS &ZeVnLIqe- (MESSAGES UIDNEXT)`).want(`* STATUS &ZeVnLIqe- (MESSAGES 0 UIDNEXT 1)`, "m24 OK Status completed.")
}
