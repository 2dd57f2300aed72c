package maildir

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/internal/mailstate"
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
// fixture, building it when missing. The files are written straight
// into cur/ (as another MDA would deliver them, with Dovecot-style names
// carrying S= and W=, every second one \Seen) and the index is made by
// Rebuild with fsync off, which parses the structures with a worker per
// CPU and writes them in batched transactions: the build is not what is
// measured. The full-text index is left empty (it is filled by the first
// SEARCH BODY/TEXT); a copy of the index as built is kept beside the
// Maildir for BenchmarkSearchTextFirst.
var benchFixture = sync.OnceValues(func() (string, error) {
	n := benchCount()
	base := os.Getenv("COTE_BENCH_DIR")
	if base == "" {
		base = os.TempDir()
	}
	root := filepath.Join(base, fmt.Sprintf("cote-bench-%d-v2", n), "Maildir")
	done := filepath.Join(filepath.Dir(root), "complete")
	if _, err := os.Stat(done); err == nil {
		return root, nil
	}
	os.RemoveAll(filepath.Dir(root))
	start := time.Now()
	if err := writeBenchFiles(root, n); err != nil {
		return "", err
	}
	written := time.Since(start)
	res, err := Rebuild(Options{Location: "maildir:" + root, Fsync: FsyncNever})
	if err != nil {
		return "", err
	}
	if res.Messages != n || res.Parsed != n {
		return "", fmt.Errorf("rebuild: %+v, want %d messages", res, n)
	}
	if err := copyFile(filepath.Join(root, IndexFile), benchNoText(root)); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench fixture: %d messages written in %v, indexed (structure) in %v, at %s\n",
		n, written.Round(time.Second), (time.Since(start) - written).Round(time.Second), root)
	return root, os.WriteFile(done, nil, 0o600)
})

// benchNoText is the copy of the fixture's index before any text was
// indexed.
func benchNoText(root string) string { return filepath.Join(filepath.Dir(root), "index-notext.db") }

func writeBenchFiles(root string, n int) error {
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return err
		}
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		msg := benchMsg(i)
		date := t0.Add(time.Duration(i) * time.Minute)
		info := ""
		if i%2 == 0 {
			info = "S"
		}
		name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d:2,%s", date.Unix(), i%1000000, len(msg), len(msg), info)
		path := filepath.Join(root, "cur", name)
		if err := os.WriteFile(path, msg, 0o600); err != nil {
			return err
		}
		if err := os.Chtimes(path, date, date); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}

// benchOptions open the fixture without the background text indexer,
// so that it does not run during the measurements.
func benchOptions(root string) Options {
	return Options{Location: "maildir:" + root, PollInterval: -1, NoTextIndexer: true}
}

func benchStore(b *testing.B) (*Store, string) {
	b.Helper()
	root, err := benchFixture()
	if err != nil {
		b.Fatalf("fixture: %v", err)
	}
	s, err := Open(benchOptions(root))
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
	done := reportCPU(b)
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader(string(msgs[i%len(msgs)])), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	done()
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
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		s, err := Open(benchOptions(root))
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

// fetchChunk is how many UIDs one CachedBatch call asks for, as an IMAP
// engine would for a FETCH 1:* in pieces.
const fetchChunk = 5000

// fetchAll reads the cached structure (ENVELOPE and BODYSTRUCTURE data)
// of every message with CachedBatch, fetchChunk UIDs at a time.
func fetchAll(b *testing.B, mbx storage.Mailbox) int {
	return fetchAllChunk(b, mbx, fetchChunk)
}

// dropCaches empties the kernel's page cache when
// $COTE_BENCH_DROP_CACHES=1 (root only), for cold runs.
func dropCaches(b *testing.B) {
	if os.Getenv("COTE_BENCH_DROP_CACHES") != "1" {
		return
	}
	b.StopTimer()
	defer b.StartTimer()
	syncFS()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200); err != nil {
		b.Fatalf("drop caches: %v", err)
	}
}

