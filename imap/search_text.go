package imap

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"golang.org/x/text/unicode/norm"
)

// maxSearchText bounds the decoded text one message contributes to a
// BODY or TEXT search.
const maxSearchText = 16 << 20

// wordDecoder decodes RFC 2047 encoded-words in every charset
// go-message/charset knows (importing it also makes go-message's body
// decoding convert charsets).
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: charset.Reader}
}

// casemap applies the i;unicode-casemap comparator's mapping (RFC 5051
// section 2, required by I18NLEVEL=1, RFC 5255 section 4): each
// character to its titlecase, then compatibility decomposition (NFKD).
// Substring and equality tests on mapped strings are the comparator's.
func casemap(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	return norm.NFKD.String(strings.Map(unicode.ToTitle, strings.ToValidUTF8(s, "\uFFFD")))
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
// when name is "") contains s under i;unicode-casemap after decoding
// (RFC 9051 section 6.4.4: substring match).
func (sm *searchMsg) headerContains(name, s string) bool {
	needle := casemap(s)
	for _, f := range sm.root.header {
		if f.name == "" || (name != "" && !strings.EqualFold(f.name, name)) {
			continue
		}
		if needle == "" {
			return true
		}
		v := f.value()
		if strings.Contains(casemap(decodeHeaderValue(v)), needle) {
			return true
		}
		if isAddressField(f.name) && strings.Contains(casemap(normalizedAddresses(v)), needle) {
			return true
		}
	}
	return false
}

// messageText is a message's body text, transfer-decoded, converted to
// UTF-8 and case-mapped for searching.
type messageText struct{ mapped string }

func (t *messageText) bodyContains(s string) bool {
	return strings.Contains(t.mapped, casemap(s))
}

func (sm *searchMsg) messageText() *messageText {
	if sm.text == nil {
		sm.text = &messageText{mapped: casemap(decodeBodyText(sm.raw, sm.root))}
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

// isAddressField reports the address fields SEARCH FROM, TO, CC and BCC
// look at.
func isAddressField(name string) bool {
	switch strings.ToLower(name) {
	case "from", "to", "cc", "bcc", "sender", "reply-to":
		return true
	}
	return false
}

// normalizedAddresses renders an address list as "name <mailbox@host>"
// lines, so that a search for an address matches however the header
// wrote it (comments, white space, encoded display names).
func normalizedAddresses(v string) string {
	var sb strings.Builder
	for _, a := range parseAddressList(v) {
		if a.groupStart || a.groupEnd {
			continue
		}
		if a.hasName {
			sb.WriteString(decodeHeaderValue(a.name))
			sb.WriteByte(' ')
		}
		sb.WriteByte('<')
		sb.WriteString(a.mailbox)
		if a.host != "" {
			sb.WriteByte('@')
			sb.WriteString(a.host)
		}
		sb.WriteString(">\n")
	}
	return sb.String()
}
