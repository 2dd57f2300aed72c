package layout

import (
	"bytes"
	"strings"
)

// ParseSubscriptions reads Dovecot's subscriptions file
// (src/lib-storage/list/subscription-file.c). Version 2 starts with
// "V\t2\n\n" and has one name a line with the levels separated by TAB and
// each level tab-escaped; version 1 has one full name a line, with delim
// as separator. Names come back with delim as separator.
func ParseSubscriptions(data []byte, delim rune) []string {
	lines := strings.Split(string(data), "\n")
	v2 := len(lines) >= 2 && lines[0] == "V\t2" && lines[1] == ""
	if v2 {
		lines = lines[2:]
	}
	var out []string
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if v2 {
			levels := strings.Split(l, "\t")
			for i, lv := range levels {
				levels[i] = tabUnescape(lv)
			}
			l = strings.Join(levels, string(delim))
		}
		out = append(out, l)
	}
	return out
}

func FormatSubscriptions(names []string, delim rune) []byte {
	var b bytes.Buffer
	b.WriteString("V\t2\n\n")
	for _, n := range names {
		levels := strings.Split(n, string(delim))
		for i, lv := range levels {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(tabEscape(lv))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// tabEscape is Dovecot's str_tabescape: 0x01 escapes \x01, TAB, CR, LF.
func tabEscape(s string) string {
	if !strings.ContainsAny(s, "\x01\t\r\n") {
		return s
	}
	r := strings.NewReplacer("\x01", "\x011", "\t", "\x01t", "\r", "\x01r", "\n", "\x01n")
	return r.Replace(s)
}

func tabUnescape(s string) string {
	if !strings.Contains(s, "\x01") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\x01' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '1':
			b.WriteByte('\x01')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
