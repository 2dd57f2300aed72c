package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/storage"
)

// The write path and a store's first open, on small mailboxes (no
// fixture): what a first login, an LMTP delivery to a fresh user, an
// APPEND and a STORE cost in the worker. fsync is on, as in production;
// cpu-ms/op is the figure to compare.

// autoBoxes are the mailboxes a first IMAP login creates (imap's
// DefaultAutoMailboxes).
var autoBoxes = []struct{ name, use string }{
	{"Drafts", storage.AttrDrafts}, {"Sent", storage.AttrSent}, {"Trash", storage.AttrTrash},
	{"Junk", storage.AttrJunk}, {"Archive", storage.AttrArchive},
}

// BenchmarkFirstLogin opens the store of a user who has no Maildir yet,
// creates and subscribes the special-use mailboxes as a first IMAP login
// does, and closes it.
func BenchmarkFirstLogin(b *testing.B) {
	dir := b.TempDir()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		home := filepath.Join(dir, strconv.Itoa(i))
		s, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u"})
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range autoBoxes {
			if err := s.Create(x.name, []string{x.use}); err != nil {
				b.Fatal(err)
			}
			if err := s.SetSubscribed(x.name, true); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}

// BenchmarkFirstDelivery opens the store of a user who has no Maildir
// yet and saves one message into INBOX, as an LMTP delivery to a fresh
// user does.
func BenchmarkFirstDelivery(b *testing.B) {
	dir := b.TempDir()
	msg := string(benchMsg(7))
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		home := filepath.Join(dir, strconv.Itoa(i))
		s, err := Open(Options{Location: "maildir:~/Maildir", Home: home, User: "u"})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// smallStore is a store with fsync on and the background indexer
// running, as a worker has.
func smallStore(b *testing.B) storage.Store {
	b.Helper()
	s, err := Open(Options{Location: "maildir:~/Maildir", Home: b.TempDir(), User: "u"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppendSmall is a durable APPEND of a 2-20 KB message into a
// small INBOX, the indexer running as in a worker; imaptest appends in
// bursts and expunges what it appended.
func BenchmarkAppendSmall(b *testing.B) {
	s := smallStore(b)
	msgs := make([]string, 50)
	for i := range msgs {
		msgs[i] = string(benchMsg(2_000_000 + i))
	}
	b.ResetTimer()
	done := reportCPU(b)
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Append("INBOX", strings.NewReader(msgs[i%len(msgs)]), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
		if i%50 == 49 {
			expungeAll(b, s)
		}
	}
	// What the indexer does of it counts too: it runs in the worker.
	time.Sleep(indexQuiet + 2*time.Second)
	done()
}

func expungeAll(b *testing.B, s storage.Store) {
	mb, err := s.Open("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	var uids []uint32
	for _, m := range mb.Messages() {
		uids = append(uids, m.UID)
	}
	if _, err := mb.Store(uids, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := mb.Expunge(uids); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStoreSmall is STORE +/-\Flagged on one message of a small
// INBOX.
func BenchmarkStoreSmall(b *testing.B) {
	s := smallStore(b)
	for i := range 20 {
		if _, _, err := s.Append("INBOX", strings.NewReader(string(benchMsg(i))), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	mb, err := s.Open("INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	uid := mb.Messages()[3].UID
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		op := storage.FlagsAdd
		if i%2 == 1 {
			op = storage.FlagsRemove
		}
		if _, err := mb.Store([]uint32{uid}, op, []string{storage.FlagFlagged}, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// scanCount is the size of BenchmarkFirstScan's Maildir
// ($COTE_BENCH_SCAN, default 20,000).
func scanCount() int {
	if n, err := strconv.Atoi(os.Getenv("COTE_BENCH_SCAN")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// scanTemplate is a Maildir of small files with Dovecot-style names
// (S=, W=) in cur/ and no dovecot-uidlist or index, made once per run.
var scanTemplate = sync.OnceValues(func() (string, error) {
	return templateDir(fmt.Sprintf("cote-scan-%d", scanCount()), func(root string) error {
		cur := filepath.Join(root, "cur")
		if err := os.MkdirAll(cur, 0o700); err != nil {
			return err
		}
		msg := []byte("From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n")
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range scanCount() {
			date := t0.Add(time.Duration(i) * time.Minute)
			name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d:2,S", date.Unix(), i, len(msg), len(msg))
			if err := os.WriteFile(filepath.Join(cur, name), msg, 0o600); err != nil {
				return err
			}
			if err := os.Chtimes(filepath.Join(cur, name), date, date); err != nil {
				return err
			}
		}
		return nil
	})
})

// templateDir is the directory name under $COTE_BENCH_DIR (else the
// temporary directory), written by write once and kept across runs: a
// "complete" file marks it whole.
func templateDir(name string, write func(root string) error) (string, error) {
	base := os.Getenv("COTE_BENCH_DIR")
	if base == "" {
		base = os.TempDir()
	}
	root := filepath.Join(base, name)
	done := filepath.Join(root, "complete")
	if _, err := os.Stat(done); err == nil {
		return root, nil
	}
	os.RemoveAll(root)
	if err := write(root); err != nil {
		return "", err
	}
	return root, os.WriteFile(done, nil, 0o600)
}

// linkTemplate makes a Maildir at root whose cur/ holds hard links to
// the files ents of tmpl's cur/.
func linkTemplate(b *testing.B, tmpl, root string, ents []os.DirEntry) {
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	for _, e := range ents {
		if err := os.Link(filepath.Join(tmpl, "cur", e.Name()), filepath.Join(root, "cur", e.Name())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstScan is a login and the first SELECT of an INBOX of
// scanCount files that no index knows (a Maildir migrated from another
// server): the store's open, the mailbox's open and its message list.
// The files are hard links to a template, made before each op.
func BenchmarkFirstScan(b *testing.B) {
	tmpl, err := scanTemplate()
	if err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(tmpl, "cur"))
	if err != nil {
		b.Fatal(err)
	}
	var open, sel time.Duration
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "Maildir")
		linkTemplate(b, tmpl, root, ents)
		c0 := cpuTime()
		b.StartTimer()
		t0 := time.Now()
		s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1, NoTextIndexer: true})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		mb, err := s.Open("INBOX", false)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(mb.Messages()); n != len(ents) {
			b.Fatalf("%d messages, want %d", n, len(ents))
		}
		open, sel = open+t1.Sub(t0), sel+time.Since(t1)
		b.StopTimer()
		cpu += cpuTime() - c0
		mb.Close()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(open.Microseconds())/1000/float64(b.N), "open-ms/op")
	b.ReportMetric(float64(sel.Microseconds())/1000/float64(b.N), "select-ms/op")
}
