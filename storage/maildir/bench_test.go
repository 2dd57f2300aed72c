package maildir

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/storage"
)

// The benchmarks work on one large mailbox, made once per run (and kept
// across runs) in $COTE_BENCH_DIR (default: the system temp directory).
// $COTE_BENCH_MESSAGES sets its size (default 100000). They run only with
// -bench, e.g.
//
//	go test ./storage/maildir -run '^$' -bench . -benchtime 200x

// rareWord appears in one message in benchRare.
const (
	rareWord  = "xylophonically"
	benchRare = 1000
)

// benchMsg is message n of the fixture: 2-20 KB of text from a fixed
// vocabulary, a third of them multipart/alternative with an HTML part.
func benchMsg(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	words := benchWords()
	var b strings.Builder
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	fmt.Fprintf(&b, "Return-Path: <sender%d@example.org>\r\nReceived: from mx.example.org by mail.example.com; %s\r\n",
		n%97, date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\nTo: user@example.com\r\n", n%97, n%97)
	subj := make([]string, 3+r.IntN(6))
	for i := range subj {
		subj[i] = words[r.IntN(len(words))]
	}
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%d.bench@example.org>\r\nMIME-Version: 1.0\r\n",
		strings.Join(subj, " "), date.Format(time.RFC1123Z), n)
	size := 2000 + r.IntN(18000)
	var text strings.Builder
	for text.Len() < size {
		for i := 0; i < 12 && text.Len() < size; i++ {
			if i > 0 {
				text.WriteByte(' ')
			}
			text.WriteString(words[r.IntN(len(words))])
		}
		text.WriteString("\r\n")
	}
	if n%benchRare == benchRare/2 {
		text.WriteString("a " + rareWord + " remark\r\n")
	}
	if n%3 == 0 {
		b.WriteString("Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n")
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(text.String())
		b.WriteString("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>")
		b.WriteString(strings.ReplaceAll(text.String()[:len(text.String())/4], "\r\n", "</p>\r\n<p>"))
		b.WriteString("</p></body></html>\r\n--b1--\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(text.String())
	}
	return []byte(b.String())
}

var benchWordsOnce = sync.OnceValue(func() []string {
	r := rand.New(rand.NewPCG(1, 2))
	const letters = "etaoinshrdlucmfwypvbgkjqxz"
	words := make([]string, 5000)
	for i := range words {
		n := 2 + r.IntN(9)
		w := make([]byte, n)
		for j := range w {
			// Skewed toward common letters, like English.
			w[j] = letters[min(r.IntN(len(letters)), r.IntN(len(letters)))]
		}
		words[i] = string(w)
	}
	return words
})

func benchWords() []string { return benchWordsOnce() }

func benchCount() int {
	if n, err := strconv.Atoi(os.Getenv("COTE_BENCH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// benchFixture returns the root of a Maildir whose INBOX holds the
// fixture, building it when missing (with fsync off, as the build is not
// what is measured).
var benchFixture = sync.OnceValues(func() (string, error) {
	n := benchCount()
	base := os.Getenv("COTE_BENCH_DIR")
	if base == "" {
		base = os.TempDir()
	}
	root := filepath.Join(base, fmt.Sprintf("cote-bench-%d-v1", n), "Maildir")
	done := filepath.Join(filepath.Dir(root), "complete")
	if _, err := os.Stat(done); err == nil {
		return root, nil
	}
	os.RemoveAll(filepath.Dir(root))
	s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1, Fsync: FsyncNever})
	if err != nil {
		return "", err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		var flags []string
		if i%2 == 0 {
			flags = []string{storage.FlagSeen}
		}
		if _, _, err := s.Append("INBOX", strings.NewReader(string(benchMsg(i))), storage.AppendOptions{Flags: flags}); err != nil {
			s.Close()
			return "", err
		}
	}
	saved := time.Since(start)
	// The first search fills the full-text index.
	mb, err := s.Open("INBOX", true)
	if err != nil {
		return "", err
	}
	if _, _, err := mb.(storage.TextSearchMailbox).SearchText(rareWord, true); err != nil {
		return "", err
	}
	mb.Close()
	if err := s.Close(); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench fixture: %d messages saved in %v, text indexed in %v, at %s\n",
		n, saved.Round(time.Second), (time.Since(start) - saved).Round(time.Second), root)
	return root, os.WriteFile(done, nil, 0o600)
})

func benchStore(b *testing.B) (*Store, string) {
	b.Helper()
	root, err := benchFixture()
	if err != nil {
		b.Fatalf("fixture: %v", err)
	}
	s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s.(*Store), root
}

// BenchmarkSave appends to the large mailbox with fsync on (each Append
// is durable when it returns); it saves into a separate mailbox of the
// same user so the fixture's INBOX stays the same size.
func BenchmarkSave(b *testing.B) {
	s, _ := benchStore(b)
	s.Create("Bench", nil)
	msgs := make([][]byte, 100)
	for i := range msgs {
		msgs[i] = benchMsg(1_000_000 + i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader(string(msgs[i%len(msgs)])), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Take the saved messages out again.
	mb, _ := s.Open("INBOX", false)
	all := mb.Messages()
	var extra []uint32
	for _, m := range all[benchCount():] {
		extra = append(extra, m.UID)
	}
	mb.Store(extra, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	mb.Expunge(extra)
	mb.Close()
}

// BenchmarkOpenSelect opens the user's store and selects the mailbox:
// Open, Mailbox open and the message list.
func BenchmarkOpenSelect(b *testing.B) {
	root, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		mb, err := s.Open("INBOX", false)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(mb.Messages()); n < benchCount() {
			b.Fatalf("%d messages", n)
		}
		mb.Close()
		s.Close()
	}
}

// BenchmarkFetchEnvelopes reads the cached structure (ENVELOPE and
// BODYSTRUCTURE data) of every message of the mailbox, per operation.
func BenchmarkFetchEnvelopes(b *testing.B) {
	s, _ := benchStore(b)
	mbx, err := s.Open("INBOX", true)
	if err != nil {
		b.Fatal(err)
	}
	defer mbx.Close()
	mb := mbx.(storage.CacheMailbox)
	msgs := mbx.Messages()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			if _, ok, err := mb.Cached(m.UID); err != nil || !ok {
				b.Fatalf("Cached(%d) = %v, %v", m.UID, ok, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}

// BenchmarkFlagChange sets and clears \Flagged on one message at a time
// (STORE of one UID, durable on return).
func BenchmarkFlagChange(b *testing.B) {
	s, _ := benchStore(b)
	mb, err := s.Open("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	msgs := mb.Messages()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uid := msgs[(i/2*7919)%len(msgs)].UID
		op := storage.FlagsAdd
		if i%2 == 1 {
			op = storage.FlagsRemove
		}
		if _, err := mb.Store([]uint32{uid}, op, []string{storage.FlagFlagged}, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchTextRare is SEARCH TEXT for a word in one message in
// a thousand, answered from the full-text index.
func BenchmarkSearchTextRare(b *testing.B) {
	s, _ := benchStore(b)
	mbx, err := s.Open("INBOX", true)
	if err != nil {
		b.Fatal(err)
	}
	defer mbx.Close()
	mb := mbx.(storage.TextSearchMailbox)
	want := (benchCount() + benchRare/2) / benchRare
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uids, exact, err := mb.SearchText(rareWord, false)
		if err != nil || !exact || len(uids) != want {
			b.Fatalf("SearchText = %d UIDs, %v, %v; want %d", len(uids), exact, err, want)
		}
	}
}
