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
	"testing"

	"cote/storage/maildir"
	"cote/storage/memstore"
)

// BenchmarkSessionMixMaildir is BenchmarkSessionMix against a Maildir
// store with its index (fsync as mail_fsync=optimized, no text
// indexer), on a mailbox of 100 messages of 2-20 KB: the store's part of
// imaptest's mix (flag changes, saves and expunges committed to the
// index, cached structures read from it). It reports the process's CPU
// time per round of eleven commands.
func BenchmarkSessionMixMaildir(b *testing.B) {
	root := filepath.Join(b.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		name := fmt.Sprintf("%d.M%dP1.bench:2,", 1700000000+i, i)
		if err := os.WriteFile(filepath.Join(root, "cur", name), fetchBenchMsg(i), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	st, err := maildir.Open(maildir.Options{Location: "maildir:" + root, PollInterval: -1, NoTextIndexer: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	benchMix(b, st, string(fetchBenchMsg(7)))
}

// BenchmarkSessionStart is a session from its handoff to LOGOUT on a
// memory store, SELECT in between: what each login of imaptest's
// default mix costs the engine (its buffers included).
func BenchmarkSessionStart(b *testing.B) {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	o := Options{Store: st, User: "bench", Tag: "L", NoAutoMailboxes: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.ReportAllocs()
	for b.Loop() {
		client, server := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- Serve(context.Background(), server, o) }()
		r := bufio.NewReader(client)
		benchUntil(b, r, "L ")
		io.WriteString(client, "s SELECT INBOX\r\nz LOGOUT\r\n")
		benchUntil(b, r, "s ")
		benchUntil(b, r, "z ")
		client.Close()
		<-done
	}
}
