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

	var sb strings.Builder
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
			body, _ := io.ReadAll(io.LimitReader(e.Body, MaxText+1))
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
		tag := strings.ToLower(strings.TrimLeft(s[1:end], "/"))
		if n := strings.IndexAny(tag, " \t\r\n/"); n >= 0 {
			tag = tag[:n]
		}
		s = s[end+1:]
		switch tag {
		case "script", "style":
			closeTag := "</" + tag
			if j := strings.Index(asciiLower(s), closeTag); j >= 0 {
				s = s[j:]
				if k := strings.IndexByte(s, '>'); k >= 0 {
					s = s[k+1:]
				}
			}
		case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote":
			out.WriteByte('\n')
		case "td", "th":
			out.WriteByte(' ')
		}
	}
	return out.String()
}

// MinQuery is the shortest query, in characters, the trigram index can
// answer.
const MinQuery = 3

// Search returns the UIDs of a mailbox's indexed messages whose text
// contains query (case-insensitive, as the trigram tokenizer folds
// case): the body when body is true, header and body otherwise. The
// caller adds the messages that are not indexed.
func (d *DB) Search(box int64, query string, body bool) ([]uint32, error) {
	q := `"` + strings.ReplaceAll(query, `"`, `""`) + `"`
	if body {
		q = "body : " + q
	}
	rows, err := d.db.Query(`SELECT m.uid FROM fts JOIN messages m ON m.id = fts.rowid
		WHERE fts MATCH ? AND m.mailbox = ? ORDER BY m.uid`, q, box)
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

// queryChars is the length of a query in characters after the trigram
// tokenizer's view (it works on characters, not bytes).
func queryChars(q string) int { return utf8.RuneCountInString(q) }

// Answerable reports whether the trigram index can answer query exactly.
func Answerable(query string) bool { return queryChars(query) >= MinQuery }
