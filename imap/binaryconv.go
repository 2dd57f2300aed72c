package imap

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
)

// RFC 3516 in both directions for whole MIME entities: a message
// APPENDed with binary parts is stored with those parts in base64
// (section 4.4), and BINARY of a multipart or message part, and
// URLFETCH's BINARY (RFC 5524 section 3.1), return the entity with its
// leaf parts decoded and labelled binary.

// cteOf returns a part's content transfer encoding, lower case.
func cteOf(p *part) string {
	cte, _ := p.get("Content-Transfer-Encoding")
	return strings.ToLower(strings.TrimSpace(stripComments(cte)))
}

// edit replaces raw[start:end] with b.
type edit struct {
	start, end int
	b          []byte
}

// applyEdits returns raw with the edits (not overlapping) made.
func applyEdits(raw []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	out := make([]byte, 0, len(raw))
	pos := 0
	for _, e := range edits {
		out = append(out, raw[pos:e.start]...)
		out = append(out, e.b...)
		pos = e.end
	}
	return append(out, raw[pos:]...)
}

// cteField returns the byte range of a part's Content-Transfer-Encoding
// field. Header fields are consecutive from the part's start.
func cteField(raw []byte, p *part) (start, end int, ok bool) {
	off := p.start
	for _, f := range p.header {
		if off+len(f.raw) > len(raw) || !bytes.Equal(raw[off:off+len(f.raw)], f.raw) {
			return 0, 0, false
		}
		if strings.EqualFold(f.name, "Content-Transfer-Encoding") {
			return off, off + len(f.raw), true
		}
		off += len(f.raw)
	}
	return 0, 0, false
}

// binaryUnsafe reports a body that the stores' CRLF normalisation would
// change, or that no IMAP string other than a literal8 may carry: NUL,
// a CR not before LF, an LF not after CR.
//
// Every APPEND runs it over the whole message, so it looks for the bytes
// with bytes.IndexByte and bytes.Count (vector instructions) rather than
// one byte at a time.
func binaryUnsafe(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	lfs := 0
	for rest, off := b, 0; ; lfs++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if off+i == 0 || b[off+i-1] != '\r' {
			return true
		}
		rest, off = rest[i+1:], off+i+1
	}
	// Each LF follows its own CR: any other CR is not before an LF.
	return bytes.Count(b, []byte{'\r'}) != lfs
}

// encodeBinaryParts is APPEND's side (RFC 3516 section 4.4: the server
// may encode binary parts): every leaf part labelled "binary" whose body
// the store could not keep byte for byte is rewritten as base64, so
// BINARY[part] returns exactly what the client sent. Other messages are
// returned unchanged.
func encodeBinaryParts(raw []byte) []byte {
	if !binaryUnsafe(raw) {
		return raw
	}
	var edits []edit
	var walk func(p *part)
	walk = func(p *part) {
		switch {
		case p.isMultipart():
			for _, c := range p.children {
				walk(c)
			}
		case p.isMessage():
			walk(p.msg)
		default:
			body := raw[p.bodyStart:p.end]
			if cteOf(p) != "binary" || !binaryUnsafe(body) {
				return
			}
			fs, fe, ok := cteField(raw, p)
			if !ok || fe > p.bodyStart {
				return
			}
			edits = append(edits,
				edit{fs, fe, []byte("Content-Transfer-Encoding: base64\r\n")},
				edit{p.bodyStart, p.end, base64Lines(body)})
		}
	}
	walk(parseMessage(raw))
	if len(edits) == 0 {
		return raw
	}
	return applyEdits(raw, edits)
}

// base64Lines encodes b in lines of 76 characters ending in CRLF (RFC
// 2045 section 6.8).
func base64Lines(b []byte) []byte {
	enc := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(enc, b)
	out := make([]byte, 0, len(enc)+len(enc)/76*2+2)
	for len(enc) > 76 {
		out = append(out, enc[:76]...)
		out = append(out, '\r', '\n')
		enc = enc[76:]
	}
	out = append(out, enc...)
	return append(out, '\r', '\n')
}

// binaryBody returns a part's body with content transfer encodings
// undone: a leaf's body decoded, a multipart's or message's with each
// part inside converted by binaryEntity. A leaf in an unknown encoding is
// an [UNKNOWN-CTE] error; inside a multipart or message it is left as
// it is.
func binaryBody(raw []byte, p *part) ([]byte, error) {
	return convBody(raw, p, true)
}

// binaryEntity returns a whole entity, header included, converted: a
// leaf in base64 or quoted-printable decoded, its header saying
// "Content-Transfer-Encoding: binary".
func binaryEntity(raw []byte, p *part) []byte {
	return convEntity(raw, p, true)
}

// convBody is binaryBody; relabel false keeps the header fields as they
// are (see decodedStructure).
func convBody(raw []byte, p *part, relabel bool) ([]byte, error) {
	switch {
	case p.isMessage():
		return convEntity(raw, p.msg, relabel), nil
	case p.isMultipart():
		var out []byte
		pos := p.bodyStart
		for _, c := range p.children {
			out = append(out, raw[pos:c.start]...)
			out = append(out, convEntity(raw, c, relabel)...)
			pos = c.end
		}
		return append(out, raw[pos:p.end]...), nil
	}
	return decodeCTE(cteOf(p), raw[p.bodyStart:p.end])
}

// convEntity is binaryEntity; see convBody for relabel.
func convEntity(raw []byte, p *part, relabel bool) []byte {
	header := raw[p.start:p.bodyStart]
	if !p.isMessage() && !p.isMultipart() {
		switch cteOf(p) {
		case "base64", "quoted-printable":
			fs, fe, ok := cteField(raw, p)
			if !ok || fe > p.bodyStart {
				return raw[p.start:p.end]
			}
			body, _ := decodeCTE(cteOf(p), raw[p.bodyStart:p.end])
			out := append([]byte(nil), raw[p.start:fs]...)
			if relabel {
				out = append(out, "Content-Transfer-Encoding: binary\r\n"...)
			} else {
				out = append(out, raw[fs:fe]...)
			}
			out = append(out, raw[fe:p.bodyStart]...)
			return append(out, body...)
		}
		return raw[p.start:p.end]
	}
	body, err := convBody(raw, p, relabel)
	if err != nil {
		return raw[p.start:p.end]
	}
	return append(append([]byte(nil), header...), body...)
}

// decodedStructure writes the BODYSTRUCTURE of the part at path as
// Dovecot reports it when URLFETCH asks for BINARY and
// BODYPARTSTRUCTURE together (imaptest's urlauth-binary): sizes and
// line counts (line feeds) of the decoded parts, header fields as
// written. ok is false for a part that does not exist.
func decodedStructure(e *enc, raw []byte, root *part, path []int) bool {
	conv := convEntity(raw, root, false)
	croot := parseMessage(conv)
	var lf func(p *part)
	lf = func(p *part) {
		p.lines, p.linesKnown = int64(bytes.Count(conv[p.bodyStart:p.end], []byte("\n"))), true
		for _, c := range p.children {
			lf(c)
		}
		if p.msg != nil {
			lf(p.msg)
		}
	}
	lf(croot)
	p, ok := findPart(croot, path)
	if !ok {
		return false
	}
	writeBodyStructure(e, conv, p, true)
	return true
}
