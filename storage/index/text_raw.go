package index

import (
	"bytes"
	"mime"
	"strings"
)

// A SEARCH TEXT or BODY over messages the full-text index does not cover
// yet reads each of them, and for a rare word almost none contains it.
// Decoding a message into its text (ExtractText) costs many times the
// read; RawFilter tells from the raw bytes alone that most of them cannot
// contain the query, and leaves the others to ExtractText and
// TextMatches, which decide.
//
// It answers "certainly not" only when every step from the raw bytes to
// the text keeps each run of the query's characters a run of the raw
// bytes (up to ASCII case), or breaks it only at places it checks. For
// a folded query of printable ASCII other than ':', '<' and '&':
//
//   - the raw bytes are ASCII: a non-ASCII character can fold to ASCII
//     ("ﬁ" to "fi"), and an 8-bit charset converts to other bytes;
//   - there is no "=?": no encoded-word (RFC 2047) in any header field,
//     nested messages' and parameters' included;
//   - header fields become "Name: value" lines, unfolded: the query has
//     no white space, line break or colon to span the joins;
//   - no field that go-message could read as Content-Transfer-Encoding
//     says base64 or quoted-printable, unless it heads a part whose one
//     Content-Type is neither text/*, message/* nor multipart/* (an
//     attachment: its body is not searched);
//   - no Content-Type names a charset other than a few that map ASCII to
//     itself (UTF-16, UTF-7 and ISO-2022 hide ASCII text);
//   - when a Content-Type mentions HTML, the message has no '&' (a
//     character reference can stand for any character), and no tag or
//     comment (which the text leaves out, joining what is around it)
//     comes between the start of the query and its next byte;
//   - the text is about as long as the raw bytes with CRLF line ends (a
//     part or a field can add a byte or two, where its raw bytes hold
//     more that the text does not), which are at most twice raw: a
//     message that Excludes takes (up to MaxText/4) never has a text
//     over MaxText, which a search takes as a candidate;
//   - a CR added before a bare LF changes none of the above: lines end
//     at the LF, and the query has no CR.
type RawFilter struct {
	fq []byte // the folded query; nil when the filter cannot decide
	// rare is the offset in fq of the byte looked for first: the one
	// least common in mail text.
	rare int
	// ends lists, for each byte in lower case, the lengths of the proper
	// prefixes of fq that end with it: a '<' after one of them may join
	// the start of fq to its rest.
	ends [256][]int
}

