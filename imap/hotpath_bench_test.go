package imap

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/index"
)

// bodyBox is a mailbox whose every message is raw, read back in the 4 KB
// pieces a file gives.
type bodyBox struct {
	storage.Mailbox
	raw []byte
}

func (b bodyBox) Read(uint32) (io.ReadCloser, error) {
	return io.NopCloser(&pieceReader{r: bytes.NewReader(b.raw)}), nil
}

type pieceReader struct{ r io.Reader }

func (p *pieceReader) Read(b []byte) (int, error) {
	if len(b) > 4096 {
		b = b[:4096]
	}
	return p.r.Read(b)
}

// BenchmarkFetchBodyRead reads an 18 KB message (the average of imaptest's
// mailbox) for FETCH BODY[] or a search of its text.
func BenchmarkFetchBodyRead(b *testing.B) {
	raw := []byte("Subject: x\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n", 18<<10/64))
	m := storage.Message{UID: 7, Size: int64(len(raw))}
	s := &session{mbox: bodyBox{raw: raw}, view: newView([]storage.Message{m}, &modes{})}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		got, err := s.readMessage(7)
		if err != nil || len(got) != len(raw) {
			b.Fatalf("readMessage = %d bytes, %v; want %d", len(got), err, len(raw))
		}
	}
}

// BenchmarkFetchEncodeBatch encodes FETCH (UID FLAGS RFC822.SIZE
// ENVELOPE BODYSTRUCTURE) for a batch of fetchBatch cached multipart
// messages as cmdFetch does: prepareBatch, then each response into one
// buffer. "kept" has the encodings the index keeps (a repeated FETCH),
// "encoded" makes them from the cached structure.
func BenchmarkFetchEncodeBatch(b *testing.B) {
	items := []fetchItem{{kind: fetchUID}, {kind: fetchFlags}, {kind: fetchSize}, {kind: fetchEnvelope}, {kind: fetchBodyStructure}}
	for _, kept := range []bool{false, true} {
		name := map[bool]string{false: "encoded", true: "kept"}[kept]
		b.Run(name, func(b *testing.B) { benchFetchBatch(b, items, kept) })
	}
}

// BenchmarkFetchHeaderFieldsBatch is FETCH of imaptest's header fields
// beside ENVELOPE, from records whose encodings the index kept: the
// structure prepareBatch builds for the BODY[HEADER.FIELDS] section.
func BenchmarkFetchHeaderFieldsBatch(b *testing.B) {
	items := parseFetchItems(&parser{b: []byte("(UID ENVELOPE BODY.PEEK[HEADER.FIELDS (From To Subject)])")})
	benchFetchBatch(b, items, true)
}

// benchFetchBatch answers FETCH items for a batch of fetchBatch cached
// multipart messages as cmdFetch does (prepareBatch, then each response
// into one buffer), with the encodings the index keeps when kept.
func benchFetchBatch(b *testing.B, items []fetchItem, kept bool) {
	raw := []byte(multipartMsg)
	s := &session{view: newView(nil, &modes{})}
	c := index.ParseStructure(raw)
	if kept {
		c.Wire = encodeWire(&c.Part)
	}
	res := make([]storage.CachedResult, fetchBatch)
	for i := range res {
		res[i] = storage.CachedResult{UID: uint32(i + 1), Cached: c, OK: true}
	}
	resp := &enc{}
	b.ReportAllocs()
	for b.Loop() {
		batch := prepareBatch(res, items)
		for i := range res {
			m := storage.Message{UID: uint32(i + 1), Flags: []string{storage.FlagSeen}, Size: int64(len(raw))}
			resp.b = append(resp.b[:0], "* "...)
			if err := s.appendFetchResponse(resp, uint32(i+1), m, *batch[m.UID], items, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fetchBatch), "ns/msg")
}
