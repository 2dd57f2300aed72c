package pop3

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func testLookup(key byte) (string, error) {
	switch key {
	case 'u':
		return "1", nil
	case 'v':
		return "1700000000", nil
	case 'm':
		return "d41d8cd98f00b204e9800998ecf8427e", nil
	case 'f':
		return "1700000000.M1P2.host", nil
	}
	return "", errUIDLVar // 'g'
}

func TestExpandUIDL(t *testing.T) {
	tests := []struct{ format, want string }{
		// Dovecot's default for UIDVALIDITY 1700000000 (0x6553f100),
		// UID 1: its X modifier prints lower-case hex.
		{"%08Xu%08Xv", "000000016553f100"},
		{DefaultUIDLFormat, "000000016553f100"},
		{"%u-%v", "1-1700000000"},
		{"%Xv", "6553f100"},
		// Modifiers apply left to right: upper case, then hex.
		{"%UXv", "6553f100"},
		{"%08XUu%08XUv", "000000016553F100"},
		{"%{uid}.%{uidvalidity}", "1.1700000000"},
		{"%{md5}", "d41d8cd98f00b204e9800998ecf8427e"},
		{"%m", "d41d8cd98f00b204e9800998ecf8427e"},
		{"%f", "1700000000.M1P2.host"},
		{"%Uf", "1700000000.M1P2.HOST"},
		{"%%u", "%u"},
		{"%q", ""},
		{"a%", "a"},
		{"%{nope}", "UNSUPPORTED_VARIABLE_nope"},
		{"%{uid", "uid"},
		{"%{{uid}}", "UNSUPPORTED_VARIABLE_{uid}"},
		{"%4v", "1700"},
		{"%05u", "00001"},
		{"%3.4v", "0000"},
		{"%-3.v", "000"},
		{"%Rv", "0000000071"},
		{"%Mu", "c4ca4238a0b923820dcc509a6f75849b"},
		{"%Xu%Xq", "1"},
	}
	for _, tt := range tests {
		got, err := expandUIDL(tt.format, testLookup)
		if err != nil || got != tt.want {
			t.Errorf("expandUIDL(%q) = %q, %v; want %q", tt.format, got, err, tt.want)
		}
	}
	if _, err := expandUIDL("%g", testLookup); !errors.Is(err, errUIDLVar) {
		t.Errorf("expandUIDL(%%g) without GUIDs: err %v, want errUIDLVar", err)
	}
}

func TestHeaderFields(t *testing.T) {
	msg := "Subject: a\r\nX-UIDL:  abc\r\n\tdef \r\n\r\nX-UIDL: body\r\n"
	hdr, err := readHeader(strings.NewReader(msg))
	if err != nil || string(hdr) != "Subject: a\r\nX-UIDL:  abc\r\n\tdef \r\n" {
		t.Fatalf("readHeader = %q, %v", hdr, err)
	}
	// Unfolding removes the line break and keeps the white space.
	if u, ok := xUIDL(hdr); !ok || u != "abc\tdef" {
		t.Errorf("xUIDL = %q, %v; want %q", u, ok, "abc\tdef")
	}
	if _, ok := xUIDL([]byte("Subject: x\r\n")); ok {
		t.Error("xUIDL found a field in a header without one")
	}
	if got := headerMD5(nil); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("headerMD5(empty) = %s", got)
	}
	// A header line exactly as long as the read buffer is not taken
	// for the end of the header.
	long := "X-Long: " + strings.Repeat("a", 4096-len("X-Long: ")-1) + "\n"
	hdr, _ = readHeader(strings.NewReader(long + "Subject: b\n\nbody"))
	if string(hdr) != long+"Subject: b\n" {
		t.Errorf("readHeader of a long line = %d bytes", len(hdr))
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want command
		err  bool
	}{
		// RFC 1939 examples.
		{"STAT", command{name: "STAT"}, false},
		{"list 2", command{name: "LIST", args: "2"}, false},
		{"TOP 1 10", command{name: "TOP", args: "1 10"}, false},
		{"UIDL", command{name: "UIDL"}, false},
		{"PASS my secret  word", command{name: "PASS", args: "my secret  word"}, false},
		{"DELE   1", command{name: "DELE", args: "1"}, false},
		{"", command{}, true},
		{" STAT", command{}, true},
		{"ST\x01T", command{}, true},
		{"PASS a\x00b", command{}, true},
		{"PASS a\rb", command{}, true},
		{strings.Repeat("X", maxKeyword+1), command{}, true},
	}
	for _, tt := range tests {
		got, err := parseCommand([]byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseCommand(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("STAT\r\nLIST\n"+strings.Repeat("x", 100)+"\r\nNOOP\r\nQUIT"), 16)
	for _, want := range []string{"STAT", "LIST", "!long", "NOOP", "!eof"} {
		got, err := readLine(r, 50)
		switch want {
		case "!long":
			if !errors.Is(err, errLineTooLong) {
				t.Errorf("readLine of a long line: %q, %v", got, err)
			}
		case "!eof":
			if err == nil {
				t.Errorf("readLine of an unterminated line: %q, nil", got)
			}
		default:
			if err != nil || string(got) != want {
				t.Errorf("readLine = %q, %v; want %q", got, err, want)
			}
		}
	}
}

// FuzzCommand: the command reader and parser never panic, and what they
// accept is a well-formed command.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"STAT\r\n", "LIST 1\r\n", "RETR 1\r\nDELE 1\r\nQUIT\r\n", "TOP 1 10\r\n",
		"UIDL\r\n", "uidl 2\n", "PASS a b\r\n", "CAPA\r\n", "\r\n", "LIST 99999999999999999999999\r\n", "X\x00Y\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReaderSize(strings.NewReader(in), 64)
		for range 8 {
			line, err := readLine(r, 128)
			if errors.Is(err, errLineTooLong) {
				continue
			}
			if err != nil {
				return
			}
			if len(line) > 128 {
				t.Fatalf("readLine returned %d bytes, limit 128", len(line))
			}
			cmd, err := parseCommand(line)
			if err != nil {
				continue
			}
			if cmd.name == "" || len(cmd.name) > maxKeyword || strings.ToUpper(cmd.name) != cmd.name ||
				strings.ContainsAny(cmd.name+cmd.args, "\x00\r\n") || strings.HasPrefix(cmd.args, " ") {
				t.Fatalf("parseCommand(%q) = %+v", line, cmd)
			}
			a, rest := splitArg(cmd.args)
			if strings.Contains(a, " ") || strings.HasPrefix(rest, " ") {
				t.Fatalf("splitArg(%q) = %q, %q", cmd.args, a, rest)
			}
			parseNumber(a)
		}
	})
}

// FuzzExpandUIDL: any pop3_uidl_format expands without panicking.
func FuzzExpandUIDL(f *testing.F) {
	for _, s := range []string{DefaultUIDLFormat, "%u-%v", "%{uid}", "%-3.05Lu", "%{{x}", "%%", "%HNu", "%3Hu", "%.8Nv", "%Ev"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		expandUIDL(format, testLookup)
	})
}
