package mailstate

import (
	"bufio"
	"io"
)

// CRLFWriter writes to W with every bare LF turned into CRLF, counting
// the bytes written. A CR not followed by LF is kept as is.
type CRLFWriter struct {
	W     io.Writer
	N     int64
	prevR bool
}

func (w *CRLFWriter) Write(p []byte) (int, error) {
	start := 0
	for i, c := range p {
		if c == '\n' && !(i == 0 && w.prevR || i > 0 && p[i-1] == '\r') {
			if err := w.put(p[start:i]); err != nil {
				return start, err
			}
			if err := w.put([]byte("\r")); err != nil {
				return start, err
			}
			start = i
		}
	}
	if err := w.put(p[start:]); err != nil {
		return start, err
	}
	if len(p) > 0 {
		w.prevR = p[len(p)-1] == '\r'
	}
	return len(p), nil
}

func (w *CRLFWriter) put(b []byte) error {
	n, err := w.W.Write(b)
	w.N += int64(n)
	return err
}

// CRLFReader returns a reader of r with bare LFs turned into CRLF.
func CRLFReader(r io.Reader) io.Reader {
	return &crlfReader{r: bufio.NewReader(r)}
}

type crlfReader struct {
	r         *bufio.Reader
	pendingLF bool
	prevR     bool
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.pendingLF {
			p[n] = '\n'
			n++
			c.pendingLF = false
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b == '\n' && !c.prevR {
			p[n] = '\r'
			n++
			c.pendingLF = true
			c.prevR = false
			continue
		}
		p[n] = b
		n++
		c.prevR = b == '\r'
	}
	return n, nil
}
