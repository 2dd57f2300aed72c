package pop3

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DefaultUIDLFormat is Dovecot's default pop3_uidl_format: the UID and
// the UIDVALIDITY, each as eight lower-case hex digits (Dovecot's X
// modifier prints "%llx").
const DefaultUIDLFormat = "%08Xu%08Xv"

// Optional interfaces of a storage.Mailbox, checked once per session.
// A backend implements them to give UIDLs that match what Dovecot showed
// for the same messages.

// UIDLMailbox keeps a POP3 UIDL per message: the P field of a
// dovecot-uidlist record, or one saved earlier. When ok, the UIDL is used
// as it is and pop3_uidl_format is not consulted (Dovecot's
// MAIL_FETCH_UIDL_BACKEND).
type UIDLMailbox interface {
	POP3UIDL(uid uint32) (uidl string, ok bool)
}

// FileNameMailbox gives a message's Maildir base file name (the name up
// to the ":2," info part), for %f.
type FileNameMailbox interface {
	MaildirBaseName(uid uint32) (name string, ok bool)
}

// GUIDMailbox gives a message's GUID, for %g: the G field of its
// dovecot-uidlist record, or for Maildir its base file name, as in
// Dovecot.
type GUIDMailbox interface {
	MessageGUID(uid uint32) (guid string, ok bool)
}

// errUIDLVar is a variable the storage cannot give.
var errUIDLVar = errors.New("UIDL variable not supported by the storage")

// uidlLookup returns the value of one pop3_uidl_format variable, named by
// its short key ('u', 'v', 'm', 'f', 'g').
type uidlLookup func(key byte) (string, error)

// longKeys are the %{name} forms of the variables.
var longKeys = map[string]byte{
	"uid": 'u', "uidvalidity": 'v', "md5": 'm', "filename": 'f', "guid": 'g',
}

// maxModifiers is Dovecot's MAX_MODIFIER_COUNT.
const maxModifiers = 10

// expandUIDL expands a pop3_uidl_format template the way Dovecot 2.3's
// var_expand does: %[-][0][width][.[0][-]width][modifiers]key, where key
// is one of u v m f g, %{long name}, or % for a percent sign. Unknown
// short keys expand to nothing; unknown long keys to
// UNSUPPORTED_VARIABLE_<name>. The modifiers are L U E X R H N M D T.
func expandUIDL(format string, lookup uidlLookup) (string, error) {
	var out strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			out.WriteByte(format[i])
			continue
		}
		i++
		var st varState
		sign := 1
		if i < len(format) && format[i] == '-' {
			sign = -1
			i++
		}
		if i < len(format) && format[i] == '0' {
			st.zeroPad = true
			i++
		}
		for i < len(format) && isDigit(format[i]) {
			st.width = st.width*10 + int(format[i]-'0')
			i++
		}
		if i < len(format) && format[i] == '.' {
			st.offset = sign * st.width
			sign = 1
			st.width = 0
			i++
			st.zeroPad = false
			if i < len(format) && format[i] == '0' {
				st.zeroPad = true
				i++
			}
			if i < len(format) && format[i] == '-' {
				sign = -1
				i++
			}
			for i < len(format) && isDigit(format[i]) {
				st.width = st.width*10 + int(format[i]-'0')
				i++
			}
			st.width *= sign
		}
		var mods []byte
		for len(mods) < maxModifiers && i < len(format) && strings.IndexByte("LUEXRHNMDT", format[i]) >= 0 {
			mods = append(mods, format[i])
			i++
		}
		if i >= len(format) {
			break
		}
		var val string
		found := false
		if format[i] == '{' && strings.IndexByte(format[i:], '}') >= 0 {
			// %{long_key}, braces nested as in Dovecot.
			depth, end := 1, i+1
			for ; end < len(format) && depth > 0; end++ {
				switch format[end] {
				case '{':
					depth++
				case '}':
					depth--
				}
			}
			name := format[i+1 : end-1]
			if depth > 0 {
				name = format[i+1 : end]
			}
			i = end - 1
			found = true
			if k, ok := longKeys[name]; ok {
				v, err := lookup(k)
				if err != nil {
					return "", err
				}
				val = v
			} else {
				val = "UNSUPPORTED_VARIABLE_" + name
			}
		} else if strings.IndexByte("uvmfg", format[i]) >= 0 {
			v, err := lookup(format[i])
			if err != nil {
				return "", err
			}
			val, found = v, true
		} else if format[i] == '%' {
			val, found = "%", true
		}
		if !found {
			continue
		}
		for _, m := range mods {
			val = applyModifier(m, val, &st)
		}
		st.write(&out, val)
	}
	return out.String(), nil
}

