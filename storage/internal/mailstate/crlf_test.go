package mailstate

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// crlfSimple is the plain definition: a CR before every LF that has
// none.
func crlfSimple(in []byte) []byte {
	var out []byte
	for i, b := range in {
		if b == '\n' && (i == 0 || in[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	return out
}

func TestCRLFReader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"\n\n", "\r\n\r\n"},
		{"a\rb\r", "a\rb\r"},
		{"a\r\r\n\n", "a\r\r\n\r\n"},
	}
	for _, tt := range tests {
		got, err := io.ReadAll(CRLFReader(strings.NewReader(tt.in)))
		if err != nil || string(got) != tt.want {
			t.Errorf("CRLFReader(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestCRLFReaderPieces reads random text through sources and buffers of
// random sizes, down to one byte, where an added CR and its LF fall into
// different reads.
func TestCRLFReaderPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab\r\n")
	for range 3000 {
		in := make([]byte, rng.IntN(10000))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		var src io.Reader = bytes.NewReader(in)
		if rng.IntN(2) == 0 {
			src = iotest.HalfReader(src)
		}
		r := CRLFReader(src)
		buf := make([]byte, 1+rng.IntN(50))
		var got []byte
		for {
			n, err := r.Read(buf[:1+rng.IntN(len(buf))])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if want := crlfSimple(in); !bytes.Equal(got, want) {
			t.Fatalf("CRLFReader(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCRLFWriterPieces writes random text in writes of random sizes,
// down to one byte, where a CR and its LF fall into different writes.
func TestCRLFWriterPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ab\r\n")
	for range 3000 {
		in := make([]byte, rng.IntN(10000))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		var out bytes.Buffer
		w := &CRLFWriter{W: &out}
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(50))
			if n, err := w.Write(rest[:k]); n != k || err != nil {
				t.Fatalf("Write = %d, %v, want %d", n, err, k)
			}
			rest = rest[k:]
		}
		want := crlfSimple(in)
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("CRLFWriter(%q) wrote %q, want %q", in, out.Bytes(), want)
		}
		if w.N != int64(len(want)) {
			t.Fatalf("CRLFWriter counted %d bytes, wrote %d", w.N, len(want))
		}
	}
}
