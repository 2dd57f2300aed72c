package mbox

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cote/storage"
)

// An mbox written by another MDA (procmail, Postfix's local): no
// Content-Length, mboxrd quoting, no cote or Dovecot headers.
const foreign = "From alice@example.com Sat Jan  1 00:00:00 2000\n" +
	"Subject: x\n\n>From quoted\n>>From twice\nFrom not at a line start after text\n\n" +
	"From bob@example.com  Sat Jan  1 10:00:01 2000\nSubject: y\nStatus: RO\nX-Status: F\n\nbody\n"

func TestParseForeign(t *testing.T) {
	data := []byte(foreign)
	msgs, bad := parse(data)
	if bad || len(msgs) != 2 {
		t.Fatalf("parse = %d messages, bad %v", len(msgs), bad)
	}
	if got := string(content(data, msgs[0])); got != "Subject: x\n\nFrom quoted\n>From twice\nFrom not at a line start after text\n" {
		t.Errorf("message 1 = %q", got)
	}
	if got := string(content(data, msgs[1])); got != "Subject: y\n\nbody\n" {
		t.Errorf("message 2 = %q", got)
	}
	if f := msgs[1].flags(); !slices.Equal(f, []string{storage.FlagSeen, storage.FlagFlagged}) {
		t.Errorf("message 2 flags = %v", f)
	}
	d, ok := fromDate(msgs[1].From)
	if !ok || !d.Equal(time.Date(2000, 1, 1, 10, 0, 1, 0, time.Local)) {
		t.Errorf("fromDate(%q) = %v, %v", msgs[1].From, d, ok)
	}
}

// TestExternalDelivery: a message another MDA appends (with the dotlock
// convention) is seen by Poll, gets the next UID, and its X-UID is
// written into the file; the foreign messages already there get UIDs
// and an X-IMAPbase on opening.
func TestExternalDelivery(t *testing.T) {
	home := t.TempDir()
	spool := filepath.Join(home, "spool")
	os.MkdirAll(spool, 0o700)
	inbox := filepath.Join(spool, "u")
	if err := os.WriteFile(inbox, []byte(foreign), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Location: "mbox:~/mail:INBOX=" + spool + "/%u", Home: home, User: "u", PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if got := mb.Messages(); len(got) != 2 || got[0].UID != 1 || got[1].UID != 2 {
		t.Fatalf("Messages = %+v", got)
	}
	rc, _ := mb.Read(1)
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "Subject: x\r\n\r\nFrom quoted\r\n>From twice\r\nFrom not at a line start after text\r\n" {
		t.Errorf("Read(1) = %q", body)
	}
	data, _ := os.ReadFile(inbox)
	if !bytes.Contains(data, []byte("X-IMAPbase: ")) || !bytes.Contains(data, []byte("X-UID: 2\n")) {
		t.Errorf("file after open lacks X-IMAPbase/X-UID:\n%s", data)
	}
	// Another MDA appends.
	f, err := os.OpenFile(inbox, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("From carol@example.com  Sun Jan  2 00:00:00 2000\nSubject: z\n\nnew\n\n")
	f.Close()
	ch, err := mb.Poll()
	if err != nil || len(ch.Updated) != 1 || ch.Updated[0].UID != 3 || !ch.Updated[0].Recent {
		t.Fatalf("Poll = %+v, %v; want new UID 3, \\Recent", ch, err)
	}
	data, _ = os.ReadFile(inbox)
	if !bytes.Contains(data, []byte("X-UID: 3\n")) {
		t.Errorf("delivered message got no X-UID:\n%s", data)
	}
	// A flag change by another program (a rewritten Status header).
	os.WriteFile(inbox, bytes.Replace(data, []byte("X-UID: 3\nStatus: \n"), []byte("X-UID: 3\nStatus: RO\n"), 1), 0o600)
	ch, err = mb.Poll()
	if err != nil || len(ch.Updated) != 1 || !slices.Contains(ch.Updated[0].Flags, storage.FlagSeen) {
		t.Errorf("Poll after external flag change = %+v, %v\n%s", ch, err, data)
	}
	if strings.Count(string(data), "From ") < 3 {
		t.Errorf("file:\n%s", data)
	}
}

// FuzzParse: the mbox parser never panics, its messages lie in order
// within the file, and writing them out as cote does and parsing again
// gives the same messages back.
func FuzzParse(f *testing.F) {
	f.Add([]byte(foreign))
	f.Add([]byte("From a  Sat Nov 28 22:59:26 2026\nX-IMAPbase: 1 0000000002 k\nX-UID: 1\nStatus: RO\nContent-Length: 5\n\nhello\n"))
	f.Add([]byte("From x\nContent-Length: 99\n\nshort\n\nFrom y\n\n"))
	f.Add([]byte("junk before\n\nFrom z  Mon Jan  1 00:00:00 2001 +0200\nX-IMAP: 1 2\n\nFOLDER INTERNAL DATA\n"))
	f.Add([]byte("From "))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, _ := parse(data)
		var prev int64
		var out bytes.Buffer
		for i, m := range msgs {
			if m.Start < prev || m.HdrStart < m.Start || m.BodyStart < m.HdrStart || m.End < min(m.BodyStart, m.End) ||
				m.End > int64(len(data)) {
				t.Fatalf("message %d offsets %+v in %d bytes", i, m, len(data))
			}
			prev = m.End
			hdr, body := split(data, m)
			writeMessage(&out, "x  Sat Jan  1 00:00:00 2000", hdr, body, uint32(i+1), m.flags(), false, nil)
			fromDate(m.From)
		}
		again, _ := parse(out.Bytes())
		if len(again) != len(msgs) {
			t.Fatalf("rewritten: %d messages, want %d\n%q", len(again), len(msgs), out.Bytes())
		}
		for i := range msgs {
			h1, b1 := split(data, msgs[i])
			if len(h1) > 0 && h1[len(h1)-1] != '\n' {
				h1 = append(h1[:len(h1):len(h1)], '\n')
			}
			h2, b2 := split(out.Bytes(), again[i])
			if !bytes.Equal(h1, h2) || !bytes.Equal(b1, b2) {
				t.Fatalf("message %d changed in rewriting: %q %q, then %q %q", i, h1, b1, h2, b2)
			}
		}
	})
}
