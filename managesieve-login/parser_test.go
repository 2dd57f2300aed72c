package managesievelogin

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func newReader(in string) *reader {
	return &reader{r: bufio.NewReaderSize(strings.NewReader(in), 16)}
}

func TestReadCommand(t *testing.T) {
	str := func(s string) arg { return arg{s: []byte(s)} }
	atom := func(s string) arg { return arg{atom: true, s: []byte(s)} }
	tests := []struct {
		in      string
		want    command
		wantErr string // "" none; "SYNTAX" a syntax error; else the error text
	}{
		// RFC 5804 section 2.1 and 2.13 examples.
		{"AUTHENTICATE \"PLAIN\" \"QJIrweAPyo6Q1T9xu\"\r\n", command{name: "AUTHENTICATE", args: []arg{str("PLAIN"), str("QJIrweAPyo6Q1T9xu")}}, ""},
		{"Authenticate \"DIGEST-MD5\"\r\n", command{name: "AUTHENTICATE", args: []arg{str("DIGEST-MD5")}}, ""},
		{"AUTHENTICATE \"PLAIN\" {20+}\r\nAGFsaWNlAHMzY3JldA==\r\n", command{name: "AUTHENTICATE", args: []arg{str("PLAIN"), str("AGFsaWNlAHMzY3JldA==")}}, ""},
		{"NOOP \"STARTTLS-SYNC-42\"\r\n", command{name: "NOOP", args: []arg{str("STARTTLS-SYNC-42")}}, ""},
		{"\r\ncapability\n", command{name: "CAPABILITY"}, ""},
		{"NOOP {2}\r\nab\r\n", command{name: "NOOP", args: []arg{str("ab")}}, ""},
		{"AUTHENTICATE PLAIN\r\n", command{name: "AUTHENTICATE", args: []arg{atom("PLAIN")}}, ""},
		{"NOOP \"a\\\"\"\r\n", command{name: "NOOP", args: []arg{str("a\"")}}, ""},
		{"NOOP \"\\n\"\r\n", command{}, "SYNTAX"},
		{"NOOP \"\xc3\"\r\n", command{}, "SYNTAX"},
		{"NOOP  \"a\"\r\n", command{}, "SYNTAX"},
		{"NOOP {2} \r\n", command{}, "SYNTAX"},
		{"NOOP {}\r\n", command{}, "SYNTAX"},
		{"{3}\r\n", command{}, "SYNTAX"},
		{"NOOP \"a", command{}, io.ErrUnexpectedEOF.Error()},
		{"NOOP {4+}\r\nab", command{}, io.ErrUnexpectedEOF.Error()},
		{"NOOP {8193+}\r\n", command{}, errLiteralTooLarge.Error()},
		{"NOOP {8000+}\r\n" + strings.Repeat("a", 8000) + " {8000+}\r\n", command{}, errLiteralTooLarge.Error()},
		{"NOOP " + strings.Repeat("a", MaxCommand) + "\r\n", command{}, errLineTooLong.Error()},
	}
	for _, tt := range tests {
		got, err := newReader(tt.in).readCommand()
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

func TestReadResponse(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"\"dGVzdA==\"\r\n", "dGVzdA==", false},
		{"{8+}\r\ndGVzdA==\r\n", "dGVzdA==", false},
		{"\"*\"\r\n", "*", false},
		{"\"\"\r\n", "", false},
		{"dGVzdA==\r\n", "", true},
		{"\"a\" \"b\"\r\n", "", true},
		{"{2+}\r\nab x\r\n", "", true},
	}
	for _, tt := range tests {
		got, err := newReader(tt.in).readResponse()
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("readResponse(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzReadCommand checks that the pre-auth reader never panics, keeps
// to MaxCommand, and that its strings survive quote and a second parse.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"AUTHENTICATE \"PLAIN\" \"QJIrweAPyo6Q1T9xu\"\r\n",
		"AUTHENTICATE \"PLAIN\" {20+}\r\nAGFsaWNlAHMzY3JldA==\r\n",
		"NOOP \"STARTTLS-SYNC-42\"\r\n",
		"NOOP {2}\r\nab\r\n\"*\"\r\n",
		"STARTTLS\r\nCAPABILITY\r\n",
		"NOOP \"a\\\"b\"\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newReader(string(in))
		for i := range 8 {
			var args []arg
			if i%2 == 0 {
				cmd, err := r.readCommand()
				if err != nil {
					var se *syntaxError
					if errors.As(err, &se) {
						continue
					}
					return
				}
				args = cmd.args
			} else {
				s, err := r.readResponse()
				if err != nil {
					var se *syntaxError
					if errors.As(err, &se) {
						continue
					}
					return
				}
				args = []arg{{s: s}}
			}
			total := 0
			for _, a := range args {
				total += len(a.s)
				if a.atom {
					continue
				}
				q := quote(string(a.s))
				again, err := newReader("X " + q + "\r\n").readCommand()
				if len(q) < MaxCommand-4 && (err != nil || len(again.args) != 1 || string(again.args[0].s) != string(a.s)) {
					t.Fatalf("quote(%q) = %q parses back as %+v, %v", a.s, q, again, err)
				}
			}
			if total > MaxCommand {
				t.Fatalf("command of %d bytes over MaxCommand", total)
			}
		}
	})
}
