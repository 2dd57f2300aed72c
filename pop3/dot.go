package pop3

import (
	"bufio"
	"bytes"
)

// dotWriter writes a multi-line response body (RFC 1939 section 3): every
// line end as CRLF (a bare LF gets its CR), a dot before every line that
// starts with one, and on Close the terminating ".". It works a line at a
// time (bytes.IndexByte), not a byte at a time as textproto's DotWriter
// does, and Close does not flush: the command loop flushes when no
// pipelined command waits.
type dotWriter struct {
	w         *bufio.Writer
	started   bool // anything written
	lineStart bool // the next byte begins a line
	prevCR    bool // the last byte written was a CR
}

func newDotWriter(w *bufio.Writer) *dotWriter {
	return &dotWriter{w: w, lineStart: true}
}

func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	d.started = true
	for len(p) > 0 {
		if d.lineStart && p[0] == '.' {
			d.w.WriteByte('.')
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.w.Write(p)
			d.lineStart, d.prevCR = false, p[len(p)-1] == '\r'
			break
		}
		cr := d.prevCR
		if i > 0 {
			cr = p[i-1] == '\r'
			d.w.Write(p[:i])
		}
		if cr {
			d.w.WriteByte('\n')
		} else {
			d.w.WriteString("\r\n")
		}
		d.lineStart, d.prevCR = true, false
		p = p[i+1:]
	}
	// bufio.Writer keeps its first error and returns it from every
	// later Write.
	if _, err := d.w.Write(nil); err != nil {
		return 0, err
	}
	return n, nil
}

// Close ends the body: a CRLF if the last line had none (or the body was
// empty, as textproto does), then ".".
func (d *dotWriter) Close() error {
	switch {
	case !d.started:
		d.w.WriteString("\r\n")
	case d.prevCR:
		d.w.WriteByte('\n')
	case !d.lineStart:
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}
