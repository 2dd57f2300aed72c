package imap

import (
	"testing"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		reply    bool
	}{
		{"Hello", "Hello", false},
		{"Re: Hello", "Hello", true},
		{"RE:  re: Fwd: Hello (fwd)", "Hello", true},
		{"[list] Re: [other] Hello", "Hello", true},
		{"[fwd: Re: Hello]", "Hello", true},
		{"[only blob]", "[only blob]", false},
		{"=?utf-8?q?Re=3A_caf=C3=A9?=", "café", true},
		{"Re:", "", true},
		{"  Spaced\t  out  ", "Spaced out", false},
	} {
		got, reply := baseSubject(tc.in)
		if got != tc.want || reply != tc.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tc.in, got, reply, tc.want, tc.reply)
		}
	}
}

// RFC 5256 SORT and THREAD, RFC 5957 SORT=DISPLAY, RFC 5267 ESORT.
func TestSortThread(t *testing.T) {
	st := memstore.New()
	add := func(hdr string) { appendMsg(t, st, "INBOX", crlf(hdr+"\n\nbody\n")) }
	add("From: Zed <a@x>\nSubject: Re: lunch\nMessage-ID: <2@x>\nReferences: <1@x>\nDate: Tue, 5 Mar 2024 12:00:00 +0000")
	add("From: b@x\nSubject: lunch\nMessage-ID: <1@x>\nDate: Tue, 5 Mar 2024 11:00:00 +0000")
	add("From: =?utf-8?q?=C3=84nne?= <c@x>\nSubject: other\nMessage-ID: <3@x>\nDate: Mon, 4 Mar 2024 11:00:00 +0000")
	add("From: d@x\nSubject: Fwd: lunch\nMessage-ID: <4@x>\nDate: Wed, 6 Mar 2024 11:00:00 +0000")
	c := login(t, st)
	c.cmd("t0 SELECT INBOX").ok()
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (FROM) UTF-8 ALL", "* SORT 1 2 3 4"},
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 3 2 4 1"}, // Änne: A + U+0308 under i;unicode-casemap,
		{"SORT (SUBJECT DATE) UTF-8 ALL", "* SORT 2 1 4 3"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 4 1 2 3"},
		{"SORT (ARRIVAL) UTF-8 SUBJECT lunch", "* SORT 1 2 4"},
		{"UID SORT (REVERSE SUBJECT) US-ASCII ALL", "* SORT 3 1 2 4"}, // ties stay in sequence order,
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t1") MIN 3 MAX 4 COUNT 4`},
		{"SORT RETURN (ALL) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t1") ALL 3,2,1,4`},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (3)(2 (1)(4))"},
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (3)(2 (1)(4))"},
		{"THREAD REFS UTF-8 ALL", "* THREAD (3)(2 1)(4)"},
		{"UID THREAD REFERENCES UTF-8 SUBJECT other", "* THREAD (3)"},
	} {
		c.cmd("t1 "+tc.cmd).want(tc.want, "t1 OK *")
	}
	c.cmd("t2 SORT (FOO) UTF-8 ALL").want(`t2 BAD Error in IMAP command SORT: unknown sort key "FOO"`)
	c.cmd("t3 THREAD X UTF-8 ALL").want("t3 BAD Unknown thread algorithm.")
	c.cmd("t4 SORT (DATE) KOI8-R ALL").want("t4 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.")
}

// FETCH answers the same from the index's cache as from the message.
func TestCachedStructureMatches(t *testing.T) {
	for _, raw := range []string{simpleMsg, multipartMsg, crlf("Subject: x\n\nno end"), crlf("Content-Type: multipart/digest; boundary=b\n\n--b\n\nFrom: a\n\nx\n--b--\n")} {
		items := []fetchItem{{kind: fetchEnvelope}, {kind: fetchBodyStructure}, {kind: fetchBody},
			{kind: fetchSection, sec: section{specifier: "HEADER.FIELDS", fields: []string{"From", "Subject"}}}}
		s := &session{view: newView(nil, &modes{})}
		c := index.ParseStructure([]byte(raw))
		a, _ := s.fetchResponse(1, storage.Message{}, msgContent{raw: []byte(raw), root: parseMessage([]byte(raw))}, items, false)
		b, _ := s.fetchResponse(1, storage.Message{}, msgContent{root: partFromCache(&c.Part, false)}, items, false)
		if string(a.b) != string(b.b) {
			t.Errorf("cached FETCH differs:\nparsed %s\ncached %s", a.b, b.b)
		}
	}
}

// RFC 9208 QUOTA on a store that counts quota (maildir with limits), and
// SEARCH BODY through its full-text index.
func TestQuotaAndTextIndex(t *testing.T) {
	st, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: t.TempDir(), User: "u",
		QuotaRules: []string{"*:storage=1M", "*:messages=100"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	appendMsg(t, st, "INBOX", simpleMsg)
	appendMsg(t, st, "INBOX", multipartMsg, storage.FlagDeleted)
	c := login(t, st)
	if l := c.cmd("q0 CAPABILITY").lines[0]; !matchLine(l, "* CAPABILITY * QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE *") {
		t.Fatalf("capabilities %q", l)
	}
	c.cmd("q1 GETQUOTAROOT INBOX").want(`* QUOTAROOT INBOX "User quota"`, `* QUOTA "User quota" (STORAGE 0 1024 MESSAGE 2 100)`, "q1 OK Getquotaroot completed.")
	c.cmd(`q2 GETQUOTA "User quota"`).want(`* QUOTA "User quota" (STORAGE 0 1024 MESSAGE 2 100)`, "q2 OK Getquota completed.")
	c.cmd(`q3 GETQUOTA "other"`).want("q3 NO [NONEXISTENT] Quota root does not exist.")
	c.cmd(`q4 SETQUOTA "User quota" (STORAGE 10)`).want("q4 NO [NOPERM] Quota limits are set by the administrator.")
	c.cmd(`q5 STATUS INBOX (DELETED-STORAGE DELETED)`).want("* STATUS INBOX (DELETED-STORAGE 1 DELETED 1)", "q5 OK Status completed.")
	c.cmd("q6 SELECT INBOX").ok()
	c.cmd(`q7 SEARCH BODY "café"`).want("* SEARCH 2", "q7 OK Search completed.")
	c.cmd(`q8 SEARCH TEXT "ar"`).want("* SEARCH 1 2", "q8 OK Search completed.")
	c.cmd(`q9 SEARCH NOT BODY "how are"`).want("* SEARCH 2", "q9 OK Search completed.")
	c.cmd("q10 FETCH 1 (ENVELOPE RFC822.SIZE)").has(`* 1 FETCH (ENVELOPE ("Tue, 5 Mar 2024 10:00:00 +0100" "Hello there" *`)
}

// FETCH over many messages reads the cached structures in batches
// (storage.CacheBatchMailbox); the answer equals the one parsed from the
// messages (memstore has no cache).
func TestBatchedCacheFetch(t *testing.T) {
	md, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: t.TempDir(), User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	mem := memstore.New()
	for i := 0; i < fetchBatch+5; i++ {
		raw := simpleMsg
		if i%2 == 1 {
			raw = multipartMsg
		}
		appendMsg(t, md, "INBOX", raw)
		appendMsg(t, mem, "INBOX", raw)
	}
	fetch := func(st storage.Store) []string {
		c := login(t, st)
		c.cmd("a SELECT INBOX").ok()
		return c.cmd("b FETCH 1:* (UID ENVELOPE BODYSTRUCTURE RFC822.SIZE)").lines
	}
	got, want := fetch(md), fetch(mem)
	if len(got) != len(want) || len(got) != fetchBatch+6 {
		t.Fatalf("FETCH gave %d lines from maildir, %d from memstore", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d differs:\nmaildir  %s\nmemstore %s", i, got[i], want[i])
		}
	}
}
