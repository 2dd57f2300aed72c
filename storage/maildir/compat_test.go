package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cote/storage"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dovecotMaildir writes a Maildir as Dovecot 2.3 leaves it.
func dovecotMaildir(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp", ".A&AOQ-.B/cur", ".A&AOQ-.B/new", ".A&AOQ-.B/tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	write(t, filepath.Join(root, "dovecot-uidlist"),
		"3 V1700000000 N9 Ga5ad93349a410b6b3d16000083ecc375\n"+
			"1 :1700000001.M1P1.host,S=17,W=19\n"+
			"3 W22 :1700000003.M3P3.host\n"+
			"4 P0000abcd :1700000004.M4P4.host,S=4,W=5\n"+
			"7 :1700000007.M7P7.gone\n")
	write(t, filepath.Join(root, "dovecot-keywords"), "0 $Forwarded\n1 Work\n")
	write(t, filepath.Join(root, "subscriptions"), "V\t2\n\nSent\nA\x01tx\tB\n")
	write(t, filepath.Join(root, "cur", "1700000001.M1P1.host,S=17,W=19:2,Sa"), "Subject: a\n\nbody\n")
	write(t, filepath.Join(root, "cur", "1700000003.M3P3.host:2,FRTb"), "Subject: bb\n\nbody two\n")
	write(t, filepath.Join(root, "new", "1700000004.M4P4.host,S=4,W=5"), "x\ny\n")
	write(t, filepath.Join(root, ".Sent", "maildirfolder"), "")
	write(t, filepath.Join(root, ".Sent", "dovecot-uidlist"), "3 V1600000000 N3 G00000000000000000000000000000000\n2 :1.M1P1.h\n")
	write(t, filepath.Join(root, ".Sent", "cur", "1.M1P1.h:2,S"), "Subject: s\r\n\r\n")
	return root
}

