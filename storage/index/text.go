package index

import (
	"bytes"
	"html"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// MaxText bounds the decoded text of one message in the full-text index;
// a message with more is not indexed (SEARCH scans it).
const MaxText = 4 << 20

// MaxParse bounds the size of a message the index parses for its cache
// and text at save time.
const MaxParse = 64 << 20

// Text is a message's searchable text: the decoded header fields and the
// decoded text of its text parts.
type Text struct {
	Header string
	Body   string
}

// Analyze parses a message (CRLF line endings) into what the index
// keeps of it.
func Analyze(raw []byte) Content {
	c := Content{Cached: ParseStructure(raw)}
	if t, ok := ExtractText(raw); ok {
		c.Text = &t
		w, wok := PrepareText(t)
		c.Words, c.WordsOK = &w, wok
	}
	return c
}

func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: charset.Reader}
}

// ExtractText returns the searchable text of a message: every header
// field of the message as "Name: value" with RFC 2047 encoded-words
// decoded, and the text of every text/* part with its transfer encoding
// undone, converted to UTF-8 from its charset (go-message's charset
// package), HTML reduced to its text. Non-text parts (attachments) are
// not searched, as in Dovecot's fts. ok is false when the text is over
// MaxText.
func ExtractText(raw []byte) (Text, bool) { return extractText(raw, 0) }

func extractText(raw []byte, depth int) (Text, bool) {
	hdr, _ := headerEnd(raw, 0, len(raw))
	var t Text
	var hb strings.Builder
	dec := wordDecoder()
	fields(hdr, func(name string, fraw []byte) {
		v := fieldValue(fraw)
		if strings.Contains(v, "=?") {
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
		}
		hb.WriteString(name)
		hb.WriteString(": ")
		hb.WriteString(v)
		hb.WriteByte('\n')
	})
	t.Header = validUTF8(hb.String())

	// The text is about as long as the message, and one part's body at
	// most: both are allocated once at that size (bounded: a message
	// may be mostly an attachment) rather than grown by doubling.
	grow := min(len(raw), maxTextGrow)
	var sb strings.Builder
	sb.Grow(grow)
	var part bytes.Buffer
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil || err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		_, bodyStart := headerEnd(raw, 0, len(raw))
		sb.Write(raw[bodyStart:])
	} else {
		ent.Walk(func(_ []int, e *message.Entity, err error) error {
			if e == nil || e.MultipartReader() != nil {
				return nil
			}
			typ, _, perr := e.Header.ContentType()
			if perr != nil && typ == "" || !e.Header.Has("Content-Type") {
				typ = "text/plain"
			}
			if !strings.HasPrefix(typ, "text/") && typ != "message/rfc822" && typ != "message/global" {
				return nil
			}
			part.Reset()
			part.Grow(grow)
			_, _ = part.ReadFrom(io.LimitReader(e.Body, MaxText+1))
			body := part.Bytes()
			switch typ {
			case "text/html":
				sb.WriteString(htmlText(body))
			case "message/rfc822", "message/global":
				// go-message does not descend into an encapsulated
				// message: its header and text are searched as part of
				// the body (RFC 9051 section 6.4.4).
				if depth < maxMIMEDepth {
					if inner, ok := extractText(body, depth+1); ok {
						sb.WriteString(inner.Header)
						sb.WriteString(inner.Body)
					}
				}
			default:
				sb.Write(body)
			}
			sb.WriteByte('\n')
			if sb.Len() > MaxText {
				return io.EOF
			}
			return nil
		})
	}
	if sb.Len()+len(t.Header) > MaxText {
		return Text{}, false
	}
	t.Body = validUTF8(sb.String())
	return t, true
}

// maxTextGrow bounds the buffers extractText allocates ahead.
const maxTextGrow = 256 << 10

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// htmlText reduces HTML to its text: tags are dropped, script and style
// contents skipped, block ends become line breaks and character
// references are decoded.
func htmlText(b []byte) string {
	var out strings.Builder
	s := string(b)
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			out.WriteString(html.UnescapeString(s))
			break
		}
		out.WriteString(html.UnescapeString(s[:i]))
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				break
			}
			s = s[end+3:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			break
		}
		tag := htmlTagName(s[1:end])
		s = s[end+1:]
		if htmlSkipsContent(tag) {
			closeTag := "</" + tag
			if j := strings.Index(asciiLower(s), closeTag); j >= 0 {
				s = s[j:]
				if k := strings.IndexByte(s, '>'); k >= 0 {
					s = s[k+1:]
				}
			}
		} else if sep := htmlTagSep(tag); sep != 0 {
			out.WriteByte(sep)
		}
	}
	return out.String()
}

// htmlTagName returns the name, in lower case, of the HTML tag with
// inner between its '<' and '>'.
func htmlTagName(inner string) string {
	tag := strings.ToLower(strings.TrimLeft(inner, "/"))
	if n := strings.IndexAny(tag, " \t\r\n/"); n >= 0 {
		tag = tag[:n]
	}
	return tag
}

// htmlSkipsContent reports whether the text leaves out what an element
// holds: script and style.
func htmlSkipsContent(tag string) bool { return tag == "script" || tag == "style" }

// htmlTagSep returns what the text has in place of a tag: a line break
// for one that ends a block, a space for a table cell, 0 for nothing.
func htmlTagSep(tag string) byte {
	switch tag {
	case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote":
		return '\n'
	case "td", "th":
		return ' '
	}
	return 0
}

// MinQuery is the shortest query, in characters, the index answers;
// shorter ones match too many words to narrow a search.
const MinQuery = 3

// maxTermMatches bounds the vocabulary words one part of a query may
// stand for; a part that matches more does not narrow the search.
const maxTermMatches = 1000