// varState is one variable's width, offset and padding.
type varState struct {
	offset, width int
	zeroPad       bool
}

func (st *varState) write(out *strings.Builder, v string) {
	if st.offset < 0 {
		if len(v) > -st.offset {
			v = v[len(v)+st.offset:]
		}
	} else {
		v = v[min(st.offset, len(v)):]
	}
	switch {
	case st.width == 0:
		out.WriteString(v)
	case !st.zeroPad:
		w := st.width
		if w < 0 {
			w = len(v) + w
		}
		if w < 0 || w > len(v) {
			w = len(v) // Dovecot's size_t wraps around: the whole value
		}
		out.WriteString(v[:w])
	default:
		// Padding without truncation, like %05d.
		for range st.width - len(v) {
			out.WriteByte('0')
		}
		out.WriteString(v)
	}
}

func applyModifier(m byte, v string, st *varState) string {
	switch m {
	case 'L':
		return strings.ToLower(v)
	case 'U':
		return strings.ToUpper(v)
	case 'E':
		return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `'`, `\'`).Replace(v)
	case 'X':
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			n = 0
		}
		return strconv.FormatUint(n, 16)
	case 'R':
		b := []byte(v)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	case 'H':
		h := uint64(strHash(v))
		return hashed(h, st)
	case 'N':
		sum := md5.Sum([]byte(v))
		h := binary.BigEndian.Uint64(sum[:8])
		if st.width != 0 {
			h %= uint64(st.width)
			st.width = 0
		}
		return hashed(uint64(uint32(h)), st)
	case 'M':
		sum := md5.Sum([]byte(v))
		return hex.EncodeToString(sum[:])
	case 'D':
		return strings.ReplaceAll(v, ".", ",dc=")
	case 'T':
		return strings.TrimRight(v, " \t\r\n\v\f")
	}
	return v
}

// hashed formats a hash value in hex, reduced modulo the width (for H)
// and zero-padded to the offset, as Dovecot's %H and %N do.
func hashed(h uint64, st *varState) string {
	if st.width != 0 {
		h %= uint64(st.width)
		st.width = 0
	}
	s := strconv.FormatUint(h, 16)
	for len(s) < st.offset {
		s = "0" + s
	}
	st.offset = 0
	return s
}

// strHash is Dovecot's str_hash (the ELF/PJW string hash).
func strHash(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = h<<4 + uint32(s[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
			h ^= g
		}
	}
	return h
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validUIDL reports whether s may be sent as a UIDL (RFC 1939 section 7:
// 1 to 70 characters in the range 0x21 to 0x7E).
func validUIDL(s string) bool {
	if len(s) == 0 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// maxHeader bounds how much of a message is read for %m and X-UIDL.
const maxHeader = 1 << 20

// readHeader returns a message's header: the bytes before the empty line
// that ends it (or the whole message, up to maxHeader, when there is
// none).
func readHeader(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, maxHeader))
	var hdr bytes.Buffer
	atStart := true // at the start of a line
	for {
		frag, err := br.ReadSlice('\n')
		if atStart && (bytes.Equal(frag, []byte("\r\n")) || bytes.Equal(frag, []byte("\n"))) {
			return hdr.Bytes(), nil
		}
		hdr.Write(frag)
		atStart = len(frag) > 0 && frag[len(frag)-1] == '\n'
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case err == io.EOF:
			return hdr.Bytes(), nil
		default:
			return nil, err
		}
	}
}