func TestDovecotMaildir(t *testing.T) {
	root := dovecotMaildir(t)
	s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s.Close()
	st, err := s.Status("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity != 1700000000 || st.UIDNext != 9 || st.Messages != 3 {
		t.Errorf("Status = %+v, want UIDVALIDITY 1700000000 UIDNEXT 9 and 3 messages", st)
	}
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	msgs := mb.Messages()
	want := []struct {
		uid   uint32
		flags []string
		size  int64
	}{
		{1, []string{storage.FlagSeen, "$Forwarded"}, 19},
		{3, []string{storage.FlagAnswered, storage.FlagDeleted, storage.FlagFlagged, "Work"}, 22},
		{4, nil, 5},
	}
	if len(msgs) != len(want) {
		t.Fatalf("Messages = %+v", msgs)
	}
	for i, w := range want {
		m := msgs[i]
		if m.UID != w.uid || m.Size != w.size || !sameSet(m.Flags, w.flags) {
			t.Errorf("message %d = UID %d size %d flags %v; want UID %d size %d flags %v", i, m.UID, m.Size, m.Flags, w.uid, w.size, w.flags)
		}
	}
	if !slices.Contains(mb.Flags(), "Work") || !slices.Contains(mb.Flags(), "$Forwarded") {
		t.Errorf("Flags() = %v", mb.Flags())
	}
	// new/ was moved into cur/.
	if _, err := os.Stat(filepath.Join(root, "cur", "1700000004.M4P4.host,S=4,W=5:2,")); err != nil {
		t.Errorf("new/ file not moved to cur/: %v", err)
	}
	// Folders, modified UTF-7 names and subscriptions.
	list, _ := s.List()
	got := map[string]storage.MailboxInfo{}
	for _, l := range list {
		got[l.Name] = l
	}
	if !got["Sent"].Subscribed || got["A&B"].Name != "" {
		t.Errorf("List = %+v", list)
	}
	if _, ok := got["Aä/B"]; !ok {
		t.Errorf("List lacks Aä/B: %+v", list)
	}
	if !got["A\tx/B"].Subscribed {
		t.Errorf("tab-escaped subscription not read: %+v", list)
	}
	if st, _ := s.Status("Sent"); st.UIDValidity != 1600000000 || st.Messages != 1 || st.UIDNext != 3 {
		t.Errorf("Sent Status = %+v", st)
	}

	// A flag change renames with sorted letters and keeps keyword letters.
	if _, err := mb.Store([]uint32{4}, storage.FlagsAdd, []string{storage.FlagDraft, "Work", "New"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cur", "1700000004.M4P4.host,S=4,W=5:2,Dbc")); err != nil {
		t.Errorf("renamed file missing: %v", err)
	}
	kw, _ := os.ReadFile(filepath.Join(root, "dovecot-keywords"))
	if string(kw) != "0 $Forwarded\n1 Work\n2 New\n" {
		t.Errorf("dovecot-keywords = %q", kw)
	}

	// Append gets UID 9 and the uidlist keeps Dovecot's format and
	// extension fields.
	_, uid, err := s.Append("INBOX", strings.NewReader("Subject: new\n\nhi\n"), storage.AppendOptions{Flags: []string{storage.FlagSeen}})
	if err != nil || uid != 9 {
		t.Fatalf("Append = %d, %v; want UID 9", uid, err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "dovecot-uidlist"))
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	// The record is appended, as Dovecot does; readers take the next UID
	// from the last record when it is past the header's.
	if lines[0] != "3 V1700000000 N9 Ga5ad93349a410b6b3d16000083ecc375" {
		t.Errorf("uidlist header = %q", lines[0])
	}
	for _, l := range []string{"1 :1700000001.M1P1.host,S=17,W=19", "3 W22 :1700000003.M3P3.host", "4 P0000abcd :1700000004.M4P4.host,S=4,W=5"} {
		if !slices.Contains(lines, l) {
			t.Errorf("uidlist lacks %q:\n%s", l, data)
		}
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "9 :") || !strings.HasSuffix(last, ",S=20,W=20") {
		t.Errorf("new uidlist line = %q", last)
	}
	// S= and W= are the stored and CRLF sizes; the file is CRLF.
	name := strings.TrimPrefix(last, "9 :") + ":2,S"
	body, err := os.ReadFile(filepath.Join(root, "cur", name))
	if err != nil || string(body) != "Subject: new\r\n\r\nhi\r\n" {
		t.Errorf("stored file %s = %q, %v", name, body, err)
	}
	if slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "gone") }) {
		t.Errorf("record of a missing file kept:\n%s", data)
	}

	// A file dropped into new/ by another program shows up on Poll.
	write(t, filepath.Join(root, "new", "1800000000.M1P9.mda"), "Subject: dropped\n\nx\n")
	ch, err := mb.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Updated) != 2 || ch.Updated[1].UID != 10 || !ch.Updated[1].Recent {
		t.Errorf("Poll after drop = %+v, want the append (9) and the drop (10, recent)", ch)
	}
	rc, err := mb.Read(10)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	n, _ := rc.Read(b)
	rc.Close()
	if string(b[:n]) != "Subject: dropped\r\n\r\nx\r\n" {
		t.Errorf("Read(10) = %q", b[:n])
	}
	// An external flag change (a rename) is picked up with a new MODSEQ.
	before := mb.Messages()[0]
	os.Rename(filepath.Join(root, "cur", "1700000001.M1P1.host,S=17,W=19:2,Sa"), filepath.Join(root, "cur", "1700000001.M1P1.host,S=17,W=19:2,FS"))
	time.Sleep(10 * time.Millisecond)
	ch, _ = mb.Poll()
	if len(ch.Updated) != 1 || ch.Updated[0].UID != 1 || ch.Updated[0].ModSeq <= before.ModSeq ||
		!sameSet(ch.Updated[0].Flags, []string{storage.FlagSeen, storage.FlagFlagged}) {
		t.Errorf("Poll after rename = %+v", ch)
	}
	// An external delete is an expunge.
	os.Remove(filepath.Join(root, "cur", "1700000001.M1P1.host,S=17,W=19:2,FS"))
	ch, _ = mb.Poll()
	if !slices.Equal(ch.Expunged, []uint32{1}) {
		t.Errorf("Poll after delete = %+v", ch)
	}
	hms := ch.HighestModSeq
	mb.Close()
	s.Close()

	// Reopen: same UIDs, MODSEQs kept.
	s2, err := Open(Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st2, _ := s2.Status("INBOX")
	if st2.UIDValidity != 1700000000 || st2.UIDNext != 11 || st2.Messages != 4 || st2.HighestModSeq != hms {
		t.Errorf("Status after reopen = %+v, want HIGHESTMODSEQ %d", st2, hms)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}
