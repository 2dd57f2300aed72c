package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cote/storage"
)

func openAt(t testing.TB, root string, opts Options) *Store {
	t.Helper()
	opts.Location = "maildir:" + root
	opts.PollInterval = -1
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", root, err)
	}
	return s.(*Store)
}

const latin1Msg = "From: =?iso-8859-1?q?J=F6rg?= <j@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"Sch=F6ne Gr=FC=DFe aus K=F6ln\r\n" +
	"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
	"<html><head><style>p{color:red}</style></head><body><p>Zebra&amp;Quagga</p><script>var hidden=1;</script></body></html>\r\n" +
	"--b--\r\n"

func TestIndexReopenKeepsModSeqs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	for i := 0; i < 5; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader("Subject: x\r\n\r\nbody\r\n"), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mb, _ := s.Open("INBOX", false)
	if _, err := mb.Store([]uint32{2}, storage.FlagsAdd, []string{storage.FlagDeleted, "Work"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Expunge(nil); err != nil {
		t.Fatal(err)
	}
	before := mb.Messages()
	st1, _ := s.Status("INBOX")
	mb.Close()
	s.Close()
	if _, err := os.Stat(filepath.Join(root, IndexFile)); err != nil {
		t.Fatalf("index file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "cote-state")); err == nil {
		t.Errorf("cote-state still written")
	}

	s = openAt(t, root, Options{})
	mb, _ = s.Open("INBOX", false)
	after := mb.Messages()
	st2, _ := s.Status("INBOX")
	if st2.HighestModSeq != st1.HighestModSeq || st2.UIDNext != st1.UIDNext {
		t.Errorf("Status after reopen = %+v, want %+v", st2, st1)
	}
	if len(after) != len(before) {
		t.Fatalf("Messages after reopen = %d, want %d", len(after), len(before))
	}
	for i := range after {
		a, b := after[i], before[i]
		if a.UID != b.UID || a.ModSeq != b.ModSeq || !slices.Equal(a.Flags, b.Flags) || a.Size != b.Size ||
			!a.InternalDate.Equal(b.InternalDate) || !a.SaveDate.Equal(b.SaveDate) {
			t.Errorf("message %d after reopen = %+v, want %+v", i, a, b)
		}
	}
	ch, ok, err := mb.ChangesSince(before[0].ModSeq)
	if err != nil || !ok || !slices.Equal(ch.Expunged, []uint32{2}) {
		t.Errorf("ChangesSince after reopen = %+v, %v, %v; want UID 2 expunged", ch, ok, err)
	}
	mb.Close()
	s.Close()

	// Without the index the UIDs stay; MODSEQs start above the old ones
	// and the history no longer reaches back.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(root, IndexFile+suffix))
	}
	s = openAt(t, root, Options{})
	defer s.Close()
	mb, _ = s.Open("INBOX", false)
	defer mb.Close()
	st3, _ := s.Status("INBOX")
	if st3.UIDValidity != st1.UIDValidity || st3.UIDNext != st1.UIDNext || st3.Messages != st1.Messages {
		t.Errorf("Status after index loss = %+v, want %+v", st3, st1)
	}
	if st3.HighestModSeq <= st1.HighestModSeq {
		t.Errorf("HIGHESTMODSEQ after index loss %d, want above %d", st3.HighestModSeq, st1.HighestModSeq)
	}
	if _, ok, _ := mb.ChangesSince(st1.HighestModSeq); ok {
		t.Errorf("ChangesSince(old HIGHESTMODSEQ) ok after index loss; want a resync")
	}
	for i, m := range mb.Messages() {
		if m.UID != before[i].UID || !slices.Equal(m.Flags, before[i].Flags) || m.ModSeq <= st1.HighestModSeq {
			t.Errorf("message after index loss = %+v, was %+v", m, before[i])
		}
	}
}

func TestIndexCorruptRebuilt(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	s.Append("INBOX", strings.NewReader("Subject: a\r\n\r\nx\r\n"), storage.AppendOptions{})
	s.Close()
	os.Remove(filepath.Join(root, IndexFile+"-wal"))
	if err := os.WriteFile(filepath.Join(root, IndexFile), []byte("this is not a database, but long enough to look like one...."), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, root, Options{})
	defer s.Close()
	if st, _ := s.Status("INBOX"); st.Messages != 1 || st.UIDNext != 2 {
		t.Errorf("Status after corrupt index = %+v", st)
	}
}

func TestCachedAndSearchText(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	_, u1, err := s.Append("INBOX", strings.NewReader(latin1Msg), storage.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, u2, _ := s.Append("INBOX", strings.NewReader("Subject: plain\r\n\r\nnothing to see, Zebr\r\n"), storage.AppendOptions{})
	// A message delivered by another program is indexed when searched.
	write(t, filepath.Join(root, "new", "1800000000.M1P1.mda"), "Subject: dropped zebra\n\nquagga in the body\n")
	mbx, _ := s.Open("INBOX", false)
	defer mbx.Close()
	mb := mbx.(interface {
		storage.Mailbox
		storage.CacheMailbox
		storage.TextSearchMailbox
	})
	u3 := mb.Messages()[2].UID

	c, ok, err := mb.Cached(u1)
	if err != nil || !ok {
		t.Fatalf("Cached(%d) = %v, %v", u1, ok, err)
	}
	if len(c.Children) != 2 || !strings.Contains(string(c.Header), "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=") {
		t.Errorf("Cached = %+v", c)
	}
	raw := readMsg(t, mb, u1)
	p := c.Children[0]
	if body := raw[p.BodyStart:p.End]; body != "Sch=F6ne Gr=FC=DFe aus K=F6ln" {
		t.Errorf("part 1 body by offsets = %q", body)
	}
	if c.End != int64(len(raw)) || c.Lines != int64(strings.Count(raw[c.BodyStart:], "\n")) {
		t.Errorf("root End %d Lines %d, message %d bytes", c.End, c.Lines, len(raw))
	}
	if c3, ok, err := mb.Cached(u3); err != nil || !ok || !strings.Contains(string(c3.Header), "Subject: dropped zebra") {
		t.Errorf("Cached(dropped) = %+v, %v, %v", c3, ok, err)
	}

	tests := []struct {
		q     string
		body  bool
		want  []uint32
		exact bool
	}{
		{"schöne grüße", true, []uint32{u1}, true}, // ISO-8859-1 quoted-printable
		{"KÖLN", true, []uint32{u1}, true},
		{"zebra&quagga", true, []uint32{u1}, true}, // HTML entities decoded
		{"hidden", true, nil, true},                // script text dropped
		{"color", true, nil, true},                 // style text dropped
		{"grüße", false, []uint32{u1}, true},       // encoded-word subject, TEXT
		{"Jörg", false, []uint32{u1}, true},
		{"Jörg", true, nil, true},
		{"zebr", true, []uint32{u1, u2}, true},
		{"quagga", true, []uint32{u1, u3}, true},
		{"zebra", false, []uint32{u1, u3}, true},
		{"ze", true, []uint32{u1, u2, u3}, false}, // too short: every message
	}
	for _, tt := range tests {
		got, exact, err := mb.SearchText(tt.q, tt.body)
		if err != nil || !slices.Equal(got, tt.want) || exact != tt.exact {
			t.Errorf("SearchText(%q, %v) = %v, %v, %v; want %v, %v", tt.q, tt.body, got, exact, err, tt.want, tt.exact)
		}
	}
	// Expunged messages leave the text index.
	mb.Store([]uint32{u1}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	mb.Expunge(nil)
	if got, _, _ := mb.SearchText("quagga", true); !slices.Equal(got, []uint32{u3}) {
		t.Errorf("SearchText after expunge = %v", got)
	}
}

func readMsg(t *testing.T, mb storage.Mailbox, uid uint32) string {
	t.Helper()
	rc, err := mb.Read(uid)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

func TestQuota(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	msg := "Subject: q\r\n\r\n" + strings.Repeat("x", 986) + "\r\n" // 1002 bytes
	s := openAt(t, root, Options{QuotaRules: []string{"*:storage=3K", "*:messages=10"}})
	defer s.Close()
	var qs storage.QuotaStore = s
	for i := 0; i < 3; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			t.Fatalf("Append %d = %v", i, err)
		}
	}
	q, err := qs.Quota()
	if err != nil || q.StorageUsed != 3*1002 || q.MessagesUsed != 3 || q.StorageLimit != 3072 || q.MessageLimit != 10 {
		t.Errorf("Quota = %+v, %v", q, err)
	}
	if _, _, err := s.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); !errors.Is(err, storage.ErrOverQuota) {
		t.Errorf("Append over quota = %v, want ErrOverQuota", err)
	}
	mb, _ := s.Open("INBOX", false)
	defer mb.Close()
	s.Create("Other", nil)
	if _, err := mb.Copy([]uint32{1}, "Other"); !errors.Is(err, storage.ErrOverQuota) {
		t.Errorf("Copy over quota = %v, want ErrOverQuota", err)
	}
	mb.Store([]uint32{1, 2}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	mb.Expunge(nil)
	if q, _ := qs.Quota(); q.StorageUsed != 1002 || q.MessagesUsed != 1 {
		t.Errorf("Quota after expunge = %+v", q)
	}
	if _, err := mb.Copy([]uint32{3}, "Other"); err != nil {
		t.Errorf("Copy within quota = %v", err)
	}
	if q, _ := qs.Quota(); q.StorageUsed != 2004 || q.MessagesUsed != 2 {
		t.Errorf("Quota after copy = %+v", q)
	}
	if st, _ := s.Status("INBOX"); st.Messages != 1 {
		t.Errorf("INBOX after refused append = %+v", st)
	}
}
