package imap

import (
	"bytes"
	"errors"
	"html"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/emersion/go-message"
)

// maxPreviewChars is RFC 8970 section 3's bound on a preview: at most
// 256 characters; clients show about 200.
const maxPreviewChars = 200

var errPreviewDone = errors.New("preview found")

// preview returns a message's preview text (RFC 8970 section 3): the
// start of its first text/plain part, or of its first text/html part
// with the markup removed, with quoted lines dropped and white space
// collapsed; "" when there is no text.
func preview(raw []byte, _ *part) string {
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil || (err != nil && !message.IsUnknownCharset(err)) {
		return ""
	}
	var plain, htmlText string
	_ = ent.Walk(func(_ []int, e *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) {
			return nil
		}
		if e.MultipartReader() != nil {
			return nil
		}
		if disp, _, _ := e.Header.ContentDisposition(); strings.EqualFold(disp, "attachment") {
			return nil
		}
		t, _, _ := e.Header.ContentType()
		switch strings.ToLower(t) {
		case "", "text/plain":
			b, _ := io.ReadAll(io.LimitReader(e.Body, 16<<10))
			plain = string(b)
			return errPreviewDone
		case "text/html":
			if htmlText == "" {
				b, _ := io.ReadAll(io.LimitReader(e.Body, 64<<10))
				htmlText = stripHTML(string(b))
			}
		}
		return nil
	})
	text := plain
	if text == "" {
		text = htmlText
	}
	return previewText(text)
}

// htmlRE holds the expressions stripHTML uses, compiled on first use
// rather than at the start of every process.
var htmlRE = sync.OnceValue(func() (re struct{ blocks, tags *regexp.Regexp }) {
	re.blocks = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)\s*>`)
	re.tags = regexp.MustCompile(`(?s)<[^>]*>`)
	return re
})

func stripHTML(s string) string {
	re := htmlRE()
	s = re.blocks.ReplaceAllString(s, " ")
	s = re.tags.ReplaceAllString(s, " ")
	return html.UnescapeString(s)
}

// previewText drops quoted lines, collapses white space and cuts the
// text at maxPreviewChars characters.
func previewText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var sb strings.Builder
	n := 0
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), ">") {
			continue
		}
		for _, w := range strings.Fields(line) {
			if n >= maxPreviewChars {
				return sb.String()
			}
			if sb.Len() > 0 {
				sb.WriteByte(' ')
				n++
			}
			for _, r := range w {
				if n >= maxPreviewChars {
					return sb.String()
				}
				sb.WriteRune(r)
				n++
			}
		}
	}
	return sb.String()
}
