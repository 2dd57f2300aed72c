package pop3

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/memstore"
)

// BenchmarkRetr is one RETR of an 18 KB message (a line starting with a
// dot among its lines) over loopback, read to its terminating dot, as
// cote-bench's pop3 scenario does 1,000 times.
func BenchmarkRetr(b *testing.B) {
	st := memstore.New()
	b.Cleanup(func() { st.Close() })
	msg := "From: a@example.com\r\nSubject: retr\r\n\r\n" + strings.Repeat("a line of the body, of about the usual length for mail\r\n", 300) + ".dot\r\n"
	if _, _, err := st.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, server, Options{Store: st, User: "u", NoFlagUpdates: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		client.Close()
		cancel()
		<-done
	}()
	r := bufio.NewReaderSize(client, 64<<10)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
		b.Fatalf("greeting %q, %v", l, err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		io.WriteString(client, "RETR 1\r\n")
		if l, err := r.ReadSlice('\n'); err != nil || !bytes.HasPrefix(l, []byte("+OK")) {
			b.Fatalf("RETR: %q, %v", l, err)
		}
		for {
			l, err := r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if string(l) == ".\r\n" {
				break
			}
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}
