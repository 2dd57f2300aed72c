package maildir

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cote/storage"
)

// indexerStarted reports whether the store's text indexer goroutine was
// started.
func indexerStarted(s *Store) bool {
	s.s.indexerMu.Lock()
	defer s.s.indexerMu.Unlock()
	return s.s.indexerOn
}

// TestDeferTextIndexer: a store opened with DeferTextIndexer (a worker
// that only delivers) saves without starting the indexer; the saves wait
// for StartTextIndexer (the user's first session), which indexes them.
// Close stops it, and a start after Close starts nothing.
func TestDeferTextIndexer(t *testing.T) {
	setIndexMinAge(t, 0)
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{DeferTextIndexer: true})
	for _, body := range []string{"alpha zebra", "beta gamma", "delta zebra"} {
		if _, _, err := s.Append("INBOX", strings.NewReader("Subject: d\r\n\r\n"+body+"\r\n"), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if indexerStarted(s) {
		t.Fatal("indexer started by saves to a store opened with DeferTextIndexer")
	}
	if n := unindexed(t, s); n != 3 {
		t.Fatalf("%d unindexed after three deferred saves, want 3", n)
	}
	s.StartTextIndexer()
	s.StartTextIndexer() // a second start is a no-op
	if !indexerStarted(s) {
		t.Fatal("StartTextIndexer did not start the indexer")
	}
	deadline := time.Now().Add(60 * time.Second)
	for unindexed(t, s) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still unindexed after StartTextIndexer", unindexed(t, s))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, root, Options{DeferTextIndexer: true})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.StartTextIndexer()
	if indexerStarted(s) {
		t.Error("StartTextIndexer after Close started the indexer")
	}

	s = openAt(t, root, Options{DeferTextIndexer: true, NoTextIndexer: true})
	defer s.Close()
	s.StartTextIndexer()
	if indexerStarted(s) {
		t.Error("StartTextIndexer started the indexer of a store opened with NoTextIndexer")
	}
}
