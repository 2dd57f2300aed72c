package managesieve

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func testReader(input string) *reader {
	return &reader{
		r:       bufio.NewReaderSize(strings.NewReader(input), 64),
		maxLine: 2000,
		maxLiteral: func(cmd string) int64 {
			if cmd == "PUTSCRIPT" {
				return 50
			}
			return 20
		},
	}
}

func TestReadCommand(t *testing.T) {
	str := func(s string) arg { return arg{s: []byte(s)} }
	atom := func(s string) arg { return arg{atom: true, s: []byte(s)} }
	tests := []struct {
		in      string
		want    command
		wantErr string // "" none; "SYNTAX" a syntax error; else the error text
	}{
		// RFC 5804 examples.
		{"Authenticate \"PLAIN\" \"QJIrweAPyo6Q1T9xu\"\r\n", command{name: "AUTHENTICATE", args: []arg{str("PLAIN"), str("QJIrweAPyo6Q1T9xu")}}, ""},
		{"HAVESPACE \"myscript\" 999999\r\n", command{name: "HAVESPACE", args: []arg{str("myscript"), atom("999999")}}, ""},
		{"Putscript \"foo\" {31+}\r\n#comment\r\nInvalidSieveCommand\r\n\r\n", command{name: "PUTSCRIPT", args: []arg{str("foo"), str("#comment\r\nInvalidSieveCommand\r\n")}}, ""},
		{"NOOP \"STARTTLS-SYNC-42\"\r\n", command{name: "NOOP", args: []arg{str("STARTTLS-SYNC-42")}}, ""},
		{"Setactive \"\"\r\n", command{name: "SETACTIVE", args: []arg{str("")}}, ""},
		{"RENAMESCRIPT {3}\r\nfoo {3+}\r\nbar\r\n", command{name: "RENAMESCRIPT", args: []arg{str("foo"), str("bar")}}, ""},
		{"\r\n\nlistscripts\n", command{name: "LISTSCRIPTS"}, ""},
		{"GETSCRIPT \"a\\\"b\\\\c\"\r\n", command{name: "GETSCRIPT", args: []arg{str("a\"b\\c")}}, ""},
		{"GETSCRIPT \"ü\"\r\n", command{name: "GETSCRIPT", args: []arg{str("ü")}}, ""},
		{"GETSCRIPT \"a", command{}, io.ErrUnexpectedEOF.Error()},
		{"GETSCRIPT {5+}\r\nab", command{}, io.ErrUnexpectedEOF.Error()},
		{"GETSCRIPT \"\\x\"\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT \"\xff\"\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT \"a\"\"b\"\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT  \"a\"\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT {3+} \"a\"\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT {x}\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT {99999999999}\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT \"" + strings.Repeat("a", maxQuoted+1) + "\"\r\n", command{}, "SYNTAX"},
		{"(\r\n", command{}, "SYNTAX"},
		{"GETSCRIPT " + strings.Repeat("a", 2000) + "\r\n", command{}, errLineTooLong.Error()},
		{"GETSCRIPT {21+}\r\n" + strings.Repeat("a", 21) + "\r\n", command{}, "literal of 21 bytes exceeds the limit of 20 bytes"},
		{"PUTSCRIPT \"a\" {999999999+}\r\n", command{}, "literal of 999999999 bytes exceeds the limit of 50 bytes"},
	}
	for _, tt := range tests {
		got, err := testReader(tt.in).readCommand()
		var se *syntaxError
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("readCommand(%q) error %v, want %+v", tt.in, err, tt.want)
		case tt.wantErr == "SYNTAX" && !errors.As(err, &se):
			t.Errorf("readCommand(%q) = %+v, %v; want a syntax error", tt.in, got, err)
		case tt.wantErr != "" && tt.wantErr != "SYNTAX" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("readCommand(%q) = %+v, %v; want error %q", tt.in, got, err, tt.wantErr)
		case tt.wantErr == "" && !reflect.DeepEqual(got, tt.want):
			t.Errorf("readCommand(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// After a skipped literal or a bad line, the next command reads cleanly.
func TestReadCommandResync(t *testing.T) {
	r := testReader("GETSCRIPT {21+}\r\n" + strings.Repeat("a", 21) + " {3+}\r\nxyz\r\nGETSCRIPT \"ok\" ( {4}\r\nNOOP\r\nLOGOUT\r\n")
	_, err := r.readCommand()
	var le *literalError
	if !errors.As(err, &le) || !le.Skipped {
		t.Fatalf("first command: %v, want a skipped literal", err)
	}
	_, err = r.readCommand()
	var se *syntaxError
	if !errors.As(err, &se) {
		t.Fatalf("second command: %v, want a syntax error", err)
	}
	cmd, err := r.readCommand()
	if err != nil || cmd.name != "LOGOUT" {
		t.Fatalf("third command = %+v, %v; want LOGOUT", cmd, err)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"main", `"main"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"line\r\nbreak", "{11}\r\nline\r\nbreak"},
		{"\xff", "{1}\r\n\xff"},
		{strings.Repeat("x", maxQuoted+1), "{1025}\r\n" + strings.Repeat("x", maxQuoted+1)},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzReadCommand checks that the command reader never panics, stays
// within its limits, and that every string it returns survives quote
// and a second parse.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"Authenticate \"PLAIN\" \"QJIrweAPyo6Q1T9xu\"\r\n",
		"Putscript \"foo\" {31+}\r\n#comment\r\nInvalidSieveCommand\r\n\r\n",
		"HAVESPACE \"myscript\" 999999\r\n",
		"NOOP \"STARTTLS-SYNC-42\"\r\n",
		"RENAMESCRIPT {3}\r\nfoo {3+}\r\nbar\r\n",
		"GETSCRIPT ((( {5+}\r\nhello\r\n",
		"GETSCRIPT \"a\\\"b\"\r\n",
		"PUTSCRIPT \"a\" {99+}\r\nx",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := testReader(string(in))
		for range 8 {
			cmd, err := r.readCommand()
			if err != nil {
				var se *syntaxError
				var le *literalError
				if errors.As(err, &se) || errors.As(err, &le) && le.Skipped {
					continue
				}
				return
			}
			for _, a := range cmd.args {
				if !a.atom && len(a.s) > max(r.maxLine, int(r.maxLiteral(cmd.name))) {
					t.Fatalf("argument of %d bytes exceeds the limits", len(a.s))
				}
				if a.atom {
					continue
				}
				q := quote(string(a.s))
				back := testReader("X " + q + "\r\n")
				back.maxLiteral = func(string) int64 { return 1 << 20 }
				again, err := back.readCommand()
				if err != nil || len(again.args) != 1 || string(again.args[0].s) != string(a.s) {
					t.Fatalf("quote(%q) = %q parses back as %+v, %v", a.s, q, again, err)
				}
			}
		}
	})
}
