package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cote/storage"
)

// TestRebuild: with the index deleted, Rebuild gives back the same
// UIDVALIDITY, UIDNEXT, UIDs, flags and keywords from the Maildir and
// dovecot-uidlist, fills the structure cache, and signals that the
// MODSEQ history was reset (HIGHESTMODSEQ above the old one and
// ChangesSince of an old MODSEQ not ok).
func TestRebuild(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	opts := Options{Location: "maildir:" + root, PollInterval: -1}
	s := openAt(t, root, Options{})
	for i, flags := range [][]string{{storage.FlagSeen}, {"Work", storage.FlagFlagged}, nil, {"$Label1"}} {
		body := "Subject: m" + strings.Repeat("x", i) + "\r\n\r\nbody\r\n"
		if _, _, err := s.Append("INBOX", strings.NewReader(body), storage.AppendOptions{Flags: flags}); err != nil {
			t.Fatal(err)
		}
	}
	s.Create("Archive", nil)
	s.Append("Archive", strings.NewReader("Subject: a\r\n\r\nx\r\n"), storage.AppendOptions{Flags: []string{"Old"}})
	mb, _ := s.Open("INBOX", false)
	mb.Store([]uint32{3}, storage.FlagsAdd, []string{storage.FlagDeleted, "Work"}, 0)
	mb.Store([]uint32{2}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	mb.Expunge([]uint32{2})
	before := mb.Messages()
	stBefore, _ := mb.Status()
	mb.Close()
	s.Close()

	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(root, IndexFile+suffix))
	}
	res, err := Rebuild(opts)
	if err != nil {
		t.Fatalf("Rebuild = %v", err)
	}
	if res.Mailboxes != 2 || res.Messages != 4 || res.Parsed != 4 || !res.HistoryReset || res.Old != "" ||
		res.Index != filepath.Join(root, IndexFile) {
		t.Errorf("Rebuild = %+v", res)
	}

	s = openAt(t, root, Options{})
	defer s.Close()
	mb, _ = s.Open("INBOX", false)
	defer mb.Close()
	after := mb.Messages()
	if len(after) != len(before) {
		t.Fatalf("after rebuild %d messages, before %d", len(after), len(before))
	}
	for i := range before {
		a, b := after[i], before[i]
		fa, fb := slices.Clone(a.Flags), slices.Clone(b.Flags)
		slices.Sort(fa)
		slices.Sort(fb)
		if a.UID != b.UID || !slices.Equal(fa, fb) || a.Size != b.Size {
			t.Errorf("message %d after rebuild %+v, before %+v", i+1, a, b)
		}
		if _, ok, err := mb.(storage.CacheMailbox).Cached(a.UID); !ok || err != nil {
			t.Errorf("Cached(%d) after rebuild = %v, %v", a.UID, ok, err)
		}
	}
	st, _ := mb.Status()
	if st.UIDValidity != stBefore.UIDValidity || st.UIDNext != stBefore.UIDNext || st.HighestModSeq <= stBefore.HighestModSeq {
		t.Errorf("Status after rebuild %+v, before %+v", st, stBefore)
	}
	if _, ok, err := mb.ChangesSince(stBefore.HighestModSeq); ok || err != nil {
		t.Errorf("ChangesSince(old HIGHESTMODSEQ) ok = %v, %v; want false (history reset)", ok, err)
	}
	if got := mb.Flags(); !slices.Contains(got, "Work") || !slices.Contains(got, "$Label1") {
		t.Errorf("keywords after rebuild = %v", got)
	}
	if st, err := s.Status("Archive"); err != nil || st.Messages != 1 {
		t.Errorf("Archive after rebuild = %+v, %v", st, err)
	}

	// A rebuild over an existing index moves it aside.
	s.Close()
	res, err = Rebuild(opts)
	if err != nil || res.Old != filepath.Join(root, IndexFile+".old") {
		t.Errorf("second Rebuild = %+v, %v", res, err)
	}
	if _, err := os.Stat(res.Old); err != nil {
		t.Errorf("old index: %v", err)
	}
}
