package imap

import (
	"testing"

	"cote/storage/memstore"
)

// RFC 7162 section 3.1: CONDSTORE — MODSEQ fetch, CHANGEDSINCE,
// UNCHANGEDSINCE with [MODIFIED], SEARCH MODSEQ, STATUS HIGHESTMODSEQ.
func TestCondstore(t *testing.T) {
	st := memstore.New()
	for range 3 {
		appendMsg(t, st, "INBOX", simpleMsg)
	}
	c := login(t, st)
	c.cmd("a1 SELECT INBOX (CONDSTORE)").has("* OK [HIGHESTMODSEQ 4] Highest", "a1 OK [READ-WRITE] Select completed.")
	c.cmd("a2 FETCH 1:* (FLAGS MODSEQ)").want(
		`* 1 FETCH (FLAGS (\Recent) MODSEQ (2))`,
		`* 2 FETCH (FLAGS (\Recent) MODSEQ (3))`,
		`* 3 FETCH (FLAGS (\Recent) MODSEQ (4))`,
		"a2 OK Fetch completed.")
	// Section 3.1.3's example d105: .SILENT still reports MODSEQ.
	c.cmd(`a3 STORE 2 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\Deleted)`).want(
		`* 2 FETCH (MODSEQ (5))`, "a3 OK Store completed.")
	c.cmd(`a4 STORE 1:3 (UNCHANGEDSINCE 3) +FLAGS (\Seen)`).want(
		`* 1 FETCH (FLAGS (\Seen \Recent) MODSEQ (6))`,
		`a4 OK [MODIFIED 2:3] Conditional STORE failed.`)
	c.cmd(`a5 UID STORE 3 (UNCHANGEDSINCE 0) FLAGS ()`).want(`a5 OK [MODIFIED 3] Conditional STORE failed.`)
	c.cmd("a6 FETCH 1:* (UID FLAGS) (CHANGEDSINCE 4)").want(
		`* 1 FETCH (UID 1 FLAGS (\Seen \Recent) MODSEQ (6))`,
		`* 2 FETCH (UID 2 FLAGS (\Deleted \Recent) MODSEQ (5))`,
		"a6 OK Fetch completed.")
	c.cmd("a7 SEARCH MODSEQ 5").want("* SEARCH 1 2 (MODSEQ 6)", "a7 OK Search completed.")
	c.cmd(`a8 SEARCH MODSEQ "/flags/\\draft" all 6`).want("* SEARCH 1 (MODSEQ 6)", "a8 OK Search completed.")
	c.cmd("a9 STATUS INBOX (HIGHESTMODSEQ MESSAGES)").want("* STATUS INBOX (HIGHESTMODSEQ 6 MESSAGES 3)", "a9 OK Status completed.")
	// Another session's change arrives with its MODSEQ.
	other, _ := st.Open("INBOX", false)
	defer other.Close()
	if _, err := other.Store([]uint32{3}, 0, []string{"$Work"}, 0); err != nil {
		t.Fatal(err)
	}
	c.cmd("a10 NOOP").has(`* 3 FETCH (UID 3 FLAGS ($Work \Recent) MODSEQ (7))`)
	c.cmd("a11 EXPUNGE").want("* 2 EXPUNGE", "a11 OK [HIGHESTMODSEQ 8] Expunge completed.")
}

// ENABLE CONDSTORE in the selected state sends HIGHESTMODSEQ (RFC 7162
// section 3.1).
func TestCondstoreEnableSelected(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", simpleMsg)
	c := login(t, st)
	c.cmd("b1 SELECT INBOX").ok()
	c.cmd("b2 FETCH 1 MODSEQ").want("* OK [HIGHESTMODSEQ 2] Highest", "* 1 FETCH (MODSEQ (2))", "b2 OK Fetch completed.")
	c.cmd(`b3 STORE 1 +FLAGS (\Answered)`).want(`* 1 FETCH (FLAGS (\Answered \Recent) MODSEQ (3))`, "b3 OK Store completed.")
}

// RFC 7162 section 3.2: QRESYNC — SELECT with known state, VANISHED
// (EARLIER), VANISHED instead of EXPUNGE, [CLOSED].
func TestQresync(t *testing.T) {
	st := memstore.New()
	for range 5 {
		appendMsg(t, st, "INBOX", simpleMsg)
	}
	status, _ := st.Status("INBOX")
	uv := itoa(status.UIDValidity)
	c := login(t, st)
	c.cmd("q0 SELECT INBOX (QRESYNC (" + uv + " 1))").want("q0 BAD QRESYNC not enabled.")
	c.cmd("q1 ENABLE QRESYNC").want("* ENABLED QRESYNC", "q1 OK Enable completed.")
	c.cmd("q2 SELECT INBOX").ok()
	c.cmd(`q3 STORE 2,4 +FLAGS.SILENT (\Deleted)`).want(`* 2 FETCH (MODSEQ (7))`, `* 4 FETCH (MODSEQ (7))`, "q3 OK Store completed.")
	c.cmd(`q4 STORE 1 +FLAGS.SILENT (\Flagged)`).ok()
	c.cmd("q5 EXPUNGE").want("* VANISHED 2,4", "q5 OK [HIGHESTMODSEQ 9] Expunge completed.")
	// A client that knew the mailbox at MODSEQ 6 with UIDs 1:5.
	c.cmd("q6 SELECT INBOX (QRESYNC ("+uv+" 6 1:5))").has(
		"* OK [CLOSED] Previous mailbox closed.",
		"* OK [HIGHESTMODSEQ 9] Highest",
		"* VANISHED (EARLIER) 2,4",
		`* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (8))`,
		"q6 OK [READ-WRITE] Select completed.")
	c.cmd("q7 UID FETCH 1:* FLAGS (CHANGEDSINCE 6 VANISHED)").want(
		"* VANISHED (EARLIER) 2,4",
		`* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (8))`,
		"q7 OK UID Fetch completed.")
	c.cmd("q8 FETCH 1:* FLAGS (CHANGEDSINCE 6 VANISHED)").want(
		"q8 BAD VANISHED needs UID FETCH, QRESYNC enabled and CHANGEDSINCE.")
	// A wrong UIDVALIDITY makes QRESYNC a plain SELECT.
	c.cmd("q9 EXAMINE INBOX (QRESYNC (1 6))").want(
		"* OK [CLOSED] Previous mailbox closed.",
		`* FLAGS *`, `* OK [PERMANENTFLAGS ()] Flags permitted.`, "* 3 EXISTS", "* 0 RECENT",
		"* OK [UNSEEN 1] First unseen.", "* OK [UIDVALIDITY *", "* OK [UIDNEXT 6] *", "* OK [HIGHESTMODSEQ 9] Highest",
		"q9 OK [READ-ONLY] Examine completed.")
}

func TestMissingUIDs(t *testing.T) {
	for _, tc := range []struct {
		set     string
		limit   uint32
		present []uint32
		want    string
	}{
		{"1:10", 10, []uint32{2, 3, 7}, "1,4:6,8:10"},
		{"1:*", 5, []uint32{1, 2, 3, 4, 5}, ""},
		{"5:3,2,9:*", 7, []uint32{4}, "2:3,5,7"},
		{"1:4294967295", 3, nil, "1:3"},
	} {
		set, err := parseSeqSet(tc.set)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatRanges(missingUIDs(set, tc.limit, tc.present)); got != tc.want {
			t.Errorf("missingUIDs(%q, %d, %v) = %q, want %q", tc.set, tc.limit, tc.present, got, tc.want)
		}
	}
}
