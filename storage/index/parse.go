package index

import (
	"bytes"
	"mime"
	"strings"

	"cote/storage"
)

// Limits of the MIME parser, against hostile nesting; the same as the
// imap engine's, so that both see the same structure.
const (
	maxMIMEDepth = 50
	maxMIMEParts = 5000
)

// ParseStructure returns the MIME structure of a message with CRLF line
// endings (RFC 2045, RFC 2046). Its splitting rules are the imap engine's
// (imap/mime.go): the CRLF before a boundary delimiter belongs to the
// delimiter, preamble and epilogue are dropped, and a missing close
// delimiter ends the last part at the end of its parent.
func ParseStructure(raw []byte) storage.Cached {
	n := 0
	return storage.Cached{Part: parsePart(raw, 0, len(raw), false, 0, &n)}
}

func parsePart(raw []byte, start, end int, inDigest bool, depth int, count *int) storage.Part {
	*count++
	hdr, bodyStart := headerEnd(raw, start, end)
	p := storage.Part{
		Start:     int64(start),
		BodyStart: int64(bodyStart),
		End:       int64(end),
		Lines:     int64(bytes.Count(raw[bodyStart:end], []byte("\n"))),
		Header:    cachedHeader(hdr),
	}
	typ, sub, boundary, ok := contentType(hdr)
	if !ok {
		typ, sub = "text", "plain"
		if inDigest {
			typ, sub = "message", "rfc822"
		}
	}
	if end > bodyStart && raw[end-1] != '\n' {
		p.Lines++ // a last line without a line ending still counts
	}
	if depth >= maxMIMEDepth || *count >= maxMIMEParts {
		return p
	}
	switch {
	case typ == "multipart":
		if boundary == "" {
			break
		}
		digest := sub == "digest"
		for _, r := range splitMultipart(raw, bodyStart, end, boundary) {
			if *count >= maxMIMEParts {
				break
			}
			p.Children = append(p.Children, parsePart(raw, r[0], r[1], digest, depth+1, count))
		}
	case typ == "message" && (sub == "rfc822" || sub == "global"):
		m := parsePart(raw, bodyStart, end, false, depth+1, count)
		p.Message = &m
	}
	return p
}

// headerEnd returns the header block of raw[start:end] and the offset
// where the body starts (after the blank line; end when there is none).
func headerEnd(raw []byte, start, end int) ([]byte, int) {
	pos := start
	for pos < end {
		next := end
		if i := bytes.IndexByte(raw[pos:end], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := raw[pos:next]
		if len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n' {
			return raw[start:pos], next
		}
		pos = next
	}
	return raw[start:end], end
}

// fields calls fn for each header field of hdr with its name and raw
// bytes (continuation lines included).
func fields(hdr []byte, fn func(name string, raw []byte)) {
	eachField(hdr, func(name, raw []byte) { fn(string(name), raw) })
}

// eachField is fields with the name as bytes of hdr: no allocation.
func eachField(hdr []byte, fn func(name, raw []byte)) {
	eachFieldSpan(hdr, func(name []byte, start, end int) { fn(name, hdr[start:end]) })
}