// headerMD5 is what cote gives for %m: the MD5 of the message header
// as read (CRLF line endings, without the empty line after it), in
// lower-case hex. Dovecot computes %m only for mbox, over a filtered
// header; the two do not match.
func headerMD5(hdr []byte) string {
	sum := md5.Sum(hdr)
	return hex.EncodeToString(sum[:])
}

// xUIDL returns the first X-UIDL header field's value, unfolded and
// trimmed (pop3_reuse_xuidl).
func xUIDL(hdr []byte) (string, bool) {
	lines := bytes.SplitAfter(hdr, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		name, val, ok := bytes.Cut(lines[i], []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte("X-UIDL")) {
			continue
		}
		v := append([]byte(nil), val...)
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v = append(v, lines[i]...)
		}
		v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
		v = bytes.ReplaceAll(v, []byte("\n"), nil)
		return string(bytes.TrimSpace(v)), true
	}
	return "", false
}

// uidlError wraps a failure to compute UIDLs.
func uidlError(uid uint32, err error) error {
	return fmt.Errorf("UIDL of UID %d: %w", uid, err)
}

// computeUIDLs works out every message's UIDL once per session: the
// storage's own UIDL when it has one, else the X-UIDL header field with
// pop3_reuse_xuidl, else pop3_uidl_format expanded; duplicates renamed
// with pop3_uidl_duplicates=rename.
func (s *session) computeUIDLs() error {
	if s.uidls != nil {
		return nil
	}
	backend, _ := s.mbox.(UIDLMailbox)
	out := make([]string, len(s.msgs))
	var prev map[string]int
	if s.o.UIDLDuplicates == "rename" {
		prev = make(map[string]int, len(s.msgs))
	}
	warned := false
	for i, m := range s.msgs {
		u, err := s.uidlOf(m.UID, backend)
		if err != nil {
			return uidlError(m.UID, err)
		}
		if prev != nil {
			for {
				n, dup := prev[u]
				if !dup {
					break
				}
				prev[u] = n + 1
				u += "-" + strconv.Itoa(n+1)
			}
			prev[u] = 1
		}
		if !warned && !validUIDL(u) {
			s.log.Warn("UIDL is not valid for RFC 1939 (1-70 printable characters); check pop3_uidl_format", "uid", m.UID, "uidl", u)
			warned = true
		}
		out[i] = u
	}
	s.uidls = out
	return nil
}

func (s *session) uidlOf(uid uint32, backend UIDLMailbox) (string, error) {
	if backend != nil {
		if u, ok := backend.POP3UIDL(uid); ok && u != "" {
			return u, nil
		}
	}
	var (
		hdr    []byte
		loaded bool
	)
	header := func() ([]byte, error) {
		if loaded {
			return hdr, nil
		}
		rc, err := s.mbox.Read(uid)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if hdr, err = readHeader(rc); err != nil {
			return nil, err
		}
		loaded = true
		return hdr, nil
	}
	if s.o.ReuseXUIDL {
		h, err := header()
		if err != nil {
			return "", err
		}
		if u, ok := xUIDL(h); ok && validUIDL(u) {
			return u, nil
		}
	}
	return expandUIDL(s.o.UIDLFormat, func(key byte) (string, error) {
		switch key {
		case 'u':
			return strconv.FormatUint(uint64(uid), 10), nil
		case 'v':
			return strconv.FormatUint(uint64(s.uidValidity), 10), nil
		case 'm':
			h, err := header()
			if err != nil {
				return "", err
			}
			return headerMD5(h), nil
		case 'f':
			if fm, ok := s.mbox.(FileNameMailbox); ok {
				if name, ok := fm.MaildirBaseName(uid); ok && name != "" {
					return name, nil
				}
			}
			return "", fmt.Errorf("%%f: %w", errUIDLVar)
		case 'g':
			if gm, ok := s.mbox.(GUIDMailbox); ok {
				if g, ok := gm.MessageGUID(uid); ok && g != "" {
					return g, nil
				}
			}
			return "", fmt.Errorf("%%g: %w", errUIDLVar)
		}
		return "", nil
	})
}
