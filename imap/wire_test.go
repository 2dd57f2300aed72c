package imap

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseSeqSet(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{"1", "1", false},
		{"1:*", "1:*", false},
		{"*:4,7,9:10", "*:4,7,9:10", false},
		{"2,4:7,9,12:*", "2,4:7,9,12:*", false},
		{"0", "", true},
		{"", "", true},
		{"1:", "", true},
		{"1,,2", "", true},
		{"4294967296", "", true},
		{"01", "", true},
	} {
		set, err := parseSeqSet(tc.in)
		if (err != nil) != tc.err || (err == nil && set.String() != tc.want) {
			t.Errorf("parseSeqSet(%q) = %v, %v; want %q, error %v", tc.in, set, err, tc.want, tc.err)
		}
	}
	set, _ := parseSeqSet("5:3,9:*")
	for n, want := range map[uint32]bool{2: false, 3: true, 4: true, 5: true, 8: false, 9: true, 12: true} {
		if got := set.contains(n, 12); got != want {
			t.Errorf("contains(%d, 12) = %v, want %v", n, got, want)
		}
	}
	if got := formatUIDSet([]uint32{1, 2, 3, 5, 7, 8}); got != "1:3,5,7:8" {
		t.Errorf("formatUIDSet = %q", got)
	}
}