// eachFieldSpan is eachField with the field's raw bytes as their
// offsets in hdr.
func eachFieldSpan(hdr []byte, fn func(name []byte, start, end int)) {
	pos := 0
	fieldStart, name := -1, []byte(nil)
	flush := func(end int) {
		if fieldStart >= 0 && len(name) > 0 {
			fn(name, fieldStart, end)
		}
	}
	for pos < len(hdr) {
		next := len(hdr)
		if i := bytes.IndexByte(hdr[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := hdr[pos:next]
		if (line[0] == ' ' || line[0] == '\t') && fieldStart >= 0 {
			pos = next
			continue
		}
		flush(pos)
		fieldStart, name = pos, nil
		if i := bytes.IndexByte(line, ':'); i > 0 {
			name = bytes.TrimRight(line[:i], " \t")
		}
		pos = next
	}
	flush(len(hdr))
}

// fieldValue returns the unfolded value of a raw field.
func fieldValue(raw []byte) string {
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return ""
	}
	v := bytes.ReplaceAll(raw[i+1:], []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.Trim(string(v), " \t\r")
}

// cachedHeader returns the fields of hdr that the cache keeps
// (storage.CachedField), in one allocation for a header with up to
// len(spans) of them.
func cachedHeader(hdr []byte) []byte {
	var spans [16][2]int
	n, size := 0, 0
	eachFieldSpan(hdr, func(name []byte, start, end int) {
		if !cachedName(name) {
			return
		}
		if n < len(spans) {
			spans[n] = [2]int{start, end}
		}
		n++
		size += end - start
	})
	if n == 0 {
		return nil
	}
	if n > len(spans) {
		out := make([]byte, 0, size)
		eachField(hdr, func(name, raw []byte) {
			if cachedName(name) {
				out = append(out, raw...)
			}
		})
		return out
	}
	out := make([]byte, 0, size)
	for _, sp := range spans[:n] {
		out = append(out, hdr[sp[0]:sp[1]]...)
	}
	return out
}

// cachedName is storage.CachedField of a name in bytes; a short name is
// lower-cased on the stack, so that neither the conversion nor
// CachedField's own lower-casing allocates.
func cachedName(name []byte) bool {
	var low [32]byte
	if len(name) > len(low) {
		return storage.CachedField(string(name))
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return storage.CachedField(string(low[:len(name)]))
}

// headerGet returns the first field with the name (case-insensitive).
func headerGet(hdr []byte, name string) (string, bool) {
	var v string
	found := false
	eachField(hdr, func(n, raw []byte) {
		if !found && strings.EqualFold(string(n), name) { // no allocation: the string does not escape
			v, found = fieldValue(raw), true
		}
	})
	return v, found
}

// contentType returns the lower-cased type and subtype and the boundary
// parameter of a header's Content-Type; ok is false when it is missing
// or unusable.
func contentType(hdr []byte) (typ, sub, boundary string, ok bool) {
	v, found := headerGet(hdr, "Content-Type")
	if !found {
		return "", "", "", false
	}
	if !hasBoundary(v) {
		// No boundary parameter: the type is what both ways below
		// make of it (mime.ParseMediaType lower-cases and trims the
		// part before the first ';', and when it refuses the value
		// the fallback does the same), without parsing the other
		// parameters into a map. Most parts of most messages take
		// this way.
		t, _, _ := strings.Cut(v, ";")
		typ, sub, found = strings.Cut(strings.ToLower(strings.TrimSpace(t)), "/")
		if !found || typ == "" || sub == "" {
			return "", "", "", false
		}
		return typ, sub, "", true
	}
	return parseContentType(v)
}

// parseContentType parses a Content-Type value with
// mime.ParseMediaType, falling back to its type alone and a boundary
// found by hand when it refuses the value.
func parseContentType(v string) (typ, sub, boundary string, ok bool) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil && err != mime.ErrInvalidMediaParameter {
		// Fall back to the type alone, as lenient parsers do.
		t, _, _ := strings.Cut(v, ";")
		mt = strings.ToLower(strings.TrimSpace(t))
		params = map[string]string{}
		if i := strings.Index(asciiLower(v), "boundary="); i >= 0 {
			b := v[i+len("boundary="):]
			if strings.HasPrefix(b, `"`) {
				b, _, _ = strings.Cut(b[1:], `"`)
			} else {
				b, _, _ = strings.Cut(b, ";")
			}
			params["boundary"] = strings.TrimSpace(b)
		}
	}
	typ, sub, found := strings.Cut(mt, "/")
	if !found || typ == "" || sub == "" {
		return "", "", "", false
	}
	return typ, sub, params["boundary"], true
}

// hasBoundary reports whether a Content-Type value has "boundary" in
// it, in any case: without, neither mime.ParseMediaType nor the
// fallback of contentType finds a boundary parameter.
func hasBoundary(v string) bool {
	const b = "boundary"
	for i := 0; i+len(b) <= len(v); i++ {
		if v[i]|0x20 == 'b' && strings.EqualFold(v[i:i+len(b)], b) {
			return true
		}
	}
	return false
}

// splitMultipart returns the [start, end) ranges of the body parts
// between boundary delimiter lines (RFC 2046 section 5.1.1). The
// delimiter is looked for with bytes.Index, which skips the lines of a
// part's body at memory speed, and counts where it starts a line.
func splitMultipart(raw []byte, start, end int, boundary string) [][2]int {
	delim := []byte("--" + boundary)
	var ranges [][2]int
	partStart := -1
	pos := start
	for pos < end {
		i := bytes.Index(raw[pos:end], delim)
		if i < 0 {
			break
		}
		at := pos + i
		if at > start && raw[at-1] != '\n' {
			pos = at + 1 // within a line
			continue
		}
		next := end
		if j := bytes.IndexByte(raw[at:end], '\n'); j >= 0 {
			next = at + j + 1
		}
		rest := bytes.TrimRight(raw[at+len(delim):next], " \t\r\n")
		closing := bytes.Equal(rest, []byte("--"))
		if closing || len(rest) == 0 {
			if partStart >= 0 {
				ranges = append(ranges, [2]int{partStart, trimPrecedingNewline(raw, partStart, at)})
			}
			if closing {
				return ranges
			}
			partStart = next
		}
		pos = next
	}
	if partStart >= 0 {
		ranges = append(ranges, [2]int{partStart, end})
	}
	return ranges
}

func trimPrecedingNewline(raw []byte, min, pos int) int {
	if pos > min && raw[pos-1] == '\n' {
		pos--
		if pos > min && raw[pos-1] == '\r' {
			pos--
		}
	}
	return pos
}

// asciiLower lower-cases ASCII letters only, keeping byte offsets.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