// Words is a message's text as the full-text index keeps it: the
// distinct folded words of its header and of its body, each list
// separated by spaces.
type Words struct {
	Hdr, Body string
	// Terms are the distinct words of both.
	Terms []string
}

// PrepareText folds a message's text and collects its words, the work
// of indexing that needs no database. ok is false when the text has a
// word over MaxTerm: such a message is searched by reading it.
func PrepareText(t Text) (w Words, ok bool) {
	// About one distinct word in 16 bytes of text.
	seen := make(map[string]uint8, (len(t.Header)+len(t.Body))/16)
	var ok1, ok2 bool
	w.Hdr, ok1 = textWordSet(t.Header, seen, 1)
	w.Body, ok2 = textWordSet(t.Body, seen, 2)
	w.Terms = make([]string, 0, len(seen))
	for k := range seen {
		w.Terms = append(w.Terms, k)
	}
	return w, ok1 && ok2
}

// Search answers a SEARCH BODY (body true) or TEXT query from the
// full-text index of a mailbox: the UIDs of the indexed messages that may
// contain query, ascending. narrowed is false when the index cannot tell
// (a query without words, or whose words are too short or too common
// as parts of words): every message may match. exact is true when the
// UIDs are exactly the indexed messages whose folded text has the folded
// query as a substring (a query of one word); otherwise they are
// candidates for the caller to check. The caller adds the messages that
// are not indexed.
func (d *DB) Search(box int64, query string, body bool) (uids []uint32, narrowed, exact bool, err error) {
	col := ""
	if body {
		col = "body"
	}
	return d.search(box, query, col)
}

// SearchHeader is Search in the header fields only: the UIDs of the
// indexed messages whose decoded header fields may contain query, to be
// checked by the caller.
func (d *DB) SearchHeader(box int64, query string) (uids []uint32, narrowed bool, err error) {
	uids, narrowed, _, err = d.search(box, query, "hdr")
	return uids, narrowed, err
}

// search is Search in column col, or in both when col is "".
func (d *DB) search(box int64, query, col string) (uids []uint32, narrowed, exact bool, err error) {
	plan, exact := planQuery(Fold(query))
	var clauses []string
	for _, c := range plan {
		switch c.kind {
		case wordWhole:
			clauses = append(clauses, ftsQuote(c.w))
			continue
		case wordPrefix:
			clauses = append(clauses, ftsQuote(c.w)+"*")
			continue
		}
		terms, err := d.termsContaining(c)
		if err != nil {
			return nil, false, false, err
		}
		if terms == nil {
			exact = false
			continue
		}
		if len(terms) == 0 {
			return nil, true, exact, nil
		}
		for k, t := range terms {
			terms[k] = ftsQuote(t)
		}
		clauses = append(clauses, "("+strings.Join(terms, " OR ")+")")
	}
	if len(clauses) == 0 {
		return nil, false, false, nil
	}
	q := "(" + strings.Join(clauses, " AND ") + ")"
	if col != "" {
		q = col + " : " + q
	}
	rows, err := d.db.Query(`SELECT m.uid FROM fts JOIN messages m ON m.id = fts.rowid
		WHERE fts MATCH ? AND m.mailbox = ? ORDER BY m.uid`, q, box)
	if err != nil {
		return nil, false, false, Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, false, false, Err(err)
		}
		uids = append(uids, u)
	}
	return uids, true, exact, Err(rows.Err())
}

func ftsQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// termsContaining returns the vocabulary words c matches; nil when
// there are more than maxTermMatches.
func (d *DB) termsContaining(c wordClause) ([]string, error) {
	rows, err := d.db.Query(`SELECT term FROM terms WHERE instr(term, ?) > 0`, c.w)
	if err != nil {
		return nil, Err(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, Err(err)
		}
		if !c.matches(t) {
			continue
		}
		if len(out) == maxTermMatches {
			return nil, nil
		}
		out = append(out, t)
	}
	return out, Err(rows.Err())
}

// TextMatches reports whether a message's text contains query after
// folding (Fold): in the body, or with body false in the header too. It
// is the check of the candidates Search returns.
func TextMatches(t Text, query string, body bool) bool {
	fq := Fold(query)
	return containsFolded(t.Body, fq) || !body && containsFolded(t.Header, fq)
}

// Unindexed returns the UIDs of a mailbox's messages whose text is not
// in the full-text index, with whether each can still be indexed
// (false: the message cannot be, because of its size).
func (d *DB) Unindexed(box int64) (todo, never []uint32, err error) {
	rows, err := d.db.Query(`SELECT uid, indexed FROM messages WHERE mailbox = ? AND indexed != 1 ORDER BY uid`, box)
	if err != nil {
		return nil, nil, Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u uint32
		var st int
		if err := rows.Scan(&u, &st); err != nil {
			return nil, nil, Err(err)
		}
		if st == 0 {
			todo = append(todo, u)
		} else {
			never = append(never, u)
		}
	}
	return todo, never, Err(rows.Err())
}

// Answerable reports whether the index can narrow a search for query.
func Answerable(query string) bool { return utf8.RuneCountInString(query) >= MinQuery }

// UnindexedAfter returns up to limit UIDs above after, ascending, of a
// mailbox's messages whose text is still to be indexed (the background
// indexer's next batch).
func (d *DB) UnindexedAfter(box int64, after uint32, limit int) ([]uint32, error) {
	rows, err := d.db.Query(`SELECT uid FROM messages WHERE mailbox = ? AND uid > ? AND indexed != 1 AND indexed = 0
		ORDER BY uid LIMIT ?`, box, after, limit)
	if err != nil {
		return nil, Err(err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, Err(err)
		}
		out = append(out, u)
	}
	return out, Err(rows.Err())
}
