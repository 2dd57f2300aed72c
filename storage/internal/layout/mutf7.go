// Package layout holds what the file-based backends (maildir, mbox)
// share about names on disk: modified UTF-7 mailbox names, Dovecot's
// subscriptions file and mail_location paths.
package layout

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Mailbox names on disk are modified UTF-7 (RFC 3501 section 5.1.3), as
// Dovecot writes them unless mail_location has UTF-8.

var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

var errMUTF7 = errors.New("bad modified UTF-7")

// EncodeMUTF7 encodes a mailbox name level in modified UTF-7.
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		u := utf16.Encode(run)
		buf := make([]byte, 2*len(u))
		for i, c := range u {
			buf[2*i], buf[2*i+1] = byte(c>>8), byte(c)
		}
		b.WriteByte('&')
		b.WriteString(mutf7.EncodeToString(buf))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return b.String()
}

// DecodeMUTF7 decodes a modified UTF-7 name level.
func DecodeMUTF7(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", errMUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", errMUTF7
		}
		enc := s[i+1 : i+1+j]
		i += j + 1
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			return "", errMUTF7
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		for _, r := range utf16.Decode(u) {
			if r == utf8.RuneError || (r >= 0x20 && r <= 0x7e) {
				return "", errMUTF7
			}
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