// BenchmarkFetchEnvelopes reads the cached structure of every message of
// the open mailbox, per operation, with the index's pages warm (a
// session doing FETCH 1:* (ENVELOPE BODYSTRUCTURE) twice).
func BenchmarkFetchEnvelopes(b *testing.B) {
	s, _ := benchStore(b)
	mbx, err := s.Open("INBOX", true)
	if err != nil {
		b.Fatal(err)
	}
	defer mbx.Close()
	fetchAll(b, mbx) // warm
	b.ResetTimer()
	defer reportCPU(b)()
	n := 0
	for i := 0; i < b.N; i++ {
		n += fetchAll(b, mbx)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
}

// BenchmarkFetchEnvelopesCold is FetchEnvelopes on a store opened for
// the operation (a fresh SQLite connection and page cache, as a new
// session process has), after the kernel's page cache was dropped when
// $COTE_BENCH_DROP_CACHES=1. The open is included.
func BenchmarkFetchEnvelopesCold(b *testing.B) {
	root, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	defer reportCPU(b)()
	n := 0
	for i := 0; i < b.N; i++ {
		dropCaches(b)
		s, err := Open(benchOptions(root))
		if err != nil {
			b.Fatal(err)
		}
		mbx, err := s.Open("INBOX", true)
		if err != nil {
			b.Fatal(err)
		}
		n += fetchAll(b, mbx)
		mbx.Close()
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
}

// BenchmarkFetchEnvelopesPerMessage is FetchEnvelopes with one Cached
// call (one index query) per message, the path without CachedBatch.
func BenchmarkFetchEnvelopesPerMessage(b *testing.B) {
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
	defer reportCPU(b)()
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
// a thousand, answered from the full-text index once it is filled (the
// first search, which fills it, is not timed; see SearchTextFirst).
func BenchmarkSearchTextRare(b *testing.B) {
	mbx := openTextIndexed(b)
	mb := mbx.(storage.TextSearchMailbox)
	want := (benchCount() + benchRare/2) / benchRare
	search := func() {
		uids, exact, err := mb.SearchText(rareWord, false)
		if err != nil || !exact || len(uids) != want {
			b.Fatalf("SearchText = %d UIDs, %v, %v; want %d", len(uids), exact, err, want)
		}
	}
	search()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		search()
	}
}

// BenchmarkSearchTextFirst is the first SEARCH TEXT on the mailbox as
// it came without a text index (a migration from Dovecot), before the
// background indexer has done anything: the search reads every
// message. Each operation works on a fresh copy of the index as the
// fixture left it (copying is not timed); run it with -benchtime 1x.
func BenchmarkSearchTextFirst(b *testing.B) {
	root, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	want := (benchCount() + benchRare/2) / benchRare
	var cpu time.Duration
	defer func() { b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op") }()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		opts := benchOptions(root)
		opts.IndexPath = filepath.Join(b.TempDir(), IndexFile)
		if err := copyFile(benchNoText(root), opts.IndexPath); err != nil {
			b.Fatal(err)
		}
		s, mbx := openInbox(b, opts)
		b.StartTimer()
		cpu0 := cpuTime()
		uids, exact, err := mbx.(storage.TextSearchMailbox).SearchText(rareWord, false)
		if err != nil || !exact || len(uids) != want {
			b.Fatalf("SearchText = %d UIDs, %v, %v; want %d", len(uids), exact, err, want)
		}
		cpu += cpuTime() - cpu0
		b.StopTimer()
		mbx.Close()
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkTextIndexBuild is the background indexer's work on the
// mailbox as it came without a text index: from the store's open until
// every message's text is indexed. Each operation works on a fresh copy
// of the index as the fixture left it; the result is kept for
// BenchmarkSearchTextRare. It reports the time and the growth of the
// index file and the process's CPU time per 1,000 messages. Run it with
// -benchtime 1x.
func BenchmarkTextIndexBuild(b *testing.B) {
	root, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		opts := Options{Location: "maildir:" + root, PollInterval: -1}
		opts.IndexPath = filepath.Join(b.TempDir(), IndexFile)
		if err := copyFile(benchNoText(root), opts.IndexPath); err != nil {
			b.Fatal(err)
		}
		before := fileSize(opts.IndexPath)
		b.StartTimer()
		cpu0 := cpuTime()
		s, err := Open(opts)
		if err != nil {
			b.Fatal(err)
		}
		st := s.(*Store)
		// Mailboxes load at first use: a SELECT would scan INBOX.
		if err := st.SyncAll(); err != nil {
			b.Fatal(err)
		}
		// Wait for the indexer, looking once a second (the look takes
		// the store's lock, which the indexer needs too).
		for {
			time.Sleep(time.Second)
			more := true
			st.State.Each(func(bx *mailstate.Box) error {
				uids, err := st.s.idx.UnindexedAfter(ext(bx).row.ID, 0, 1)
				more = err != nil || len(uids) > 0
				return err
			})
			if !more {
				break
			}
		}
		b.StopTimer()
		cpu := cpuTime() - cpu0
		s.Close()
		growth := fileSize(opts.IndexPath) - before
		b.ReportMetric(cpu.Seconds()/float64(benchCount())*1000, "cpu-s/1000msgs")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchCount())*1000/1e9, "s/1000msgs")
		b.ReportMetric(float64(growth)/float64(benchCount())*1000/(1<<20), "MiB/1000msgs")
		if err := copyFile(opts.IndexPath, benchWithText(root)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func fileSize(path string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// benchWithText is a copy of the fixture's index with the text indexed.
func benchWithText(root string) string { return filepath.Join(filepath.Dir(root), "index-text.db") }

func syncFS() { syscall.Sync() }

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation (every goroutine of the
// process, the background ones included) to a benchmark's results: on
// a shared machine it moves much less with the load than the wall time.
// Call it after the setup, as b.ResetTimer.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// subjectWord is a word of the fixture's vocabulary that appears in
// about one subject in a thousand.
func subjectWord() string {
	for _, w := range benchWords() {
		if len(w) >= 8 {
			return w
		}
	}
	return benchWords()[0]
}

// BenchmarkSearchSubject is SEARCH SUBJECT for a word in about one
// subject in a thousand as the imap engine runs it: the candidates from
// the index's header words (storage.HeaderSearchMailbox), then each
// candidate's Subject from the structure cache, checked.
func BenchmarkSearchSubject(b *testing.B) {
	mbx := openTextIndexed(b)
	word := subjectWord()
	hits := 0
	search := func() {
		cand, err := mbx.(storage.HeaderSearchMailbox).SearchHeader(word)
		if err != nil {
			b.Fatal(err)
		}
		res, err := mbx.(storage.CacheBatchMailbox).CachedBatch(cand)
		if err != nil {
			b.Fatal(err)
		}
		hits = 0
		for _, r := range res {
			for _, line := range strings.Split(string(r.Cached.Header), "\r\n") {
				if len(line) > 8 && strings.EqualFold(line[:8], "subject:") && strings.Contains(strings.ToLower(line), word) {
					hits++
				}
			}
		}
	}
	search()
	b.Logf("SEARCH SUBJECT %q", word)
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		search()
	}
	b.ReportMetric(float64(hits), "hits")
}

// openTextIndexed opens the fixture's INBOX read-only on the index that
// BenchmarkTextIndexBuild filled with text; store and mailbox close with
// the benchmark.
func openTextIndexed(b *testing.B) storage.Mailbox {
	b.Helper()
	root, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	opts := benchOptions(root)
	if _, err := os.Stat(benchWithText(root)); err != nil {
		b.Fatalf("no index with text; run BenchmarkTextIndexBuild first: %v", err)
	}
	opts.IndexPath = benchWithText(root)
	s, mbx := openInbox(b, opts)
	b.Cleanup(func() { s.Close() })
	b.Cleanup(func() { mbx.Close() })
	return mbx
}

// openInbox opens the store on opts and its INBOX, read-write.
func openInbox(b *testing.B, opts Options) (storage.Store, storage.Mailbox) {
	b.Helper()
	s, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	mbx, err := s.Open("INBOX", true)
	if err != nil {
		s.Close()
		b.Fatal(err)
	}
	return s, mbx
}

// BenchmarkReadSaved reads back an 18 KB message the store saved (CRLF
// line endings, its name's W= equal to its S=), as FETCH BODY[] does.
func BenchmarkReadSaved(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "Maildir"), Options{NoTextIndexer: true})
	defer s.Close()
	raw := "Subject: x\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n", 18<<10/64)
	if _, _, err := s.Append("INBOX", strings.NewReader(raw), storage.AppendOptions{}); err != nil {
		b.Fatal(err)
	}
	mb, err := s.Open("INBOX", true)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		rc, err := mb.Read(1)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(raw)) {
			b.Fatalf("read %d bytes, %v", n, err)
		}
		rc.Close()
	}
}
