package imap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cote/storage/maildir"
)

// The FETCH benchmarks below run a whole session (parser, engine, store,
// socket) over loopback against a Maildir of $COTE_BENCH_MESSAGES
// messages (default 2000) of 2-20 KB, a third multipart, made in the
// benchmark's temp directory, and send what cote-bench's fetch scenario
// sends: SELECT INBOX, then FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE
// RFC822.SIZE). They report the CPU time of the whole process per
// message (client included), which moves less with the machine's load
// than the wall time.
//
//	COTE_BENCH_MESSAGES=20000 go test ./imap -run '^$' -bench FetchAllMaildir -benchtime 3x

func fetchBenchCount() int {
	if n, err := strconv.Atoi(os.Getenv("COTE_BENCH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// fetchBenchMsg is message n of the benchmark's Maildir.
func fetchBenchMsg(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <s%d@example.org>\r\nReceived: from mx.example.org by mail.example.com; Mon, 1 Jan 2024 00:00:00 +0000\r\n", n)
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\nTo: user@example.com, \"Other, Person\" <other@example.net>\r\n", n%97, n%97)
	fmt.Fprintf(&b, "Subject: message number %d about things\r\nDate: Mon, 1 Jan 2024 %02d:%02d:00 +0000\r\nMessage-ID: <%d.bench@example.org>\r\nMIME-Version: 1.0\r\n", n, n/60%24, n%60, n)
	line := "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\r\n"
	text := strings.Repeat(line, (2000+(n*7919)%18000)/len(line))
	if n%3 == 0 {
		b.WriteString("Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n")
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text)
		b.WriteString("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + text[:len(text)/4] + "</p></body></html>\r\n--b1--\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text)
	}
	return []byte(b.String())
}

// fetchBenchMaildir writes the benchmark's Maildir under dir.
func fetchBenchMaildir(b *testing.B, dir string) string {
	root := filepath.Join(dir, "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for i := range fetchBenchCount() {
		name := fmt.Sprintf("%d.M%dP1.bench:2,S", 1700000000+i, i)
		if err := os.WriteFile(filepath.Join(root, "cur", name), fetchBenchMsg(i), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// fetchBenchSession serves one session on the store and returns its
// client side, logged in.
func fetchBenchSession(b *testing.B, root, index string) (net.Conn, *bufio.Reader, func()) {
	store, err := maildir.Open(maildir.Options{Location: "maildir:" + root, IndexPath: index, PollInterval: -1, NoTextIndexer: true})
	if err != nil {
		b.Fatal(err)
	}
	client, server := loopback(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, server, Options{Store: store, User: "bench", Tag: "L", NoAutoMailboxes: true,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	r := bufio.NewReaderSize(client, 64<<10)
	fetchBenchUntil(b, r, "L ")
	return client, r, func() {
		client.Close()
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Serve: %v", err)
		}
		store.Close()
	}
}

// fetchBenchUntil reads responses up to the one starting with prefix
// and returns the bytes read; literals are skipped over.
func fetchBenchUntil(b *testing.B, r *bufio.Reader, prefix string) int {
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		n += len(line)
		if err == bufio.ErrBufferFull {
			continue // a long response line: the rest follows
		}
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		if strings.HasPrefix(string(line), prefix) {
			if !strings.HasPrefix(string(line[len(prefix):]), "OK") {
				b.Fatalf("reply %q", line)
			}
			return n
		}
		if l := len(line); l >= 3 && line[l-3] == '}' {
			if i := strings.LastIndexByte(string(line), '{'); i >= 0 {
				k, _ := strconv.Atoi(string(line[i+1 : l-3]))
				m, err := r.Discard(k)
				n += m
				if err != nil {
					b.Fatalf("read literal: %v", err)
				}
			}
		}
	}
}

func fetchBenchSelect(b *testing.B, conn net.Conn, r *bufio.Reader) {
	if _, err := io.WriteString(conn, "s SELECT INBOX\r\n"); err != nil {
		b.Fatal(err)
	}
	fetchBenchUntil(b, r, "s ")
}

func fetchBenchAll(b *testing.B, conn net.Conn, r *bufio.Reader) int {
	if _, err := io.WriteString(conn, "f FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)\r\n"); err != nil {
		b.Fatal(err)
	}
	return fetchBenchUntil(b, r, "f ")
}

// fetchBenchWarm starts a session on the benchmark's Maildir, selects
// INBOX and fetches every structure once, so that all are in the
// index's cache; it returns the session and the number of messages. The
// session ends with the benchmark.
func fetchBenchWarm(b *testing.B) (net.Conn, *bufio.Reader, int) {
	dir := b.TempDir()
	root := fetchBenchMaildir(b, dir)
	conn, r, stop := fetchBenchSession(b, root, filepath.Join(dir, "index.db"))
	b.Cleanup(stop)
	fetchBenchSelect(b, conn, r)
	fetchBenchAll(b, conn, r)
	return conn, r, fetchBenchCount()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFetchAllMaildirFirst is the first FETCH: each operation opens
// the store on a new index, so every message is parsed for the cache.
func BenchmarkFetchAllMaildirFirst(b *testing.B) { benchFetchAllMaildir(b, true) }

// BenchmarkFetchAllMaildirRepeated is a FETCH in a new session of the
// same store, every structure in the index's cache.
func BenchmarkFetchAllMaildirRepeated(b *testing.B) { benchFetchAllMaildir(b, false) }

func benchFetchAllMaildir(b *testing.B, first bool) {
	dir := b.TempDir()
	root := fetchBenchMaildir(b, dir)
	n := fetchBenchCount()
	index := filepath.Join(dir, "index.db")
	if !first {
		conn, r, stop := fetchBenchSession(b, root, index)
		fetchBenchSelect(b, conn, r)
		fetchBenchAll(b, conn, r)
		stop()
	}
	var cpu time.Duration
	bytes := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if first {
			index = filepath.Join(dir, fmt.Sprintf("index%d.db", i))
		}
		conn, r, stop := fetchBenchSession(b, root, index)
		fetchBenchSelect(b, conn, r)
		b.StartTimer()
		c0 := processCPU()
		bytes += fetchBenchAll(b, conn, r)
		cpu += processCPU() - c0
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-us/msg")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "us/msg")
	b.ReportMetric(float64(bytes)/float64(b.N*n), "B/msg")
}

// BenchmarkSearchSubjectMaildir is SEARCH SUBJECT for a rare word over
// the benchmark's Maildir, every structure in the index's cache and the
// text index off (the index does not narrow the search): each message's
// Subject comes from its cached structure.
func BenchmarkSearchSubjectMaildir(b *testing.B) {
	conn, r, n := fetchBenchWarm(b)
	var cpu time.Duration
	for b.Loop() {
		c0 := processCPU()
		if _, err := io.WriteString(conn, "q SEARCH SUBJECT \"number 1234 \"\r\n"); err != nil {
			b.Fatal(err)
		}
		fetchBenchUntil(b, r, "q ")
		cpu += processCPU() - c0
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-us/msg")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "us/msg")
}

// BenchmarkFetchRecentMaildir is a client polling the newest messages: a
// FETCH of the last 20 messages' envelopes and structures, again and
// again in one session, every structure in the index's cache (and, with
// the store's memory cache, in memory after the first).
func BenchmarkFetchRecentMaildir(b *testing.B) {
	conn, r, n := fetchBenchWarm(b)
	cmd := fmt.Sprintf("f FETCH %d:%d (UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)\r\n", n-19, n)
	c0 := processCPU()
	for b.Loop() {
		if _, err := io.WriteString(conn, cmd); err != nil {
			b.Fatal(err)
		}
		fetchBenchUntil(b, r, "f ")
	}
	b.ReportMetric(float64((processCPU()-c0).Microseconds())/float64(b.N), "cpu-us/op")
}
