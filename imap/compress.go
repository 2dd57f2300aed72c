package imap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"strings"
)

// cmdCompress: COMPRESS DEFLATE, RFC 4978 section 3. After the tagged OK
// both directions are raw deflate streams (RFC 1951); output is flushed
// (a sync flush) whenever the session flushes.
func (s *session) cmdCompress(c *command) error {
	p := c.p
	p.sp()
	alg := p.atom()
	p.end()
	if p.err != nil {
		return p.err
	}
	if s.fw != nil {
		return errNo("COMPRESSIONACTIVE", "Compression is already active.")
	}
	if !strings.EqualFold(alg, "DEFLATE") {
		return errNo("CANNOT", "Unknown compression algorithm.")
	}
	c.ok("", "DEFLATE active.")
	c.after = func() error {
		if err := s.flush(); err != nil {
			return err
		}
		fw, err := flate.NewWriter(s.conn, flate.DefaultCompression)
		if err != nil {
			return err
		}
		s.fw = fw
		s.w = bufio.NewWriterSize(fw, 32*1024)
		// What the client sent after COMPRESS is compressed already.
		rest, _ := s.cr.r.Peek(s.cr.r.Buffered())
		in := io.MultiReader(bytes.NewReader(bytes.Clone(rest)), s.cr.src)
		s.cr.r = newCommandBuffer(flate.NewReader(bufio.NewReader(in)), s.o.MaxLineLength)
		return nil
	}
	return nil
}