// NewRawFilter compiles query for Excludes.
func NewRawFilter(query string) *RawFilter {
	f := &RawFilter{}
	fq := Fold(query)
	if fq == "" {
		return f
	}
	for i := 0; i < len(fq); i++ {
		c := fq[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == '<' || c == '&' {
			return f
		}
	}
	f.fq = []byte(fq)
	best := -1
	for i := 0; i < len(fq); i++ {
		if s := byteRarity(fq[i]); s > best {
			f.rare, best = i, s
		}
	}
	for k := 1; k < len(fq); k++ {
		f.ends[fq[k-1]] = append(f.ends[fq[k-1]], k)
	}
	return f
}

// letterFrequency lists the letters from the most to the least common in
// English text.
const letterFrequency = "etaoinsrhldcumfpgwybvkxjqz"

// byteRarity scores how rare a byte of a folded query is in mail text.
func byteRarity(c byte) int {
	if i := strings.IndexByte(letterFrequency, c); i >= 0 {
		return i
	}
	switch {
	case '0' <= c && c <= '9':
		return 12
	case c == '.' || c == ',' || c == '-' || c == '\'':
		return 0
	}
	return 20
}

// Excludes reports whether the text of raw (ExtractText of raw with its
// bare LFs made CRLF: raw may have either line end) certainly does not
// contain the query: TextMatches is false for it, in the body and in
// the header. false means that it may.
func (f *RawFilter) Excludes(raw []byte) bool {
	if f.fq == nil || len(raw) > MaxText/4 || !isASCII(raw) {
		return false
	}
	if f.containedIn(raw) || bytes.Contains(raw, []byte("=?")) {
		return false
	}
	html, ok := plainParts(raw)
	if !ok {
		return false
	}
	if html {
		if bytes.IndexByte(raw, '&') >= 0 || f.joinedAtTag(raw) {
			return false
		}
	}
	return true
}

// containedIn reports whether raw contains the query, in any ASCII case.
func (f *RawFilter) containedIn(raw []byte) bool {
	n, at := len(f.fq), f.rare
	lo := f.fq[at]
	up := lo
	if 'a' <= lo && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	// The candidates are where fq's rare byte is, in either case; the
	// next of each case is kept so that raw is scanned once for each.
	nextLo, nextUp := -1, -1
	for from := at; from < len(raw); {
		if nextLo < from {
			nextLo = indexByteAt(raw, lo, from)
		}
		if nextUp < from {
			nextUp = indexByteAt(raw, up, from)
		}
		i := min(nextLo, nextUp)
		if i >= len(raw) || i-at+n > len(raw) {
			return false
		}
		// The first byte rules out most candidates before the rest is
		// compared (base64 text has every letter).
		if asciiLowerByte(raw[i-at]) == f.fq[0] && bytes.EqualFold(raw[i-at:i-at+n], f.fq) {
			return true
		}
		from = i + 1
	}
	return false
}

// indexByteAt is bytes.IndexByte of b[from:], as an index of b; len(b)
// when there is none.
func indexByteAt(b []byte, c byte, from int) int {
	i := bytes.IndexByte(b[from:], c)
	if i < 0 {
		return len(b)
	}
	return from + i
}

// joinedAtTag reports whether the HTML text may join a proper prefix of
// the query to its rest at some '<' of raw: the prefix ends there, and
// after the tags and comments that start there (none of which stands
// for a separator) comes the next byte of the query. htmlText would
// find the same tags from there, when it takes that '<' for the start
// of one.
func (f *RawFilter) joinedAtTag(raw []byte) bool {
	for i := bytes.IndexByte(raw, '<'); i >= 0; {
		if i > 0 {
			next := -1 // the offset of the text after the tags; -1: not known yet
			for _, k := range f.ends[asciiLowerByte(raw[i-1])] {
				if k > i || !bytes.EqualFold(raw[i-k:i], f.fq[:k]) {
					continue
				}
				if next == -1 {
					next = afterTags(raw, i)
				}
				if next == len(raw)+1 || next < len(raw) && asciiLowerByte(raw[next]) == f.fq[k] {
					return true
				}
			}
		}
		j := bytes.IndexByte(raw[i+1:], '<')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// afterTags returns the offset of the text after the HTML tags and
// comments at raw[i:] as htmlText reads them; len(raw) when a tag stands
// for a separator or the text ends in them, len(raw)+1 when they hold a
// script or style (its end is not looked for).
func afterTags(raw []byte, i int) int {
	for i < len(raw) && raw[i] == '<' {
		if bytes.HasPrefix(raw[i:], []byte("<!--")) {
			end := bytes.Index(raw[i:], []byte("-->"))
			if end < 0 {
				return len(raw)
			}
			i += end + 3
			continue
		}
		end := bytes.IndexByte(raw[i:], '>')
		if end < 0 {
			return len(raw)
		}
		inner := bytes.TrimLeft(raw[i+1:i+end], "/")
		// The names that matter are short: 16 bytes tell them.
		tag := htmlTagName(string(inner[:min(len(inner), 16)]))
		if htmlSkipsContent(tag) {
			return len(raw) + 1
		}
		if htmlTagSep(tag) != 0 {
			return len(raw)
		}
		i += end + 1
	}
	return i
}

// plainParts looks at every field that go-message could read as a
// Content-Type or Content-Transfer-Encoding (wherever it is: headers of
// parts and of nested messages included) and reports whether the text
// parts are all kept as they are (identity transfer encoding, a charset
// that maps ASCII to itself), and whether a Content-Type mentions HTML.
// Such a field is a name at the start of a line (after blanks, which
// go-message trims) followed by a colon (after blanks and line breaks):
// the colons are found first, as they are few.
func plainParts(raw []byte) (html, ok bool) {
	for c := bytes.IndexByte(raw, ':'); c >= 0; {
		end := c // the end of the name
		for end > 0 && isBlankOrBreak(raw[end-1]) {
			end--
		}
		switch {
		case keyAt(raw, end, "content-transfer-encoding"):
			if v, _ := fieldValueAt(raw, end); hidingEncoding(v) && !attachmentAt(raw, lineStart(raw, end)) {
				return html, false
			}
		case keyAt(raw, end, "content-type"):
			v, _ := fieldValueAt(raw, end)
			if containsFold(v, "html") {
				html = true
			}
			if !plainCharsets(v) {
				return html, false
			}
		}
		i := bytes.IndexByte(raw[c+1:], ':')
		if i < 0 {
			break
		}
		c += i + 1
	}
	return html, true
}

func isBlankOrBreak(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// keyAt reports whether raw[:end] ends with name (lower case) in any
// ASCII case, after the start of a line and blanks.
func keyAt(raw []byte, end int, name string) bool {
	start := end - len(name)
	if start < 0 || !hasPrefixFold(raw[start:end], name) {
		return false
	}
	for start > 0 && (raw[start-1] == ' ' || raw[start-1] == '\t') {
		start--
	}
	return start == 0 || raw[start-1] == '\n'
}

// lineStart returns the start of the line that holds raw[i].
func lineStart(raw []byte, i int) int { return bytes.LastIndexByte(raw[:i], '\n') + 1 }

// fieldValueAt returns the value of a field whose name ends at pos, up
// to the end of its last continuation line; field is false when no
// colon follows the name (blanks and line breaks aside: go-message
// trims the name of a field with continuation lines).
func fieldValueAt(raw []byte, pos int) (v []byte, field bool) {
	for pos < len(raw) && (raw[pos] == ' ' || raw[pos] == '\t' || raw[pos] == '\r' || raw[pos] == '\n') {
		pos++
	}
	if pos >= len(raw) || raw[pos] != ':' {
		return nil, false
	}
	start := pos + 1
	end := start
	for {
		i := bytes.IndexByte(raw[end:], '\n')
		if i < 0 {
			return raw[start:], true
		}
		end += i + 1
		if end >= len(raw) || raw[end] != ' ' && raw[end] != '\t' {
			return raw[start:end], true
		}
	}
}

// hidingEncoding reports whether a Content-Transfer-Encoding value may be
// one that go-message decodes.
func hidingEncoding(v []byte) bool {
	var b [len("quoted-printable") + 1]byte
	n := 0
	for _, c := range v {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if n == len(b) {
			return false // longer than either
		}
		b[n] = asciiLowerByte(c)
		n++
	}
	s := string(b[:n])
	return s == "base64" || s == "quoted-printable"
}

// plainCharsets reports whether every charset parameter a Content-Type
// value may have maps ASCII to itself.
func plainCharsets(v []byte) bool {
	for {
		i := indexFold(v, "charset")
		if i < 0 {
			return true
		}
		v = v[i+len("charset"):]
		j := skipBlanks(v, 0)
		if j < len(v) && v[j] == '*' {
			return false // RFC 2231: continued or encoded
		}
		if j >= len(v) || v[j] != '=' {
			continue // not a parameter name
		}
		j = skipBlanks(v, j+1)
		quoted := j < len(v) && v[j] == '"'
		if quoted {
			j++
		}
		k := j
		for k < len(v) && isCharsetByte(v[k]) {
			k++
		}
		switch {
		case quoted && (k >= len(v) || v[k] != '"'):
			return false // an escape or an odd character inside
		case !quoted && k < len(v) && v[k] != ';' && !isMIMESpace(v[k]):
			return false // a longer token than read here
		}
		if !plainCharset(v[j:k]) {
			return false
		}
		v = v[k:]
	}
}

func isCharsetByte(c byte) bool {
	return isASCIIWordByte(c) || c == '-' || c == '_' || c == '.' || c == ':'
}

// skipBlanks returns the offset of the first byte of v from j on that
// mime.ParseMediaType does not skip as space (unicode.IsSpace: the ASCII
// ones).
func skipBlanks(v []byte, j int) int {
	for j < len(v) && isMIMESpace(v[j]) {
		j++
	}
	return j
}

func isMIMESpace(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

// plainCharset reports whether go-message's conversion from charset name
// leaves ASCII text as it is.
func plainCharset(name []byte) bool {
	switch strings.ToLower(string(name)) {
	case "us-ascii", "utf-8", "utf8", "iso-8859-1", "iso-8859-15", "windows-1252", "latin1":
		return true
	}
	return false
}

// attachmentAt reports whether the Content-Transfer-Encoding field on
// the line at ls certainly heads a part that is not searched: a part
// whose one Content-Type is neither text, a message nor a multipart.
//
// The header that holds the field, as go-message reads it, starts after
// a boundary line ("--") or at the start of a message (after a blank
// line or at the start of raw) and ends at a blank line; it lies in the
// run of non-blank lines around the field, and holds the lines from the
// nearest line above that starts with "--" (a boundary, or a field whose
// name starts so) to the end of the run. If the run has one Content-Type
// field and it is in that part, it is the part's.
func attachmentAt(raw []byte, ls int) bool {
	runTop, partTop := ls, -1
	for runTop > 0 {
		ps := bytes.LastIndexByte(raw[:runTop-1], '\n') + 1
		line := raw[ps:runTop]
		if isBlankLine(line) {
			break
		}
		if partTop < 0 && bytes.HasPrefix(line, []byte("--")) {
			partTop = runTop
		}
		runTop = ps
	}
	if partTop < 0 {
		partTop = runTop
	}
	typeAt, types := -1, 0
	for p := runTop; p < len(raw); {
		next := len(raw)
		if i := bytes.IndexByte(raw[p:], '\n'); i >= 0 {
			next = p + i + 1
		}
		line := raw[p:next]
		if isBlankLine(line) {
			break
		}
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if hasPrefixFold(line[i:], "content-type") {
			j := i + len("content-type")
			for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
			if j == len(line) || line[j] == ':' || line[j] == '\r' || line[j] == '\n' {
				types++
				typeAt = p
				if i > 0 {
					return false
				}
			}
		}
		p = next
	}
	if types != 1 || typeAt < partTop {
		return false
	}
	line := raw[typeAt:]
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		end = len(line)
	} else if end+1 < len(line) && (line[end+1] == ' ' || line[end+1] == '\t') {
		return false // continued: read by go-message otherwise
	}
	line = bytes.TrimSuffix(line[:end], []byte("\r"))
	colon := bytes.IndexByte(line, ':')
	if colon < 0 || len(bytes.TrimRight(line[:colon], " \t")) != len("content-type") {
		return false
	}
	typ, _, err := mime.ParseMediaType(string(bytes.Trim(line[colon+1:], " \t")))
	if err != nil || typ == "" {
		return false
	}
	for _, p := range []string{"text/", "message/", "multipart/"} {
		if strings.HasPrefix(typ, p) {
			return false
		}
	}
	return true
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// hasPrefixFold is bytes.HasPrefix in any ASCII case; prefix is lower case.
func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if asciiLowerByte(b[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// indexFold is bytes.Index in any ASCII case; s is lower case and
// starts with a letter.
func indexFold(b []byte, s string) int {
	lo, up := s[0], s[0]-'a'+'A'
	for i := 0; i+len(s) <= len(b); i++ {
		if (b[i] == lo || b[i] == up) && hasPrefixFold(b[i:], s) {
			return i
		}
	}
	return -1
}

func containsFold(b []byte, s string) bool { return indexFold(b, s) >= 0 }