// RFC 3501 section 5.1.3's example and others.
var utf7Cases = []struct{ utf8, mutf7 string }{
	{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	{"A&B", "A&-B"},
	{"Entwürfe", "Entw&APw-rfe"},
	{"Hello", "Hello"},
	{"😀", "&2D3eAA-"},
	{"", ""},
}

func TestModifiedUTF7(t *testing.T) {
	for _, tc := range utf7Cases {
		if got := encodeMailboxName(tc.utf8); got != tc.mutf7 {
			t.Errorf("encodeMailboxName(%q) = %q, want %q", tc.utf8, got, tc.mutf7)
		}
		if got, err := decodeMailboxName(tc.mutf7); err != nil || got != tc.utf8 {
			t.Errorf("decodeMailboxName(%q) = %q, %v; want %q", tc.mutf7, got, err, tc.utf8)
		}
	}
	for _, bad := range []string{"&", "&U,BTF", "&AGE-", "&U,BTFw-&ZeVnLIqe-", "&2D0-", "\x01", "&Jjo!"} {
		if got, err := decodeMailboxName(bad); err == nil {
			t.Errorf("decodeMailboxName(%q) = %q, want error", bad, got)
		}
	}
}

func TestCommandReader(t *testing.T) {
	var cont int
	in := "a1 LOGIN {3}\r\nabc {2+}\r\nde\r\na2 NOOP\nshort\r\n" + strings.Repeat("x", 300) + "\r\na3 X\r\n"
	cr := &commandReader{r: bufio.NewReaderSize(strings.NewReader(in), 202), maxLine: 200, maxLiteral: 10,
		continuation: func() error { cont++; return nil }}
	want := []struct {
		cmd string
		err error
	}{
		{"a1 LOGIN {3}\r\nabc {2+}\r\nde", nil},
		{"a2 NOOP", nil},
		{"short", nil},
		{"", errLineTooLong},
		{"a3 X", nil},
	}
	for _, w := range want {
		got, err := cr.readCommand()
		if err != w.err || (err == nil && string(got) != w.cmd) {
			t.Fatalf("readCommand() = %q, %v; want %q, %v", got, err, w.cmd, w.err)
		}
	}
	if cont != 1 {
		t.Errorf("continuations = %d, want 1", cont)
	}
}

// TestCommandReaderBuffers: a reader whose buffer is smaller than the
// line limit (readBufferSize) frames commands as one whose buffer holds
// a whole line: lines up to the limit, at it, past it, and an over-long
// line that ends in a non-synchronising literal.
func TestCommandReaderBuffers(t *testing.T) {
	in := "a1 LOGIN {3}\r\nabc {2+}\r\nde\r\na2 NOOP " + strings.Repeat("y", 150) + "\r\n" +
		strings.Repeat("z", 200) + "\r\n" + strings.Repeat("z", 201) + "\r\n" + strings.Repeat("w", 199) + "\n" +
		strings.Repeat("x", 300) + "\r\na3 X\r\n" + strings.Repeat("v", 250) + " {5+}\r\n"
	want, got := framed(in, 202), framed(in, 16)
	if len(want) != 8 {
		t.Fatalf("with a buffer of the line limit: %d results, want 8: %q", len(want), want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("with a 16-byte buffer:\n%q\nwant\n%q", got, want)
	}
}

// framed is what readCommand returns for in, read through a buffer of
// size bytes with a line limit of 200. An end of input inside a line is
// io.EOF: whether it comes as io.ErrUnexpectedEOF depends on how much
// the buffer held when the input ended.
func framed(in string, size int) []string {
	cr := &commandReader{r: bufio.NewReaderSize(strings.NewReader(in), size), maxLine: 200, maxLiteral: 10,
		continuation: func() error { return nil }}
	var out []string
	for {
		got, err := cr.readCommand()
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		out = append(out, fmt.Sprintf("%q %v", got, err))
		if err != nil && err != errLineTooLong {
			return out
		}
	}
}

// FuzzCommandReader: the reader frames any input alike whether its
// buffer holds a whole line or less (readBufferSize).
func FuzzCommandReader(f *testing.F) {
	f.Add("a1 LOGIN {3}\r\nabc {2+}\r\nde\r\na2 NOOP\r\n")
	f.Add(strings.Repeat("z", 201) + "\r\n" + strings.Repeat("w", 199) + "\na3 X\r\n")
	f.Add(strings.Repeat("v", 250) + " {5+}\r\nhello\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		want, got := framed(in, 202), framed(in, 16)
		if !slices.Equal(got, want) {
			t.Errorf("framing %q with a 16-byte buffer:\n%q\nwant\n%q", in, got, want)
		}
	})
}

func TestParserStrings(t *testing.T) {
	p := &parser{b: []byte(`"a\"b\\c" {3}` + "\r\nx y atom NIL")}
	if got := p.astring(); got != `a"b\c` {
		t.Errorf("quoted = %q", got)
	}
	p.sp()
	if got := p.astring(); got != "x y" {
		t.Errorf("literal = %q", got)
	}
	p.sp()
	p.astring()
	p.sp()
	if _, isNil := p.nstring(); !isNil || p.err != nil {
		t.Errorf("nstring NIL: %v %v", isNil, p.err)
	}
	p.end()
	if p.err != nil {
		t.Fatal(p.err)
	}
	for _, bad := range []string{`"abc`, "{5}\r\nab", "{3}xyz", `"a\b"`} {
		p := &parser{b: []byte(bad)}
		p.astring()
		if p.err == nil {
			t.Errorf("astring(%q) accepted", bad)
		}
	}
}

func TestEncStrings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"a\r\nb", "{4}\r\na\r\nb"},
		{"ü", "{2}\r\nü"},
	} {
		if got := string(new(enc).str(tc.in).b); got != tc.want {
			t.Errorf("str(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := string(new(enc).astr("NIL").b); got != `"NIL"` {
		t.Errorf("astr(NIL) = %q", got)
	}
}

func TestAddressList(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"Joe Q. Public" <john.q.public@example.com>`, `(("Joe Q. Public" NIL "john.q.public" "example.com"))`},
		{`Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>`, `(("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "example.org")("Who?" NIL "one" "y.test"))`},
		{`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`, `((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL))`},
		{`Undisclosed recipients:;`, `((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL))`},
		{`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`, `(("Pete" NIL "pete" "silly.test"))`},
		{`<@route1,@route2:user@host>`, `((NIL "@route1,@route2" "user" "host"))`},
		{`user@host (Real Name)`, `(("Real Name" NIL "user" "host"))`},
		{`=?utf-8?q?J=C3=BCrgen?= <j@x>`, `(("=?utf-8?q?J=C3=BCrgen?=" NIL "j" "x"))`},
		{``, `NIL`},
	} {
		e := new(enc)
		writeAddresses(e, parseAddressList(tc.in))
		if got := string(e.b); got != tc.want {
			t.Errorf("address list %q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestBodyStructureEdgeCases(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		// No header at all, no trailing newline.
		{"\r\nbody", `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1 NIL NIL NIL NIL)`},
		// Multipart without boundary parameter.
		{"Content-Type: multipart/mixed\r\n\r\nx", `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)`},
		// Parameters keep order and case; languages and location.
		{"Content-Type: TEXT/Plain; Format=flowed; charset=\"ISO-8859-1\"\r\nContent-Language: en, de\r\nContent-Location: x\r\nContent-ID: <id>\r\n\r\nhi\r\n",
			`("TEXT" "Plain" ("Format" "flowed" "charset" "ISO-8859-1") "<id>" NIL "7bit" 4 1 NIL NIL ("en" "de") "x")`},
		// A digest's parts default to message/rfc822.
		{"Content-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\nSubject: s\r\n\r\nx\r\n--b--\r\n",
			`(("message" "rfc822" NIL NIL NIL "7bit" 15 (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "digest" ("boundary" "b") NIL NIL NIL)`},
		// Invalid Content-Type falls back to the default.
		{"Content-Type: garbage\r\n\r\n", `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)`},
	} {
		e := new(enc)
		raw := []byte(tc.msg)
		writeBodyStructure(e, raw, parseMessage(raw), true)
		if got := string(e.b); got != tc.want {
			t.Errorf("BODYSTRUCTURE of %q:\n got %s\nwant %s", tc.msg, got, tc.want)
		}
	}
}

func FuzzParseSeqSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "2,4:7,9,12:*", "*:4,5:7", "0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := parseSeqSet(s)
		if err != nil {
			return
		}
		again, err := parseSeqSet(set.String())
		if err != nil || again.String() != set.String() {
			t.Fatalf("round trip %q -> %q: %v", s, set.String(), err)
		}
	})
}

func FuzzModifiedUTF7(f *testing.F) {
	for _, tc := range utf7Cases {
		f.Add(tc.mutf7)
		f.Add(tc.utf8)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dec, err := decodeMailboxName(s); err == nil && utf8.ValidString(s) && isPrintableASCII(s) {
			if enc := encodeMailboxName(dec); enc != s {
				t.Fatalf("decode(%q) = %q, encodes back to %q", s, dec, enc)
			}
		}
		if utf8.ValidString(s) {
			enc := encodeMailboxName(s)
			dec, err := decodeMailboxName(enc)
			if err != nil || dec != s {
				t.Fatalf("encode(%q) = %q, decodes to %q, %v", s, enc, dec, err)
			}
		}
	})
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// FuzzCommand parses arbitrary commands the way the session does, through
// every argument parser.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>)",
		"a2 UID SEARCH CHARSET UTF-8 OR (FROM \"x\" SINCE 1-Feb-1994) NOT BODY {3}\r\nabc",
		"a3 APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5+}\r\nhello",
		"a4 LIST (SUBSCRIBED) \"\" (\"*\" %) RETURN (CHILDREN)",
		"a5 STORE 2:4 +FLAGS.SILENT (\\Deleted)",
		"a6 STATUS blurdybloop (UIDNEXT MESSAGES)",
		"a7 ID (\"name\" \"sodr\" \"version\" NIL)",
		"a8 CREATE x (USE (\\Drafts))",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &parser{b: b}
		_, name, _ := p.commandHead()
		if p.err != nil {
			return
		}
		p.sp()
		switch name {
		case "FETCH":
			p.seqSet()
			p.sp()
			parseFetchItems(p)
		case "SEARCH":
			parseSearchKeys(p, 0)
		case "STORE":
			p.seqSet()
			p.sp()
			p.atom()
			p.sp()
			p.flagList()
		case "APPEND":
			p.mailbox()
			p.sp()
			p.flagList()
			p.sp()
			p.dateTime()
			p.sp()
			p.literal()
		default:
			p.listMailbox()
			p.sp()
			p.nstring()
		}
		p.end()
		if p.pos > len(b) {
			t.Fatalf("parser overran its input")
		}
	})
}

// FuzzBodyStructure builds ENVELOPE, BODYSTRUCTURE and every section of
// arbitrary bytes: it must not panic and must produce balanced output.
func FuzzBodyStructure(f *testing.F) {
	f.Add([]byte(simpleMsg))
	f.Add([]byte(multipartMsg))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n--a--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		root := parseMessage(raw)
		e := new(enc)
		writeBodyStructure(e, raw, root, true)
		writeEnvelope(e, root)
		if bytes.Count(e.b, []byte("(")) < 1 {
			t.Fatalf("no output")
		}
		for _, spec := range []string{"1]", "1.2.MIME]", "2.1.HEADER]", "TEXT]<1.5>", "3.1.1.TEXT]", "HEADER.FIELDS (FROM)]"} {
			p := &parser{b: []byte(spec)}
			sec := p.section()
			if p.err != nil {
				t.Fatalf("section %q: %v", spec, p.err)
			}
			sec.extract(raw, root)
		}
	})
}
