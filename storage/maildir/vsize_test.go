package maildir

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"cote/storage/internal/mailstate"
)

// TestVsizeMatchesCRLFWriter: the size with CRLF line endings that a
// first scan computes for a file without W= in its name is what the
// message has when it is served (CRLFWriter), for files of LFs, CRLFs,
// lone CRs and CRs that end one read and LFs that start the next.
func TestVsizeMatchesCRLFWriter(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\r\n")
	cases := [][]byte{nil, []byte("\n"), []byte("\r\n"), []byte("\r"), []byte("a\r\r\n\n")}
	// A CR as the last byte of the first 64 KiB read, the LF after it.
	edge := make([]byte, 64<<10+10)
	for i := range edge {
		edge[i] = 'x'
	}
	edge[64<<10-1], edge[64<<10] = '\r', '\n'
	cases = append(cases, edge)
	for range 200 {
		b := make([]byte, rnd.IntN(200<<10))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		cases = append(cases, b)
	}
	for i, c := range cases {
		path := filepath.Join(dir, "m")
		if err := os.WriteFile(path, c, 0o600); err != nil {
			t.Fatal(err)
		}
		w := &mailstate.CRLFWriter{W: io.Discard}
		w.Write(c)
		got, err := vsize(path)
		if err != nil || got != w.N {
			t.Fatalf("case %d (%d bytes): vsize = %d, %v; CRLFWriter gives %d", i, len(c), got, err, w.N)
		}
	}
}
