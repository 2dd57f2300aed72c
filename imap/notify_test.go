package imap

import (
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

// expect reads the next responses, sent without a command (NOTIFY's
// unsolicited ones), and checks them.
func (c *tconn) expect(lines ...string) {
	c.t.Helper()
	r := &result{c: c, cmd: "(unsolicited)"}
	for range lines {
		r.lines = append(r.lines, c.readResponse())
	}
	r.want(lines...)
}

// RFC 5465 section 3.1: NOTIFY SET STATUS sends each watched mailbox's
// status with the items its events need (imaptest's notify script);
// unsupported events are NO [BADEVENT], misplaced ones BAD.
func TestNotifySetStatus(t *testing.T) {
	st := memstore.New()
	if err := st.Create("box2", nil); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, st, "box2", simpleMsg)
	stat, _ := st.Status("box2")
	v, hms := itoa(stat.UIDValidity), strings.TrimSpace(i64(int64(stat.HighestModSeq)))
	c := login(t, st)
	c.cmd("n1 NOTIFY SET STATUS (mailboxes box2 (MessageExpunge))").want(
		"* STATUS box2 (MESSAGES 1)", "n1 OK Notify completed.")
	c.cmd("n2 NOTIFY SET STATUS (mailboxes box2 (MessageNew))").want(
		"* STATUS box2 (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "+v+")", "n2 OK *")
	c.cmd("n3 NOTIFY SET STATUS (mailboxes box2 (FlagChange))").want(
		"* STATUS box2 (UIDVALIDITY "+v+" HIGHESTMODSEQ "+hms+")", "n3 OK *")
	c.cmd("n4 NOTIFY SET (mailboxes box2 (MessageNew MessageExpunge FlagChange))").want("n4 OK *")
	c.cmd("n5 NOTIFY SET STATUS (personal (MessageNew MessageExpunge)) (inboxes NONE)").want(
		"* STATUS box2 (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "+v+")", "n5 OK *")
	c.cmd("n6 NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))").want(
		"n6 NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Unsupported event.")
	c.cmd("n7 NOTIFY SET (personal (ServerMetadataChange))").want("n7 NO [BADEVENT *] Unsupported event.")
	for _, bad := range []string{
		"NOTIFY SET (selected (MailboxName))",
		"NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed NONE)",
		"NOTIFY SET (elsewhere (MessageNew))",
		"NOTIFY SET (mailboxes (MessageNew))",
		"NOTIFY SET",
		"NOTIFY SET STATUS",
		"NOTIFY NONE (personal NONE)",
		"NOTIFY ALL",
	} {
		c.cmd("n8 " + bad).want("n8 BAD *")
	}
	c.cmd("n9 NOTIFY NONE").want("n9 OK Notify completed.")
}

// RFC 5465 sections 5.1 to 5.3 for the selected mailbox: another
// session's changes arrive without a command, with MessageNew's fetch
// attributes after EXISTS.
func TestNotifySelected(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	other := login(t, st)
	c.cmd("a1 SELECT INBOX").ok()
	other.cmd("o1 SELECT INBOX").ok()
	c.cmd("a2 NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM)]) MessageExpunge FlagChange))").want(
		"a2 OK Notify completed.")
	appendMsg(t, st, "INBOX", simpleMsg)
	c.expect("* 2 EXISTS", "* 2 RECENT",
		"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (FROM)] {35}\r\nFrom: Alice <alice@example.com>\r\n\r\n)")
	other.cmd(`o2 STORE 1 +FLAGS (\Deleted)`).ok()
	c.expect(`* 1 FETCH (UID 1 FLAGS (\Deleted \Recent))`)
	other.cmd("o3 EXPUNGE").ok()
	c.expect("* 1 EXPUNGE")
	c.cmd("a3 NOOP").want("a3 OK Noop completed.")

	// SELECTED-DELAYED: expunges wait for a command that may send them.
	c.cmd("a4 NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))").ok()
	other.cmd(`o4 STORE 1 +FLAGS (\Deleted)`).ok()
	c.expect(`* 1 FETCH (UID 2 FLAGS (\Deleted \Recent))`)
	other.cmd("o5 EXPUNGE").ok()
	other.cmd("o6 NOOP").ok() // the expunge has happened
	c.cmd("a5 FETCH 1 UID").want("* 1 FETCH (UID 2)", "a5 OK *")
	c.cmd("a6 NOOP").want("* 1 EXPUNGE", "a6 OK *")

	// QRESYNC: VANISHED instead of EXPUNGE, at once.
	c.cmd("a7 ENABLE QRESYNC").ok()
	c.cmd("a8 NOTIFY SET (selected (MessageNew MessageExpunge))").ok()
	appendMsg(t, st, "INBOX", simpleMsg)
	c.expect("* 1 EXISTS", "* 1 RECENT")
	other.cmd(`o7 STORE 1 +FLAGS.SILENT (\Deleted)`).ok()
	// Without FlagChange flag changes wait for a command.
	other.cmd("o8 EXPUNGE").ok()
	c.expect("* VANISHED 3")
	appendMsg(t, st, "INBOX", simpleMsg)
	c.expect("* 1 EXISTS", "* 1 RECENT")
	other.cmd(`o9 STORE 1 +FLAGS (\Flagged)`).ok()
	c.cmd("a8b NOOP").want(`* 1 FETCH (UID 4 FLAGS (\Flagged \Recent) MODSEQ (*))`, "a8b OK *")

	// NOTIFY NONE: changes wait for a command again.
	c.cmd("a9 NOTIFY NONE").ok()
	appendMsg(t, st, "INBOX", simpleMsg)
	c.cmd("a10 NOOP").want("* 2 EXISTS", "* 2 RECENT", "a10 OK *")
}

