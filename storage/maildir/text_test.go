package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/internal/mailstate"
)

// unindexed returns how many messages of INBOX wait for the text index.
func unindexed(t *testing.T, s *Store) int {
	t.Helper()
	n := -1
	err := s.State.Each(func(b *mailstate.Box) error {
		if b.Name != "INBOX" {
			return nil
		}
		todo, _, err := s.s.idx.Unindexed(ext(b).row.ID)
		n = len(todo)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// setIndexMinAge sets indexMinAge for one test.
func setIndexMinAge(t *testing.T, d time.Duration) {
	prev := indexMinAge
	indexMinAge = d
	t.Cleanup(func() { indexMinAge = prev })
}

// TestTextIndexer: the background indexer indexes saved and delivered
// messages, and until it has, SEARCH reads what is not indexed and gives
// the same answer.
func TestTextIndexer(t *testing.T) {
	setIndexMinAge(t, 0)
	root := filepath.Join(t.TempDir(), "Maildir")
	for i, body := range []string{"alpha zebra&quagga", "beta gamma", "delta zebra"} {
		write(t, filepath.Join(root, "cur", "17000000"+string(rune('0'+i))+".M1P1.mda:2,"), "Subject: m\n\n"+body+"\n")
	}
	s := openAt(t, root, Options{NoTextIndexer: true})
	s.s.syncText = 0 // read instead of indexing in the search
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	ts := mbx.(storage.TextSearchMailbox)
	search := func(stage string) {
		t.Helper()
		for _, tt := range []struct {
			q    string
			want []uint32
		}{
			{"zebra", []uint32{1, 3}},
			{"zebra&qua", []uint32{1}},
			{"amm", []uint32{2}},
			{"BETA GAMMA", []uint32{2}},
			{"epsilon", nil},
		} {
			got, exact, err := ts.SearchText(tt.q, true)
			if err != nil || !exact || !slices.Equal(got, tt.want) {
				t.Errorf("%s: SearchText(%q) = %v, %v, %v; want %v", stage, tt.q, got, exact, err, tt.want)
			}
		}
	}
	search("nothing indexed")
	if n := unindexed(t, s); n != 3 {
		t.Errorf("%d unindexed after a search that reads, want 3", n)
	}
	mbx.Close()
	s.Close()

	s = openAt(t, root, Options{})
	defer s.Close()
	if _, _, err := s.Append("INBOX", strings.NewReader("Subject: saved\r\n\r\npedestrian crossing\r\n"), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for unindexed(t, s) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still unindexed", unindexed(t, s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mbx, err = s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	ts = mbx.(storage.TextSearchMailbox)
	if got, exact, err := ts.SearchText("crossing", false); err != nil || !exact || !slices.Equal(got, []uint32{4}) {
		t.Errorf("SearchText(crossing) = %v, %v, %v", got, exact, err)
	}
	search("indexed")
	hs := mbx.(storage.HeaderSearchMailbox)
	if got, err := hs.SearchHeader("save"); err != nil || !slices.Equal(got, []uint32{4}) {
		t.Errorf("SearchHeader(save) = %v, %v", got, err)
	}
	if got, err := hs.SearchHeader("m"); err != nil || len(got) != 4 {
		t.Errorf("SearchHeader(m) = %v, %v; want every message", got, err)
	}
}

// TestOpenWithoutScan: a mailbox whose directories did not change since
// the index rows were written opens from the index alone; a change by
// another program is found by the scan it causes.
func TestOpenWithoutScan(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{NoTextIndexer: true})
	for i := 0; i < 3; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader("Subject: x\r\n\r\nbody\r\n"), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// The stamps are trusted only when the directories' mtimes are
	// older than stampMargin when they are taken.
	time.Sleep(stampMargin + 100*time.Millisecond)
	s = openAt(t, root, Options{NoTextIndexer: true})
	s.Status("INBOX")
	if s.s.scans == 0 {
		t.Errorf("first use after the saves: no scan")
	}
	s.Close()
	s = openAt(t, root, Options{NoTextIndexer: true})
	st, _ := s.Status("INBOX")
	if s.s.scans != 0 {
		t.Errorf("open of an unchanged mailbox: %d scans, want none", s.s.scans)
	}
	if st.Messages != 3 || st.UIDNext != 4 {
		t.Errorf("Status = %+v", st)
	}
	s.Close()

	// A flag set by hand.
	ents, _ := os.ReadDir(filepath.Join(root, "cur"))
	name := ents[0].Name()
	if err := os.Rename(filepath.Join(root, "cur", name), filepath.Join(root, "cur", name+"F")); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, root, Options{NoTextIndexer: true})
	defer s.Close()
	mbx, _ := s.Open("INBOX", true)
	defer mbx.Close()
	if s.s.scans == 0 {
		t.Errorf("open after a change: no scan")
	}
	flagged := 0
	for _, m := range mbx.Messages() {
		if slices.Contains(m.Flags, storage.FlagFlagged) {
			flagged++
		}
	}
	if flagged != 1 {
		t.Errorf("%d messages \\Flagged after the rename, want 1", flagged)
	}
}

// TestTextIndexerWaitsForAge: a saved message's text is indexed only
// once it has been in the mailbox for indexMinAge, by a round the
// indexer starts by itself when that time comes; a message that was
// already old (found in the Maildir with an old date) is indexed by the
// first round; a search meanwhile finds the young one all the same.
func TestTextIndexerWaitsForAge(t *testing.T) {
	setIndexMinAge(t, 3*indexQuiet)
	root := filepath.Join(t.TempDir(), "Maildir")
	old := filepath.Join(root, "cur", "1700000000.M1P1.mda:2,")
	write(t, old, "Subject: old\n\nancient manuscript\n")
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, root, Options{})
	defer s.Close()
	saved := time.Now()
	if _, _, err := s.Append("INBOX", strings.NewReader("Subject: new\r\n\r\nfresh parchment\r\n"), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	// The first round comes indexQuiet after the save and takes the
	// old message only.
	for unindexed(t, s) != 1 {
		if time.Since(saved) > indexMinAge {
			t.Fatalf("%d unindexed %v after the save; want the old message indexed and the new one left", unindexed(t, s), time.Since(saved))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	ts := mbx.(storage.TextSearchMailbox)
	s.s.syncText = 0 // read the young message rather than index it
	if got, exact, err := ts.SearchText("parchment", false); err != nil || !exact || !slices.Equal(got, []uint32{2}) {
		t.Errorf("SearchText(parchment) before its text is indexed = %v, %v, %v; want [2]", got, exact, err)
	}
	if n := unindexed(t, s); n != 1 || time.Since(saved) > indexMinAge {
		t.Fatalf("%d unindexed %v after the save, want 1 (the check came too late if past %v)", n, time.Since(saved), indexMinAge)
	}
	deadline := saved.Add(indexMinAge + indexQuiet + 10*time.Second)
	for unindexed(t, s) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the saved message is still unindexed %v after its save", time.Since(saved))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("indexed %v after its save", time.Since(saved))
	if time.Since(saved) < indexMinAge {
		t.Errorf("the saved message was indexed %v after its save, before indexMinAge (%v)", time.Since(saved), indexMinAge)
	}
	if got, exact, err := ts.SearchText("parchment", false); err != nil || !exact || !slices.Equal(got, []uint32{2}) {
		t.Errorf("SearchText(parchment) from the index = %v, %v, %v; want [2]", got, exact, err)
	}
}
