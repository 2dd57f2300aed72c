package index

import (
	"bytes"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"cote/storage"
)

// The index calls of the IMAP commands in imaptest's mix, each one as the
// maildir store makes it, on a mailbox of 1,000 messages with cached
// structures. fsync is off (Options.NoSync) so that the figures are the
// CPU cost of the calls, not the disk's, except in the Durable one.

// reportCPU reports the process's CPU time (user and system) per op as
// cpu-ns/op, steadier than ns/op on a shared machine. Call it after the
// set-up, and call what it returns when the loop is done.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchIndex(b *testing.B, opts Options) (*DB, int64) {
	raw := []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n")
	return benchIndexOf(b, opts, 1000, func(uint32) ([]byte, []byte) { return raw, nil })
}

// benchIndexOf makes an index of one mailbox of n messages with cached
// structures, msg(uid) giving a message's text and the engine's encoding
// kept with it (nil: none).
func benchIndexOf(b *testing.B, opts Options, n uint32, msg func(uid uint32) (raw, wire []byte)) (*DB, int64) {
	b.Helper()
	d, _, err := Open(filepath.Join(b.TempDir(), "index.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	box := Box{Name: "INBOX", UIDValidity: 1, UIDNext: n + 1, ModSeq: 1}
	tx, err := d.Begin()
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.PutBox(&box); err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for uid := uint32(1); uid <= n; uid++ {
		raw, wire := msg(uid)
		m := Msg{UID: uid, File: fmt.Sprintf("%d.M1P1.host,S=%d:2,S", uid, len(raw)), Flags: []string{`\Seen`}, ModSeq: 1,
			InternalDate: now, SaveDate: now, Size: int64(len(raw))}
		if err := tx.PutMsg(box.ID, m); err != nil {
			b.Fatal(err)
		}
		c := ParseStructure(raw)
		c.Wire = wire
		if err := tx.PutContent(box.ID, uid, Content{Cached: c, TextLater: true}); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return d, box.ID
}

// BenchmarkStoreFlags is one STORE: the mailbox row and one message's
// flags in a transaction.
func BenchmarkStoreFlags(b *testing.B) { benchStoreFlags(b, Options{NoSync: true}) }

// BenchmarkStoreFlagsDurable is BenchmarkStoreFlags with the commit on
// disk (synchronous=FULL), as mail_fsync=optimized has it.
func BenchmarkStoreFlagsDurable(b *testing.B) { benchStoreFlags(b, Options{}) }

func benchStoreFlags(b *testing.B, opts Options) {
	d, id := benchIndex(b, opts)
	box := Box{ID: id, Name: "INBOX", UIDValidity: 1, UIDNext: 1001}
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		tx, err := d.Begin()
		if err != nil {
			b.Fatal(err)
		}
		box.ModSeq = uint64(i + 2)
		if err := tx.PutBox(&box); err != nil {
			b.Fatal(err)
		}
		flags := []string{`\Seen`}
		if i%2 == 0 {
			flags = append(flags, `\Flagged`)
		}
		uid := uint32(i%1000 + 1)
		if err := tx.SetFlags(id, uid, fmt.Sprintf("%d.M1P1.host:2,FS", uid), flags, box.ModSeq); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedRange is a FETCH of ENVELOPE or BODYSTRUCTURE for 10
// messages: one CachedRange call.
func BenchmarkCachedRange(b *testing.B) {
	d, id := benchIndex(b, Options{NoSync: true})
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		lo := uint32(i%990 + 1)
		n := 0
		if err := d.CachedRange(id, lo, lo+9, func(uint32, storage.Cached) { n++ }); err != nil {
			b.Fatal(err)
		}
		if n != 10 {
			b.Fatalf("CachedRange(%d, %d) gave %d messages, want 10", lo, lo+9, n)
		}
	}
}

// BenchmarkCachedRangeWire is one batch of a large FETCH of envelopes and
// body structures (imap's fetchBatch, 512 messages) whose rows keep the
// engine's encoding: records of a realistic size (a header of ~700 bytes,
// an encoding of ~500), as a FETCH 1:* of a big mailbox reads them.
func BenchmarkCachedRangeWire(b *testing.B) {
	wire := append([]byte{1}, bytes.Repeat([]byte("x"), 500)...)
	d, box := benchIndexOf(b, Options{NoSync: true}, 2048, func(uid uint32) ([]byte, []byte) {
		return fmt.Appendf(nil, "Received: from mx.example.org (mx.example.org [192.0.2.%d])\r\n"+
			"\tby mail.example.net with ESMTPS id %08x for <user@example.net>;\r\n\tThu, 1 Jan 2026 00:00:00 +0000\r\n"+
			"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; h=from:to:subject:date;\r\n\tbh=%064x;\r\n"+
			"From: Sender Number %d <sender%d@example.org>\r\nTo: Receiver <user@example.net>\r\n"+
			"Subject: A message of the benchmark, number %d\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"+
			"Message-ID: <%d.%08x@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody %d\r\n",
			uid%250, uid*2654435761, uid, uid, uid, uid, uid, uid*40503, uid), wire
	})
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		lo := uint32(i%3*512 + 1)
		n := 0
		if err := d.CachedRangeWire(box, lo, lo+511, 1, func(_ uint32, c storage.Cached) {
			if len(c.Wire) == 501 {
				n++
			}
		}); err != nil {
			b.Fatal(err)
		}
		if n != 512 {
			b.Fatalf("CachedRangeWire(%d, %d) gave %d encodings, want 512", lo, lo+511, n)
		}
	}
}
