package imap

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3): printable
// ASCII stands for itself except "&", written "&-"; other characters are
// UTF-16 in modified base64 ("," for "/", no padding) between "&" and "-".

var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding).Strict()

var errBadUTF7 = errors.New("invalid modified UTF-7")

// encodeMailboxName encodes a UTF-8 name to modified UTF-7. Invalid UTF-8
// is encoded as U+FFFD.
func encodeMailboxName(s string) string {
	var sb strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		u := utf16.Encode(pending)
		b := make([]byte, 2*len(u))
		for i, c := range u {
			b[2*i], b[2*i+1] = byte(c>>8), byte(c)
		}
		sb.WriteByte('&')
		sb.WriteString(mutf7.EncodeToString(b))
		sb.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				sb.WriteString("&-")
			} else {
				sb.WriteRune(r)
			}
			continue
		}
		pending = append(pending, r)
	}
	flush()
	return sb.String()
}

// decodeMailboxName decodes modified UTF-7 to UTF-8, strictly: the
// encoding of any name is unique, so a name that would not be produced by
// encodeMailboxName is refused.
func decodeMailboxName(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			// Tolerate raw UTF-8 from clients that send it
			// (as Dovecot does), but nothing else.
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError || r < 0x80 {
				return "", errBadUTF7
			}
			sb.WriteString(s[i : i+size])
			i += size - 1
			continue
		}
		if c != '&' {
			sb.WriteByte(c)
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", errBadUTF7
		}
		enc := s[i+1 : i+1+j]
		i += j + 1
		if enc == "" {
			sb.WriteByte('&')
			continue
		}
		b, err := mutf7.DecodeString(enc)
		if err != nil || len(b)%2 != 0 {
			return "", errBadUTF7
		}
		u := make([]uint16, len(b)/2)
		for k := range u {
			u[k] = uint16(b[2*k])<<8 | uint16(b[2*k+1])
		}
		runes := utf16.Decode(u)
		for _, r := range runes {
			// Printable ASCII must not be encoded; unpaired
			// surrogates decode to U+FFFD.
			if (r >= 0x20 && r <= 0x7e) || r == utf8.RuneError {
				return "", errBadUTF7
			}
			sb.WriteRune(r)
		}
		// Two adjacent encoded runs are not the canonical form.
		if i+1 < len(s) && s[i+1] == '&' && i+2 < len(s) && s[i+2] != '-' {
			return "", errBadUTF7
		}
	}
	return sb.String(), nil
}
