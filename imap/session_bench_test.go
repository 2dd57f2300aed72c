package imap

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/memstore"
)

// benchSession serves a session on loopback over st and returns the
// client's end, logged in.
func benchSession(b *testing.B, st storage.Store) (net.Conn, *bufio.Reader) {
	b.Helper()
	client, server := loopback(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := Options{Store: st, User: "bench", Tag: "L", NoAutoMailboxes: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { done <- Serve(ctx, server, o) }()
	b.Cleanup(func() {
		client.Close()
		cancel()
		<-done
	})
	r := bufio.NewReader(client)
	benchUntil(b, r, "L ")
	return client, r
}

// benchUntil reads responses through the one tagged tag (with its
// space), literals included, and fails on a tagged NO or BAD.
func benchUntil(b *testing.B, r *bufio.Reader, tag string) {
	b.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		if n, ok := trailingLiteral(strings.TrimSuffix(line, "\r\n")); ok {
			if _, err := r.Discard(n); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if strings.HasPrefix(line, tag) {
			if !strings.HasPrefix(line[len(tag):], "OK") {
				b.Fatalf("%s", line)
			}
			return
		}
	}
}

func benchCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSessionMix runs the commands of imaptest's default mix, one
// round per operation, against a memstore, so that what it measures is
// the engine (parser, responses, untagged updates) and the loopback
// socket: LIST, STATUS, NOOP, FETCH of flags and of headers and body,
// STORE, APPEND, STORE \Deleted and EXPUNGE on a mailbox of 100.
func BenchmarkSessionMix(b *testing.B) {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: bench\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n" + strings.Repeat("body line of text\r\n", 100)
	for range 100 {
		if _, _, err := st.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	benchMix(b, st, msg)
}

// benchMix runs BenchmarkSessionMix's round of commands on a session of
// st, whose INBOX has at least 100 messages, saving msg in each round,
// and reports the process's CPU time per round.
func benchMix(b *testing.B, st storage.Store, msg string) {
	conn, r := benchSession(b, st)
	run := func(tag, cmd string) {
		if _, err := io.WriteString(conn, tag+" "+cmd+"\r\n"); err != nil {
			b.Fatal(err)
		}
		benchUntil(b, r, tag+" ")
	}
	run("s", "SELECT INBOX")
	appendCmd := "APPEND INBOX (\\Seen) {" + strconv.Itoa(len(msg)) + "+}\r\n" + msg
	b.ReportAllocs()
	cpu0 := benchCPU()
	for b.Loop() {
		run("a", `LIST "" *`)
		run("b", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)")
		run("c", "NOOP")
		run("d", "FETCH 1:* (UID FLAGS)")
		run("e", "UID FETCH 1:20 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject Date)])")
		run("f", "FETCH 50 (BODY.PEEK[])")
		run("g", `STORE 1:10 +FLAGS (\Flagged)`)
		run("h", `STORE 1:10 -FLAGS (\Flagged)`)
		run("i", appendCmd)
		run("j", `STORE 100 +FLAGS.SILENT (\Deleted)`)
		run("k", "EXPUNGE")
	}
	b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
}

// bigSession opens a session on a memstore INBOX of n small messages
// and returns a function that runs one command to its tagged answer.
func bigSession(b *testing.B, n int) func(tag, cmd string) {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	for range n {
		if _, _, err := st.Append("INBOX", strings.NewReader("Subject: x\r\n\r\nx\r\n"), storage.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	conn, r := benchSession(b, st)
	return func(tag, cmd string) {
		if _, err := io.WriteString(conn, tag+" "+cmd+"\r\n"); err != nil {
			b.Fatal(err)
		}
		benchUntil(b, r, tag+" ")
	}
}

// BenchmarkSessionNoopBig is a NOOP in a session that has selected a
// mailbox of 20,000 messages, which nothing changes: the per-command poll
// for untagged updates.
func BenchmarkSessionNoopBig(b *testing.B) {
	run := bigSession(b, 20000)
	run("s", "SELECT INBOX")
	b.ReportAllocs()
	cpu0 := benchCPU()
	for b.Loop() {
		run("n", "NOOP")
	}
	b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
}

// BenchmarkSessionSelectBig is a SELECT of a mailbox of 100,000 messages
// that the store already has open, as a client's second session does.
func BenchmarkSessionSelectBig(b *testing.B) {
	run := bigSession(b, 100000)
	b.ReportAllocs()
	cpu0 := benchCPU()
	for b.Loop() {
		run("s", "SELECT INBOX")
	}
	b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
}

// BenchmarkSessionFetchFew is a FETCH of ENVELOPE and BODYSTRUCTURE for
// a few messages, as a client's message list or imaptest's FETCH does:
// one batch of cached structures, read without a goroutine.
func BenchmarkSessionFetchFew(b *testing.B) {
	run := bigSession(b, 100)
	run("s", "SELECT INBOX")
	b.ReportAllocs()
	cpu0 := benchCPU()
	for b.Loop() {
		run("f", "FETCH 41:50 (UID FLAGS ENVELOPE BODYSTRUCTURE)")
	}
	b.ReportMetric(float64(benchCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
}