// RFC 5465 sections 5.2 to 5.5 for other mailboxes: STATUS for message
// changes, LIST for names and subscriptions, nothing for the session's
// own changes; on memstore and on a Maildir.
func TestNotifyOtherMailboxes(t *testing.T) {
	t.Run("memstore", func(t *testing.T) { testNotifyOtherMailboxes(t, memstore.New()) })
	t.Run("maildir", func(t *testing.T) {
		md, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: t.TempDir(), User: "u", PollInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { md.Close() })
		testNotifyOtherMailboxes(t, md)
	})
}

func testNotifyOtherMailboxes(t *testing.T, st storage.Store) {
	c := login(t, st)
	other := login(t, st)
	c.cmd("a1 NOTIFY SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))").ok()
	other.cmd("o1 CREATE Work").ok()
	c.expect(`* LIST () "/" Work`)
	other.cmd("o2 APPEND Work " + lit(simpleMsg)).ok()
	c.expect("* STATUS Work (MESSAGES 1 UIDNEXT 2)")
	other.cmd("o3 RENAME Work Play").ok()
	c.expect(`* LIST () "/" Play ("OLDNAME" (Work))`)
	other.cmd("o4 SUBSCRIBE Play").ok()
	c.expect(`* LIST (\Subscribed) "/" Play`)
	other.cmd("o5 UNSUBSCRIBE Play").ok()
	c.expect(`* LIST () "/" Play`)
	other.cmd("o6 SELECT Play").ok()
	other.cmd(`o7 STORE 1 +FLAGS (\Deleted)`).ok()
	other.cmd("o8 EXPUNGE").ok()
	c.expect("* STATUS Play (MESSAGES 0 UIDNEXT 2)")
	other.cmd("o9 UNSELECT").ok()
	other.cmd("o10 DELETE Play").ok()
	c.expect(`* LIST (\NonExistent) "/" Play`)

	// The session's own changes are not reported back.
	c.cmd("a2 CREATE Mine").want("a2 OK *")
	c.cmd("a3 APPEND Mine "+lit(simpleMsg)).want("+ Ready for literal data", "a3 OK [APPENDUID *] *")
	c.cmd("a4 NOOP").want("a4 OK Noop completed.")
	// Others' changes arrive with a command's responses too.
	appendMsg(t, st, "Mine", simpleMsg)
	c.cmd("a5 NOOP").has("* STATUS Mine (MESSAGES 2 UIDNEXT 3)")

	// The most specific group wins: Junk is left out, and INBOX's
	// flag changes come with its HIGHESTMODSEQ under CONDSTORE.
	c.cmd("a6 ENABLE CONDSTORE").ok()
	c.cmd("a7 CREATE Junk").ok()
	c.cmd("a8 NOTIFY SET (personal (MessageNew MessageExpunge)) (mailboxes Junk NONE) (inboxes (MessageNew MessageExpunge FlagChange))").ok()
	appendMsg(t, st, "Junk", simpleMsg)
	uid := appendMsg(t, st, "INBOX", simpleMsg)
	c.expect("* STATUS INBOX (MESSAGES 1 UIDNEXT 2 HIGHESTMODSEQ *)")
	mb, err := st.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if _, err := mb.Store([]uint32{uid}, storage.FlagsAdd, []string{storage.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	c.expect("* STATUS INBOX (UIDVALIDITY * HIGHESTMODSEQ *)")
}

// RFC 5465 section 4: during IDLE the session sends what NOTIFY asked
// for, and nothing for the selected mailbox without SELECTED.
func TestNotifyIdle(t *testing.T) {
	st := memstore.New()
	if err := st.Create("Work", nil); err != nil {
		t.Fatal(err)
	}
	c := login(t, st)
	c.cmd("i0 SELECT INBOX").ok()
	c.cmd("i1 NOTIFY SET (mailboxes Work (MessageNew MessageExpunge))").ok()
	c.send("i2 IDLE\r\n")
	c.expect("+ idling")
	appendMsg(t, st, "INBOX", simpleMsg)
	appendMsg(t, st, "Work", simpleMsg)
	c.expect("* STATUS Work (MESSAGES 1 UIDNEXT 2)")
	// The selected mailbox's news come when the command ends.
	c.send("DONE\r\n")
	c.expect("* 1 EXISTS", "* 1 RECENT", "i2 OK Idle completed.")
	c.cmd("i3 NOOP").want("i3 OK Noop completed.")
}
