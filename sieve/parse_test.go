package sieve

import (
	"strings"
	"testing"
)

func TestLexer(t *testing.T) {
	cases := []struct {
		src  string
		want string
	}{
		{`keep;`, "ident:keep ;"},
		{`KEEP ;`, "ident:keep ;"},
		{`:Is :contains`, "tag:is tag:contains"},
		{`1 10K 2M 3g`, "num:1 num:10240 num:2097152 num:3221225472"},
		{`"a\"b\\c\d"`, `str:a"b\cd`},
		{"# comment\nkeep /* multi\nline */ ;", "ident:keep ;"},
		{"text: # trailing comment\r\nline\r\n..dotted\r\n.\r\n", "str:line\r\n.dotted\r\n"},
		{"text:\n.\n", "str:"},
		{`[ "a" , "b" ] ( ) { }`, `[ str:a , str:b ] ( ) { }`},
		{"\"multi\nline\"", "str:multi\r\nline"},
	}
	for _, tc := range cases {
		lx := newLexer([]byte(tc.src))
		var parts []string
		for {
			tok := lx.next()
			if tok.kind == tEOF {
				break
			}
			switch tok.kind {
			case tIdent:
				parts = append(parts, "ident:"+tok.text)
			case tTag:
				parts = append(parts, "tag:"+tok.text)
			case tNumber:
				parts = append(parts, "num:"+itoa(tok.num))
			case tString:
				parts = append(parts, "str:"+tok.text)
			default:
				parts = append(parts, strings.Trim(tok.kind.String(), "'"))
			}
		}
		if lx.err != nil {
			t.Errorf("lex(%q) error %v", tc.src, lx.err)
			continue
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("lex(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{`keep`, "1:5: expected ';' or '{' after keep, found end of script"},
		{"keep;\n  \"x\";", "2:3: expected a command, found string"},
		{`if true { keep;`, "1:16: expected '}', found end of script"},
		{`}`, "1:1: unexpected '}'"},
		{`"unterminated`, "1:1: unterminated string"},
		{"/* open", "1:1: unterminated bracket comment"},
		{"reject text:\nno end\n", "1:8: unterminated multi-line string (missing \".\" line)"},
		{"reject text: x\n.\n;", "1:14: expected end of line after \"text:\""},
		{`if header ["a" "b"] {}`, `1:16: expected ',' or ']' in the string list, found string`},
		{`if anyof(true; ) {}`, `1:14: expected ',' or ')' in the test list, found ';'`},
		{`keep : ;`, "1:6: expected a tag name after ':'"},
		{`size :over 99999999999999999999G;`, "1:12: number too large"},
		{`keep @;`, "1:6: unexpected character '@'"},
		{`if size :over 10x {}`, "1:17: unexpected character 'x' after number"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestCompileErrorPositions(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{"require \"fileinto\";\nif true {\n  fileinto 1;\n}", "3:12: fileinto expects a string, found a number"},
		{"if header :comparator \"i;frob\" \"a\" \"b\" {}", `1:23: unknown comparator "i;frob"`},
		{"keep \"x\";", "1:1: keep takes 0 positional argument(s), found 1"},
		{"if true;", "1:1: if needs a block"},
		{"if keep {}", "1:4: keep is a command, not a test"},
		{"true;", "1:1: true is a test, not a command"},
		{"if header :is \"a\" {}", "1:4: header takes 2 positional argument(s), found 1"},
		{"if not (true, false) {}", "1:4: not needs one test"},
		{"if anyof(true false) {}", "1:15: true takes no test"},
		{"require [\"variables\"];\nset \"a\";", "2:1: set takes 2 positional argument(s), found 1"},
		{"redirect \"a@example.com\" :copy;", "1:26: tag :copy after positional arguments of redirect"},
	}
	for _, tc := range cases {
		_, err := Compile([]byte(tc.src), CompileOptions{Extensions: AllExtensions()})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Compile(%q) = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestExtensions(t *testing.T) {
	s, unknown := ParseExtensions(DefaultExtensions(), "+editheader -regex +frob")
	if !s["editheader"] || s["regex"] || len(unknown) != 1 || unknown[0] != "frob" {
		t.Errorf("ParseExtensions = %v, %v", s, unknown)
	}
	s, _ = ParseExtensions(DefaultExtensions(), "fileinto reject")
	if got := s.Capability(); got != "fileinto reject" {
		t.Errorf("Capability = %q", got)
	}
	if _, err := Compile([]byte(`require "editheader";`), CompileOptions{}); err == nil {
		t.Error("editheader is enabled by default")
	}
	if _, err := Compile([]byte(`require "fileinto";`), CompileOptions{Extensions: s}); err != nil {
		t.Error(err)
	}
}
