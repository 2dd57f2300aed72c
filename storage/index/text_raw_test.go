package index

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf16"
)

// checkRawFilter checks RawFilter against decoding the message: when it
// excludes a message, the message's text is searchable and contains the
// query neither in the body nor in the header.
// The message is also given to the filter with LF line ends, as the
// search reads it from a file that has them.
func checkRawFilter(t *testing.T, raw []byte, query string) (excluded, matches bool) {
	t.Helper()
	text, ok := ExtractText(toCRLF(raw))
	matches = !ok || TextMatches(text, query, false) || TextMatches(text, query, true)
	f := NewRawFilter(query)
	excluded = f.Excludes(raw)
	if excluded && matches {
		t.Fatalf("Excludes(%q, %q) = true, but the text %q matches (ok %v)", raw, query, text, ok)
	}
	if lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")); f.Excludes(lf) && matches {
		t.Fatalf("Excludes(%q, %q) = true, but the text %q matches (ok %v)", lf, query, text, ok)
	}
	return excluded, matches
}

// toCRLF returns b with a CR added before each bare LF.
func toCRLF(b []byte) []byte {
	var out []byte
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func utf16le(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.String()
}

const rawHeader = "From: a@example.org\nTo: b@example.org\nSubject: Hello there\nMIME-Version: 1.0\n"

func TestRawFilter(t *testing.T) {
	const q = "quillfeatherzyx"
	tests := []struct {
		name, msg, query string
		excluded         bool // the filter decides without decoding
		matches          bool
	}{
		{"plain, absent", rawHeader + "Content-Type: text/plain; charset=utf-8\n\nnothing to see here\n", q, true, false},
		{"plain, present", rawHeader + "\nThe QuillFeatherZyx word\n", q, false, true},
		{"plain, cut short", rawHeader + "\nthe quillfeatherzy\n", q, true, false},
		{"no header", "\nquillfeatherzy x\n", q, true, false},
		{"in the header", "Subject: a QUILLFEATHERZYX b\n\nbody\n", q, false, true},
		{"header folded", "Subject: quill\n featherzyx\n\nbody\n", q, true, false},
		{"query with a blank", "Subject: quill\n feather\n\nbody\n", "quill feather", false, true},
		{"query with a colon", "Subject :quill\n\nbody\n", "subject:", false, true},
		{"base64 text", rawHeader + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" + b64("a quillfeatherzyx b") + "\n", q, false, true},
		{"base64 text, absent", rawHeader + "Content-Type: text/plain\nContent-Transfer-Encoding: BASE64\n\n" + b64("nothing") + "\n", q, false, false},
		{"base64, no type", rawHeader + "Content-Transfer-Encoding: base64\n\n" + b64("quillfeatherzyx") + "\n", q, false, true},
		{"base64, spaced name", rawHeader + "Content-Transfer-Encoding : base64\n\n" + b64("quillfeatherzyx") + "\n", q, false, true},
		{"base64, folded value", rawHeader + "Content-Transfer-Encoding:\n base64\n\n" + b64("quillfeatherzyx") + "\n", q, false, true},
		{"quoted-printable soft break", rawHeader + "Content-Transfer-Encoding: quoted-printable\n\nquill=\nfeatherzyx\n", q, false, true},
		{"quoted-printable escape", rawHeader + "Content-Transfer-Encoding: Quoted-Printable\n\n=71uillfeatherzyx\n", q, false, true},
		{"encoded-word", "Subject: =?utf-8?q?quill=66eatherzyx?=\n\nbody\n", q, false, true},
		{"encoded-word base64", "Subject: =?utf-8?b?" + b64("quillfeatherzyx") + "?=\n\nbody\n", q, false, true},
		{"utf-16", rawHeader + "Content-Type: text/plain; charset=utf-16le\n\n" + utf16le("quillfeatherzyx") + "\n", q, false, true},
		// go-message does not convert UTF-7, but the filter does not know it.
		{"utf-7", rawHeader + "Content-Type: text/plain; charset=\"UTF-7\"\n\n+AHE-uillfeatherzyx\n", q, false, false},
		{"charset continued", rawHeader + "Content-Type: text/plain; charset*0=utf-; charset*1=16le\n\n" + utf16le("quillfeatherzyx") + "\n", q, false, true},
		{"charset after a vertical tab", rawHeader + "Content-Type: text/plain; charset\v=\futf-16le\n\n" + utf16le("quillfeatherzyx") + "\n", q, false, true},
		{"charset on a continuation", rawHeader + "Content-Type: text/plain;\n charset=utf-16le\n\n" + utf16le("quillfeatherzyx") + "\n", q, false, true},
		{"latin-1, absent", rawHeader + "Content-Type: text/plain; charset=ISO-8859-1\n\nplain words\n", q, true, false},
		{"ligature", rawHeader + "\nquillﬁne\n", "quillfine", false, true},
		{"fullwidth", rawHeader + "\nｑuillfeatherzyx\n", q, false, true},
		{"non-ASCII query", rawHeader + "\nSchöne Grüße\n", "grüße", false, true},
		{"html split by a tag", rawHeader + "Content-Type: text/html\n\n<p>quill<b>feather</b>zyx</p>\n", q, false, true},
		{"html split by a comment", rawHeader + "Content-Type: TEXT/HTML\n\nquill<!-- x -->featherzyx\n", q, false, true},
		{"html reference", rawHeader + "Content-Type: text/html\n\n&#113;uillfeatherzyx\n", q, false, true},
		{"html, absent", rawHeader + "Content-Type: text/html; charset=utf-8\n\n<html><body><p>the feather</p>\n<p>zyx</p></body></html>\n", q, true, false},
		{"html, a prefix before a block end", rawHeader + "Content-Type: text/html\n\n<p>quill</p>\n", q, true, false},
		{"html, a prefix before a tag", rawHeader + "Content-Type: text/html\n\n<p>quill<b>x</b></p>\n", q, true, false},
		{"html split by tags", rawHeader + "Content-Type: text/html\n\nquill</b><I\n>featherzyx\n", q, false, true},
		{"html split by a script", rawHeader + "Content-Type: text/html\n\nquill<SCRIPT>x</script>featherzyx\n", q, false, true},
		{"html split by a cell", rawHeader + "Content-Type: text/html\n\nquill<td>featherzyx\n", q, true, false},
		{"attachment", rawHeader + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhello\n--b\n" +
			"Content-Type: application/octet-stream; name=\"x.bin\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment\n\n" +
			b64("quillfeatherzyx") + "\n--b--\n", q, true, false},
		{"base64 part without a type", rawHeader + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhello\nContent-Type: application/pdf\n--b\n" +
			"Content-Transfer-Encoding: base64\n\n" + b64("quillfeatherzyx") + "\n--b--\n", q, false, true},
		// go-message takes the first: not a text part, but the filter does
		// not tell which.
		{"two types", rawHeader + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: application/pdf\nContent-Type: text/plain\n" +
			"Content-Transfer-Encoding: base64\n\n" + b64("quillfeatherzyx") + "\n--b--\n", q, false, false},
		{"text attachment", rawHeader + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhello\n--b\n" +
			"Content-Type: text/plain; name=\"x.txt\"\nContent-Transfer-Encoding: base64\n\n" + b64("quillfeatherzyx") + "\n--b--\n", q, false, true},
		{"nested message", rawHeader + "Content-Type: message/rfc822\n\nSubject: inner\nContent-Transfer-Encoding: base64\n\n" + b64("quillfeatherzyx") + "\n", q, false, true},
		{"nested message, base64", rawHeader + "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + b64("Subject: quillfeatherzyx\n\nx\n") + "\n", q, false, true},
		{"alternative", rawHeader + "Content-Type: multipart/alternative; boundary=\"=_b\"\n\n--=_b\nContent-Type: text/plain; charset=utf-8\n\nthe plain text\n--=_b\n" +
			"Content-Type: text/html; charset=utf-8\n\n<html><body><p>the html text</p>\n<p>more</p></body></html>\n--=_b--\n", q, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			excluded, matches := checkRawFilter(t, crlf(tt.msg), tt.query)
			if excluded != tt.excluded || matches != tt.matches {
				t.Errorf("Excludes, matches = %v, %v; want %v, %v", excluded, matches, tt.excluded, tt.matches)
			}
		})
	}
}

// TestRawFilterBenchMessages checks the filter on cote-bench-like
// messages, which it decides without decoding.
func TestRawFilterBenchMessages(t *testing.T) {
	raws, _ := benchTexts(nil)
	for n, raw := range raws {
		for _, q := range []string{"quillfeatherzyx", "Quarterly", "summary", "html", "p>", "ort rep"} {
			excluded, matches := checkRawFilter(t, raw, q)
			if !excluded && !matches && q == "quillfeatherzyx" {
				t.Errorf("message %d: Excludes(%q) = false, want true", n, q)
			}
		}
	}
}

// TestIsASCII: a byte over 0x7f is found wherever it is, in the 32-byte
// blocks and after them, in a string and in a byte slice.
func TestIsASCII(t *testing.T) {
	for n := 0; n <= 80; n++ {
		b := bytes.Repeat([]byte{0x7f}, n)
		if !isASCII(b) || !isASCII(string(b)) {
			t.Fatalf("isASCII(%d ASCII bytes) = false", n)
		}
		for p := 0; p < n; p++ {
			b[p] = 0x80
			if isASCII(b) || isASCII(string(b)) {
				t.Fatalf("isASCII(%d bytes, 0x80 at %d) = true", n, p)
			}
			b[p] = 'a'
		}
	}
}

func FuzzRawFilter(f *testing.F) {
	f.Add(crlf(rawHeader+"\nThe QuillFeatherZyx word\n"), "quillfeatherzyx")
	f.Add(crlf(rawHeader+"Content-Transfer-Encoding: quoted-printable\n\nquill=\nfeatherzyx\n"), "quillfeatherzyx")
	f.Add(crlf(rawHeader+"Content-Type: text/html\n\n<p>quill<b>feather</b>zyx &amp;</p>\n"), "quillfeatherzyx")
	f.Add(crlf(rawHeader+"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: application/octet-stream\n"+
		"Content-Transfer-Encoding: base64\n\n"+b64("quillfeatherzyx")+"\n--b--\n"), "quillfeatherzyx")
	f.Add(crlf(rawHeader+"Content-Type: text/plain; charset=utf-16le\n\n"+utf16le("abc")+"\n"), "abc")
	f.Add(crlf("Subject: =?utf-8?q?quill?=\n\nx\n"), "quill")
	f.Fuzz(func(t *testing.T, raw []byte, query string) {
		if len(raw) > 1<<16 || len(query) > 64 {
			return
		}
		checkRawFilter(t, raw, query)
	})
}

// BenchmarkRawFilter is the check of one unindexed message for a word it
// does not contain, by its raw bytes; BenchmarkExtractText and
// BenchmarkTextMatches are the same check by decoding.
func BenchmarkRawFilter(b *testing.B) {
	raws, avg := benchTexts(b)
	// As in cote-bench, some have a base64 attachment.
	for n := 0; n < len(raws); n += 10 {
		data := make([]byte, 12<<10)
		for i := range data {
			data[i] = byte(i*7 + i/251)
		}
		enc := base64.StdEncoding.EncodeToString(data)
		var m strings.Builder
		m.WriteString("Subject: attached\r\nContent-Type: multipart/mixed; boundary=\"=_m\"\r\n\r\n--=_m\r\nContent-Type: text/plain\r\n\r\n")
		m.WriteString("see the file\r\n--=_m\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			m.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		m.WriteString(enc + "\r\n--=_m--\r\n")
		raws[n] = []byte(m.String())
	}
	f := NewRawFilter("quillfeatherzyx")
	b.SetBytes(avg)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if !f.Excludes(raws[i%len(raws)]) {
			b.Fatal("not excluded")
		}
	}
}

// FuzzRawFilterParts is FuzzRawFilter on messages made of parts, so that
// more inputs get past the filter's first checks: a header field, the
// Content-Type and Content-Transfer-Encoding of a part in a multipart
// message after a plain one, and the part's body.
func FuzzRawFilterParts(f *testing.F) {
	f.Add("Subject: x", "text/html", "7bit", "<p>quill<b>feather</b>zyx</p>", "quillfeatherzyx")
	f.Add("X-A: b", "application/octet-stream", "base64", b64("quillfeatherzyx"), "quillfeatherzyx")
	f.Add("Subject: q", "text/plain; charset=utf-16le", "", utf16le("zyx"), "zyx")
	f.Add("Subject: q", "message/rfc822", "", "Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nz=\r\nyx", "zyx")
	f.Fuzz(func(t *testing.T, field, ctype, cte, body, query string) {
		if len(field)+len(ctype)+len(cte)+len(body) > 1<<14 || len(query) > 64 {
			return
		}
		raw := "From: a@example.org\r\n" + field + "\r\nContent-Type: multipart/mixed; boundary=\"=b\"\r\n\r\n" +
			"--=b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n" +
			"--=b\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" + body + "\r\n--=b--\r\n"
		checkRawFilter(t, []byte(raw), query)
	})
}
