package imap

import (
	"fmt"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/memstore"
)

// TestFetchWholeMessages: FETCH of message after message, large and
// small, answers each with its own bytes. The responses hold the bytes
// by reference and the buffers go from message to message, so a
// smaller message after a larger one, and a literal larger than the
// session's write buffer, are what could go wrong.
func TestFetchWholeMessages(t *testing.T) {
	st := memstore.New()
	var msgs []string
	for i, size := range []int{40000, 3000, 300, 20000} {
		header := fmt.Sprintf("Subject: message %d\r\nFrom: a@example.com\r\n\r\n", i+1)
		line := strings.Repeat(string(rune('a'+i)), 70) + "\r\n"
		msg := header + strings.Repeat(line, size/len(line))
		msgs = append(msgs, msg)
		appendMsg(t, st, "INBOX", msg)
	}
	c := login(t, st)
	c.cmd("s EXAMINE INBOX").ok()
	var want []string
	for i, msg := range msgs {
		body := msg[strings.Index(msg, "\r\n\r\n")+4:]
		want = append(want, fmt.Sprintf("* %d FETCH (BODY[] %s BODY[TEXT] %s RFC822.SIZE %d)", i+1, lit(msg), lit(body), len(msg)))
	}
	c.cmd("f1 FETCH 1:4 (BODY.PEEK[] BODY.PEEK[TEXT] RFC822.SIZE)").want(append(want, "f1 OK Fetch completed.")...)
	// The other way round, and a partial of each.
	var want2 []string
	for i, msg := range msgs {
		want2 = append(want2, fmt.Sprintf("* %d FETCH (BODY[]<10> %s)", i+1, lit(msg[10:min(len(msg), 5010)])))
	}
	c.cmd("f2 FETCH 4,3,2,1 (BODY.PEEK[]<10.5000>)").want(append(want2,
		"f2 OK Fetch completed.")...)
}

// TestFetchTopOnly: for items that read no part below the top-level
// header, the message parsed only that far (fetchContent) gives the
// responses the whole parse gives, on messages of every shape.
func TestFetchTopOnly(t *testing.T) {
	itemSets := []string{
		"(BODY.PEEK[] ENVELOPE)",
		"(BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.SIZE)",
		"(RFC822.HEADER RFC822.TEXT UID)",
		"(BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[HEADER.FIELDS.NOT (Subject)] FLAGS)",
		"(BODY.PEEK[TEXT]<5.20> BODY.PEEK[HEADER]<0.10>)",
		"RFC822",
	}
	for _, raw := range []string{multipartMsg, simpleMsg, "Subject: no body\r\n", "Subject: empty body\r\n\r\n", "\r\nbody without a header\r\n"} {
		m := storage.Message{UID: 1, Size: int64(len(raw)), Flags: []string{storage.FlagSeen}}
		s := &session{mbox: bodyBox{raw: []byte(raw)}, view: newView([]storage.Message{m}, &modes{})}
		for _, set := range itemSets {
			items := parseFetchItems(&parser{b: []byte(set)})
			if len(items) == 0 {
				t.Fatalf("%s: no items", set)
			}
			for _, it := range items {
				if needsTree(it) {
					t.Fatalf("%s: %+v needs the tree", set, it)
				}
			}
			full, err := s.content(1, needRaw)
			if err != nil {
				t.Fatal(err)
			}
			top, err := s.fetchContent(1, needRaw, true)
			if err != nil {
				t.Fatal(err)
			}
			a, b := &enc{}, &enc{}
			if err := s.appendFetchResponse(a, 1, m, full, items, false); err != nil {
				t.Fatal(err)
			}
			if err := s.appendFetchResponse(b, 1, m, top, items, false); err != nil {
				t.Fatal(err)
			}
			if string(a.b) != string(b.b) {
				t.Errorf("%q on %.30q:\nwhole parse: %q\ntop only:    %q", set, raw, a.b, b.b)
			}
		}
	}
	for _, set := range []string{"BODYSTRUCTURE", "BODY", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BINARY.PEEK[]", "BODY.PEEK[1.HEADER]"} {
		items := parseFetchItems(&parser{b: []byte(set)})
		if !needsTree(items[0]) {
			t.Errorf("%s reads no part, says needsTree", set)
		}
	}
}
