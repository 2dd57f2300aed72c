package mailstate

import (
	"bufio"
	"bytes"
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
	for off := 0; ; {
		j := bytes.IndexByte(p[off:], '\n')
		if j < 0 {
			break
		}
		i := off + j
		off = i + 1
		if i == 0 && w.prevR || i > 0 && p[i-1] == '\r' {
			continue
		}
		if err := w.put(p[start:i]); err != nil {
			return start, err
		}
		if err := w.put([]byte("\r")); err != nil {
			return start, err
		}
		start = i
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
	pendingLF bool // a CR was added before an LF that did not fit
	prevR     bool // the last byte given out was a CR
}

// Read copies a line at a time (bytes.IndexByte), adding a CR before
// each bare LF.
func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	if c.pendingLF && len(p) > 0 {
		p[0] = '\n'
		n, c.pendingLF = 1, false
	}
	for n < len(p) {
		if c.r.Buffered() == 0 {
			if n > 0 {
				return n, nil
			}
			if _, err := c.r.Peek(1); err != nil {
				return 0, err
			}
		}
		buf, _ := c.r.Peek(c.r.Buffered())
		m := 0 // bytes of buf consumed
		for m < len(buf) && n < len(p) {
			end := len(buf)
			if i := bytes.IndexByte(buf[m:], '\n'); i >= 0 {
				end = m + i
			}
			k := copy(p[n:], buf[m:end])
			if k > 0 {
				c.prevR = buf[m+k-1] == '\r'
			}
			n, m = n+k, m+k
			if m == len(buf) || n == len(p) {
				break
			}
			// buf[m] is an LF.
			m++
			if !c.prevR {
				p[n] = '\r'
				n++
				if n == len(p) {
					c.pendingLF, c.prevR = true, false
					break
				}
			}
			p[n] = '\n'
			n++
			c.prevR = false
		}
		c.r.Discard(m)
	}
	return n, nil
}
