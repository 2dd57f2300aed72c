package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cote/storage"
)

const foreignMsg = "From: a@example.org\r\nSubject: old\r\n\r\nbody\r\n"

// writeForeign drops n messages into a mailbox directory's cur/ as
// another server would have left them, without a dovecot-uidlist.
func writeForeign(t *testing.T, dir string, n int) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	msg := foreignMsg
	date := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		name := fmt.Sprintf("%d.M%dP9.old,S=%d,W=%d:2,S", date.Unix()+int64(i), i, len(msg), len(msg))
		path := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, date, date); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenLeavesScanToFirstUse: opening the store (a login) lists no
// mailbox directory the index does not cover; the first SELECT or
// STATUS of the mailbox does, and sees every message with its flags,
// size and internal date.
func TestOpenLeavesScanToFirstUse(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	writeForeign(t, root, 40)
	writeForeign(t, filepath.Join(root, ".Old"), 5)
	s := openAt(t, root, Options{NoTextIndexer: true})
	defer s.Close()
	if s.s.scans != 0 {
		t.Errorf("Open of a Maildir without index: %d scans, want 0", s.s.scans)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Errorf("List() = %v, %v; want INBOX and Old", list, err)
	}
	st, err := s.Status("INBOX")
	if err != nil || st.Messages != 40 || st.UIDNext != 41 || st.Recent != 0 {
		t.Errorf("Status(INBOX) = %+v, %v; want 40 messages, UIDNEXT 41, none recent", st, err)
	}
	if s.s.scans != 1 {
		t.Errorf("after Status(INBOX): %d scans, want 1", s.s.scans)
	}
	mbx, err := s.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	want := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range mbx.Messages() {
		if len(m.Flags) != 1 || m.Flags[0] != storage.FlagSeen || m.Size != int64(len(foreignMsg)) || !m.InternalDate.Equal(want) {
			t.Fatalf("message %d: flags %v, size %d, date %v; want \\Seen, %d, %v", m.UID, m.Flags, m.Size, m.InternalDate, len(foreignMsg), want)
		}
	}
	if s.s.scans != 1 {
		t.Errorf("after selecting INBOX: %d scans, want 1", s.s.scans)
	}
}

// TestQuotaCountsUnscanned: a quota check counts the messages of
// mailboxes not used yet since the store opened.
func TestQuotaCountsUnscanned(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	writeForeign(t, root, 10)
	s := openAt(t, root, Options{NoTextIndexer: true, QuotaRules: []string{"*:messages=10"}})
	defer s.Close()
	q, err := s.Quota()
	if err != nil || q.MessagesUsed != 10 {
		t.Errorf("Quota() = %+v, %v; want 10 messages used", q, err)
	}
	if _, _, err := s.Append("INBOX", strings.NewReader("Subject: over\r\n\r\nx\r\n"), storage.AppendOptions{}); err == nil {
		t.Errorf("Append over a quota of 10 messages with 10 stored: no error")
	}
}

// copyTree copies a directory tree (files and directories only) but
// for lock files.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		if strings.HasSuffix(path, ".lock") {
			return nil // held by this process, as alive as the copy's
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUncleanStopRaisesModSeq: after a writer that did not close its
// store (a crash or power loss, whose last flag changes the index may
// have lost), HIGHESTMODSEQ starts above every MODSEQ it can have given,
// so none is given twice; the messages and their UIDs stay. After a
// clean close it goes on where it was.
func TestUncleanStopRaisesModSeq(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "Maildir")
	s := openAt(t, root, Options{NoTextIndexer: true})
	for range 3 {
		if _, _, err := s.Append("INBOX", strings.NewReader(foreignMsg), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mbx.Store([]uint32{2}, storage.FlagsAdd, []string{storage.FlagFlagged}, 0); err != nil {
		t.Fatal(err)
	}
	mbx.Close()
	before, err := s.Status("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "crashed")
	copyTree(t, root, crashed)
	c := openAt(t, crashed, Options{NoTextIndexer: true})
	after, err := c.Status("INBOX")
	c.Close()
	if err != nil || after.Messages != 3 || after.UIDNext != 4 || after.HighestModSeq <= before.HighestModSeq+1000 {
		t.Errorf("after an unclean stop: Status = %+v, %v; want 3 messages, UIDNEXT 4, HIGHESTMODSEQ well above %d",
			after, err, before.HighestModSeq)
	}
	s.Close()
	s = openAt(t, root, Options{NoTextIndexer: true})
	defer s.Close()
	again, err := s.Status("INBOX")
	if err != nil || again.HighestModSeq != before.HighestModSeq {
		t.Errorf("after a clean close: Status = %+v, %v; want HIGHESTMODSEQ %d", again, err, before.HighestModSeq)
	}
}
