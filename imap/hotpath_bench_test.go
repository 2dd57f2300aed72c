package imap

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"cote/storage"
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
