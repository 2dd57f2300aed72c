package imap

import (
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/memstore"
)

// subjectMsg is a message with a subject, for sorting.
func subjectMsg(subject string) string {
	return crlf("From: a@example.com\nSubject: " + subject + "\n\nbody\n")
}

// RFC 5267 section 4.4 PARTIAL, for SEARCH and SORT, with its example's
// NIL for a range past the results.
func TestSearchPartial(t *testing.T) {
	st := memstore.New()
	for _, subj := range []string{"d", "b", "c", "a", "e"} {
		appendMsg(t, st, "INBOX", subjectMsg(subj))
	}
	c := login(t, st)
	c.cmd("p0 SELECT INBOX").ok()
	for _, tc := range []struct{ cmd, want string }{
		{"SEARCH RETURN (PARTIAL 1:3) ALL", `* ESEARCH (TAG "p1") PARTIAL (1:3 1:3)`},
		{"SEARCH RETURN (PARTIAL 4:2) ALL", `* ESEARCH (TAG "p1") PARTIAL (2:4 2:4)`},
		{"SEARCH RETURN (PARTIAL 2:10) 1:2,4:5", `* ESEARCH (TAG "p1") PARTIAL (2:10 2,4:5)`},
		{"UID SEARCH RETURN (PARTIAL 24000:24500) ALL", `* ESEARCH (TAG "p1") UID PARTIAL (24000:24500 NIL)`},
		{"SEARCH RETURN (COUNT PARTIAL 1:1 MIN) NOT 1", `* ESEARCH (TAG "p1") MIN 2 COUNT 4 PARTIAL (1:1 2)`},
		{"SEARCH RETURN (CONTEXT COUNT) ALL", `* ESEARCH (TAG "p1") COUNT 5`},
		{"SEARCH RETURN (CONTEXT) 5", `* ESEARCH (TAG "p1") ALL 5`},
		{"SORT RETURN (PARTIAL 1:3) (SUBJECT) UTF-8 ALL", `* ESEARCH (TAG "p1") PARTIAL (1:3 4,2:3)`},
		{"UID SORT RETURN (PARTIAL 4:5) (REVERSE SUBJECT) UTF-8 ALL", `* ESEARCH (TAG "p1") UID PARTIAL (4:5 2,4)`},
		{"SORT RETURN (PARTIAL 6:6) (SUBJECT) UTF-8 ALL", `* ESEARCH (TAG "p1") PARTIAL (6:6 NIL)`},
	} {
		c.cmd("p1 "+tc.cmd).want(tc.want, "p1 OK *")
	}
	for _, bad := range []string{
		"SEARCH RETURN (PARTIAL 1) ALL", "SEARCH RETURN (PARTIAL 1:*) ALL", "SEARCH RETURN (PARTIAL *:1) ALL",
		"SEARCH RETURN (PARTIAL 0:3) ALL", "SEARCH RETURN (ALL PARTIAL 1:2) ALL",
		"SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "SORT RETURN (PARTIAL 1) (ARRIVAL) UTF-8 ALL",
	} {
		c.cmd("p2 " + bad).want("p2 BAD *")
	}
	// SAVE with PARTIAL keeps the partial result.
	c.cmd("p3 SEARCH RETURN (SAVE PARTIAL 2:3) ALL").want(`* ESEARCH (TAG "p3") PARTIAL (2:3 2:3)`, "p3 OK *")
	c.cmd("p4 FETCH $ UID").want("* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "p4 OK *")
}

// RFC 5267 section 4.3 UPDATE for SEARCH: ADDTO and REMOVEFROM as
// another session changes flags, REMOVEFROM before EXPUNGE, the
// session's own changes, tag reuse, CANCELUPDATE.
func TestSearchUpdate(t *testing.T) {
	st := memstore.New()
	for range 4 {
		appendMsg(t, st, "INBOX", simpleMsg)
	}
	c := login(t, st)
	other := login(t, st)
	c.cmd("b0 SELECT INBOX").ok()
	other.cmd("o0 SELECT INBOX").ok()
	// As section 4.3's example: the result is empty at first.
	c.cmd("B01 UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk").want(
		`* ESEARCH (TAG "B01") UID COUNT 0`, "B01 OK *")
	c.cmd("B02 SEARCH RETURN (UPDATE) SEEN").want(`* ESEARCH (TAG "B02")`, "B02 OK *")
	c.cmd("b1 SEARCH RETURN (UPDATE) SEEN").want(`* ESEARCH (TAG "b1")`, "b1 OK *")
	c.cmd("b1 SEARCH RETURN (UPDATE) ALL").want("b1 BAD Tag reuse.")
	c.cmd(`b2 CANCELUPDATE "b1"`).want("b2 OK *")

	other.cmd(`o1 STORE 2:3 +FLAGS ($Junk \Deleted)`).ok()
	c.cmd("b3 NOOP").want(
		`* FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Junk)`,
		`* OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen $Junk \*)] Flags permitted.`,
		`* 2 FETCH (UID 2 FLAGS (\Deleted $Junk \Recent))`,
		`* 3 FETCH (UID 3 FLAGS (\Deleted $Junk \Recent))`,
		`* ESEARCH (TAG "B01") UID ADDTO (0 2:3)`,
		"b3 OK Noop completed.")
	// The session's own STORE: the FETCH responses come first.
	c.cmd(`b4 STORE 1,3 +FLAGS.SILENT (\Seen)`).want(`* ESEARCH (TAG "B02") ADDTO (0 1,3)`, "b4 OK *")
	other.cmd("o2 EXPUNGE").ok()
	// FETCH may not send EXPUNGE: the expunged messages leave the
	// results at once, with the sequence numbers the client knows.
	c.cmd("b5 FETCH 1 UID").want(
		`* ESEARCH (TAG "B01") UID REMOVEFROM (0 2:3)`,
		`* ESEARCH (TAG "B02") REMOVEFROM (0 3)`,
		"* 1 FETCH (UID 1)", "b5 OK *")
	c.cmd("b6 NOOP").want("* 3 EXPUNGE", "* 2 EXPUNGE", "b6 OK *")
	appendMsg(t, st, "INBOX", simpleMsg, storage.FlagSeen)
	c.cmd("b7 NOOP").want("* 3 EXISTS", "* 3 RECENT", `* ESEARCH (TAG "B02") ADDTO (0 3)`, "b7 OK *")
	// The session's own expunge: REMOVEFROM comes before EXPUNGE.
	c.cmd(`b8 STORE 1 +FLAGS.SILENT (\Deleted)`).want("b8 OK *")
	c.cmd("b9 EXPUNGE").want(`* ESEARCH (TAG "B02") REMOVEFROM (0 1)`, "* 1 EXPUNGE", "b9 OK *")

	c.cmd(`b10 CANCELUPDATE "B01" "B02"`).want("b10 OK *")
	c.cmd(`b11 CANCELUPDATE "B02"`).want(`b11 NO Unknown search update "B02".`)
	c.cmd("b12 CANCELUPDATE B02").want("b12 BAD *")
	other.cmd(`o3 STORE 1:* -FLAGS (\Seen)`).ok()
	c.cmd("b13 NOOP").want(`* 2 FETCH (UID 5 FLAGS (\Recent))`, "b13 OK *")
	// Contexts end with the selection.
	c.cmd("b14 SEARCH RETURN (UPDATE) UNSEEN").ok()
	c.cmd("b15 SELECT INBOX").ok()
	c.cmd(`b16 CANCELUPDATE "b14"`).want(`b16 NO *`)
	c.cmd("b17 UNSELECT").ok()
	c.cmd(`b18 CANCELUPDATE "b14"`).want(`b18 BAD No mailbox selected.`)
}

// RFC 5267 section 4.3 UPDATE for SORT: positions in the sort order, one
// pair per run; section 4.3.1's NOUPDATE past the limit.
func TestSortUpdate(t *testing.T) {
	st := memstore.New()
	for _, subj := range []string{"d", "b", "c", "a"} {
		appendMsg(t, st, "INBOX", subjectMsg(subj))
	}
	c := login(t, st)
	other := login(t, st)
	c.cmd("s0 SELECT INBOX").ok()
	other.cmd("o0 SELECT INBOX").ok()
	c.cmd("s1 SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN").want(`* ESEARCH (TAG "s1") ALL 4,2:3,1`, "s1 OK *")
	c.cmd("s2 UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN").want(`* ESEARCH (TAG "s2") UID`, "s2 OK *")
	other.cmd(`o1 STORE 2:3 +FLAGS (\Seen)`).ok()
	c.cmd("s3 NOOP").want(
		`* 2 FETCH (UID 2 FLAGS (\Seen \Recent))`, `* 3 FETCH (UID 3 FLAGS (\Seen \Recent))`,
		`* ESEARCH (TAG "s1") REMOVEFROM (2 2:3)`,
		`* ESEARCH (TAG "s2") UID REMOVEFROM (2 3,2)`,
		"s3 OK *")
	other.cmd(`o2 STORE 3 -FLAGS (\Seen)`).ok()
	appendMsg(t, st, "INBOX", subjectMsg("0"))
	c.cmd("s4 NOOP").want(
		`* 3 FETCH (UID 3 FLAGS (\Recent))`, "* 5 EXISTS", "* 5 RECENT",
		`* ESEARCH (TAG "s1") ADDTO (1 5 3 3)`,
		`* ESEARCH (TAG "s2") UID ADDTO (2 3 4 5)`,
		"s4 OK *")
	other.cmd(`o3 STORE 1,5 +FLAGS (\Deleted)`).ok()
	other.cmd("o4 EXPUNGE").ok()
	c.cmd("s5 NOOP").want(
		`* ESEARCH (TAG "s1") REMOVEFROM (1 5 3 1)`,
		`* ESEARCH (TAG "s2") UID REMOVEFROM (1 1 3 5)`,
		"* 5 EXPUNGE", "* 1 EXPUNGE", "s5 OK *")
	for i := 2; i < maxUpdateContexts; i++ {
		c.cmd("n" + itoa(uint32(i)) + " SEARCH RETURN (UPDATE) ALL").ok()
	}
	c.cmd("B02 UID SORT RETURN (UPDATE COUNT) (ARRIVAL) UTF-8 KEYWORD $Junk").want(
		`* ESEARCH (TAG "B02") UID COUNT 0`, `* NO [NOUPDATE "B02"] Too many contexts.`, "B02 OK *")
}

// RFC 5465 section 7: UPDATE with fetch attributes sends FETCH for new
// results after the ADDTO.
func TestSearchUpdateFetch(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("f0 SELECT INBOX").ok()
	c.cmd(`f1 UID SEARCH RETURN (COUNT UPDATE (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])) FROM "alice"`).want(
		`* ESEARCH (TAG "f1") UID COUNT 1`, "f1 OK *")
	_, _, err := st.Append("INBOX", strings.NewReader(simpleMsg), storage.AppendOptions{Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c.cmd("f2 NOOP").want("* 2 EXISTS", "* 2 RECENT",
		`* ESEARCH (TAG "f1") UID ADDTO (0 2)`,
		"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: Hello there\r\n\r\n)",
		"f2 OK *")
}

// RFC 5267 section 4.3.2: updates may come during IDLE; there they
// follow another session's changes at once.
func TestSearchUpdateIdle(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	other := login(t, st)
	c.cmd("u0 SELECT INBOX").ok()
	other.cmd("o0 SELECT INBOX").ok()
	c.cmd("u1 UID SEARCH RETURN (UPDATE) FLAGGED").want(`* ESEARCH (TAG "u1") UID`, "u1 OK *")
	c.send("u2 IDLE\r\n")
	c.expect("+ idling")
	other.cmd(`o1 STORE 1 +FLAGS (\Flagged)`).ok()
	c.expect(`* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`, `* ESEARCH (TAG "u1") UID ADDTO (0 1)`)
	other.cmd(`o2 STORE 1 +FLAGS (\Deleted)`).ok()
	c.expect(`* 1 FETCH (UID 1 FLAGS (\Deleted \Flagged \Recent))`)
	other.cmd("o3 EXPUNGE").ok()
	c.expect(`* ESEARCH (TAG "u1") UID REMOVEFROM (0 1)`, "* 1 EXPUNGE")
	c.send("DONE\r\n")
	c.expect("u2 OK Idle completed.")
}
