package imap

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message"
)

// maxSearchText bounds the decoded text one message contributes to a
// BODY or TEXT search.
const maxSearchText = 16 << 20

// wordDecoder decodes RFC 2047 encoded-words in UTF-8, US-ASCII and
// ISO-8859-1 (what the standard library knows; go-message/charset would
// add more but needs golang.org/x/text).
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{}
}

// decodeHeaderValue decodes encoded-words for searching; on failure the
// raw value is searched.
func decodeHeaderValue(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder().DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// headerContains reports whether a header field named name (any field
// when name is "") contains s, case-insensitively after decoding
// (RFC 3501 section 6.4.4: substring match).
func (sm *searchMsg) headerContains(name, s string) bool {
	needle := strings.ToLower(s)
	for _, f := range sm.root.header {
		if f.name == "" || (name != "" && !strings.EqualFold(f.name, name)) {
			continue
		}
		if needle == "" || strings.Contains(strings.ToLower(decodeHeaderValue(f.value)), needle) {
			return true
		}
	}
	return false
}

// messageText is a message's body text, transfer-decoded and converted
// to UTF-8, lower-cased for searching.
type messageText struct{ lower string }

func (t *messageText) bodyContains(s string) bool {
	return strings.Contains(t.lower, strings.ToLower(s))
}

func (sm *searchMsg) messageText() *messageText {
	if sm.text == nil {
		sm.text = &messageText{lower: strings.ToLower(decodeBodyText(sm.raw, sm.root))}
	}
	return sm.text
}

// decodeBodyText returns the text of every leaf part, decoded with
// go-message; where decoding fails the raw body is used.
func decodeBodyText(raw []byte, root *part) string {
	// Without a CharsetReader go-message reports an unknown charset
	// but still undoes the transfer encoding: search those bytes.
	ent, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) || ent == nil {
		return string(raw[root.bodyStart:])
	}
	var sb strings.Builder
	werr := ent.Walk(func(_ []int, e *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) {
			return err
		}
		if e.MultipartReader() != nil {
			return nil
		}
		_, err = io.Copy(&sb, io.LimitReader(e.Body, int64(maxSearchText-sb.Len())))
		if sb.Len() >= maxSearchText {
			return io.EOF
		}
		return err
	})
	if werr != nil && werr != io.EOF && sb.Len() == 0 {
		return string(raw[root.bodyStart:])
	}
	return sb.String()
}

// parseMessageDate parses a Date header (RFC 5322 section 3.3).
func parseMessageDate(v string) (time.Time, error) {
	return mail.ParseDate(v)
}
