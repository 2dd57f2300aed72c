package maildir

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cote/storage"
)

func nowNanos() int64 { return time.Now().UnixNano() }

// fetchAllChunk is fetchAll asking for chunk UIDs at a time.
func fetchAllChunk(b *testing.B, mbx storage.Mailbox, chunk int) int {
	msgs := mbx.Messages()
	mb := mbx.(storage.CacheBatchMailbox)
	n := 0
	for i := 0; i < len(msgs); i += chunk {
		uids := make([]uint32, 0, chunk)
		for _, m := range msgs[i:min(i+chunk, len(msgs))] {
			uids = append(uids, m.UID)
		}
		res, err := mb.CachedBatch(uids)
		if err != nil || len(res) != len(uids) {
			b.Fatalf("CachedBatch = %d results, %v; want %d", len(res), err, len(uids))
		}
		for _, r := range res {
			if !r.OK || r.Cached.End == 0 {
				b.Fatalf("CachedBatch: UID %d has no cache", r.UID)
			}
		}
		n += len(res)
	}
	return n
}

// BenchmarkFetchEnvelopesFirst is the first FETCH of every message's
// structure on a Maildir without an index (delivered by another
// program): each operation opens the store on a new, empty index (the
// scan of cur/ is not measured) and reads the structures with
// CachedBatch in the pieces the IMAP engine asks for, which parses every
// message and writes its cache row. The fsync mode is the default one.
func BenchmarkFetchEnvelopesFirst(b *testing.B) {
	root, err := benchFixture()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var cpu, wall int64
	n := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		opts := benchOptions(root)
		opts.IndexPath = filepath.Join(dir, "index.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(opts.IndexPath + suffix)
		}
		s, mbx := openInbox(b, opts)
		b.StartTimer()
		start, c0 := nowNanos(), cpuTime()
		n += fetchAllChunk(b, mbx, 512)
		cpu += int64(cpuTime() - c0)
		wall += nowNanos() - start
		b.StopTimer()
		mbx.Close()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(cpu)/1e3/float64(n), "cpu-us/msg")
	b.ReportMetric(float64(wall)/1e3/float64(n), "us/msg")
}
