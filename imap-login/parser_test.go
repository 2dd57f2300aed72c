package imaplogin

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// parse runs the command reader over input, counting continuation
// requests.
func parse(input string) (*command, int, error) {
	conts := 0
	p := parser{r: bufio.NewReaderSize(strings.NewReader(input), 16<<10), cont: func() error { conts++; return nil }}
	cmd, err := p.readCommand()
	return cmd, conts, err
}

func TestReadCommand(t *testing.T) {
	atom := func(s string) arg { return arg{kind: argAtom, s: s} }
	str := func(s string) arg { return arg{kind: argString, s: s} }
	tests := []struct {
		in      string
		want    *command
		conts   int
		wantErr string // "" for none; "BAD" for a syntax error; else error text
	}{
		// RFC 9051 section 6 examples.
		{"abcd CAPABILITY\r\n", &command{tag: "abcd", name: "CAPABILITY"}, 0, ""},
		{"a002 NOOP\r\n", &command{tag: "a002", name: "NOOP"}, 0, ""},
		{"a001 login SMITH SESAME\r\n", &command{tag: "a001", name: "LOGIN", args: []arg{atom("SMITH"), atom("SESAME")}}, 0, ""},
		{"A001 AUTHENTICATE GSSAPI\r\n", &command{tag: "A001", name: "AUTHENTICATE", args: []arg{atom("GSSAPI")}}, 0, ""},
		{"a ID (\"name\" \"sodr\" \"version\" NIL)\r\n", &command{tag: "a", name: "ID", args: []arg{{kind: argList,
			list: []arg{str("name"), str("sodr"), str("version"), atom("NIL")}}}}, 0, ""},
		{"a LOGIN \"fred \\\"q\\\\\" {4}\r\nab\"c\r\n", &command{tag: "a", name: "LOGIN", args: []arg{str("fred \"q\\"), str("ab\"c")}}, 1, ""},
		{"a LOGIN {1+}\r\nu {2+}\r\np]\r\n", &command{tag: "a", name: "LOGIN", args: []arg{str("u"), str("p]")}}, 0, ""},
		{"a] NOOP\n", &command{tag: "a]", name: "NOOP"}, 0, ""},
		{"a LOGIN u p", nil, 0, io.ErrUnexpectedEOF.Error()},
		{"\r\n", nil, 0, ""},
		{"+ NOOP\r\n", nil, 0, "BAD"},
		{"a\r\n", nil, 0, "BAD"},
		{"a NOOP \r\n", nil, 0, "BAD"},
		{"a LOGIN u  p\r\n", nil, 0, "BAD"},
		{"a LOGIN (u\r\n", nil, 0, "BAD"},
		{"a LOGIN u)\r\n", nil, 0, "BAD"},
		{"a LOGIN \"u\\x\" p\r\n", nil, 0, "BAD"},
		{"a LOGIN {3} p\r\n", nil, 0, "BAD"},
		{"a LOGIN {2}\r\n\x00u p\r\n", nil, 1, "BAD"},
		{"a LOGIN {99999}\r\n", nil, 0, "BAD"},
		{"a LOGIN {99999+}\r\n", nil, 0, errLiteralTooLarge.Error()},
		{"a LOGIN ( {5+}\r\n", nil, 0, errLiteralTooLarge.Error()},
		{"a ID ((((((x))))))\r\n", nil, 0, "BAD"},
		{"a LOGIN " + strings.Repeat("x", MaxLine) + "\r\n", nil, 0, errLineTooLong.Error()},
		{"a ID (\"x\" \"" + strings.Repeat("y", MaxIDLine) + "\")\r\n", nil, 0, errLineTooLong.Error()},
		{"a NOOP " + strings.Repeat("ID ", MaxLine/3) + "\r\n", nil, 0, errLineTooLong.Error()},
		{"a ID (\"x\" \"" + strings.Repeat("y", 3*MaxLine) + "\")\r\n", &command{tag: "a", name: "ID",
			args: []arg{{kind: argList, list: []arg{{kind: argString, s: "x"}, {kind: argString, s: strings.Repeat("y", 3*MaxLine)}}}}}, 0, ""},
	}
	for _, tt := range tests {
		got, conts, err := parse(tt.in)
		var se *syntaxError
		switch {
		case tt.wantErr == "BAD" && errors.As(err, &se):
		case tt.wantErr == "" && err == nil:
		case tt.wantErr != "" && err != nil && err.Error() == tt.wantErr:
		default:
			t.Errorf("readCommand(%q) error %v, want %q", tt.in, err, tt.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) || conts != tt.conts {
			t.Errorf("readCommand(%q) = %+v (%d continuations), want %+v (%d)", tt.in, got, conts, tt.want, tt.conts)
		}
	}
}

// FuzzReadCommand: the pre-auth parser never panics, stays within its
// limits and leaves the reader at a consistent place.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{"abcd CAPABILITY\r\n", "a001 login SMITH SESAME\r\n", "A001 AUTHENTICATE GSSAPI\r\n",
		"a AUTHENTICATE PLAIN AGZyZWQAdGVzdA==\r\n", "a ID (\"name\" \"sodr\" \"version\" NIL)\r\n", "a ID NIL\r\n",
		"a LOGIN {4}\r\nfred {6+}\r\nsecret\r\nb NOOP\r\n", "a STARTTLS\r\nb LOGIN u p\r\n", "a LOGIN \"a\\\\b\" x\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p := parser{r: bufio.NewReaderSize(strings.NewReader(in), 16<<10), cont: func() error { return nil }}
		for range 4 {
			cmd, err := p.readCommand()
			var se *syntaxError
			if err != nil && !errors.As(err, &se) {
				return
			}
			if cmd == nil {
				continue
			}
			if !validTag([]byte(cmd.tag)) || cmd.name == "" || p.budget < 0 {
				t.Fatalf("readCommand(%q) = %+v, budget %d", in, cmd, p.budget)
			}
		}
	})
}
