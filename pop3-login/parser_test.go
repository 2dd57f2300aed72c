package pop3login

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in       string
		name     string
		args     string
		wantFail bool
	}{
		// RFC 1939, RFC 2449, RFC 2595 and RFC 5034 examples.
		{"USER mrose", "USER", "mrose", false},
		{"PASS secret", "PASS", "secret", false},
		{"pass  two words ", "PASS", "two words ", false},
		{"CAPA", "CAPA", "", false},
		{"STLS", "STLS", "", false},
		{"AUTH SCRAM-SHA-1 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM", "AUTH", "SCRAM-SHA-1 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM", false},
		{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", "APOP", "mrose c4c9334bac560ecc979e58001b3e22fb", false},
		{"QUIT", "QUIT", "", false},
		{"", "", "", true},
		{" USER x", "", "", true},
		{"USER a\x00b", "", "", true},
		{"US\x7fER", "", "", true},
		{strings.Repeat("A", maxKeyword+1), "", "", true},
	}
	for _, tt := range tests {
		got, err := parseCommand([]byte(tt.in))
		if (err != nil) != tt.wantFail || got.name != tt.name || string(got.args) != tt.args {
			t.Errorf("parseCommand(%q) = %q %q, %v; want %q %q (fail %v)", tt.in, got.name, got.args, err, tt.name, tt.args, tt.wantFail)
		}
	}
}

func TestReadLine(t *testing.T) {
	in := "USER u\r\nPASS p\n" + strings.Repeat("x", 40) + "\r\nrest"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	for _, want := range []string{"USER u", "PASS p"} {
		if got, err := readLine(r, 32); err != nil || string(got) != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(r, 32); !errors.Is(err, errLineTooLong) {
		t.Fatalf("readLine of a long line: %v", err)
	}
	r = bufio.NewReader(strings.NewReader("rest"))
	if _, err := readLine(r, 32); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("readLine of an unterminated line: %v", err)
	}
}

// FuzzCommand: the pre-auth reader and parser never panic, respect the
// line limit, and what they accept is a well-formed command.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"USER mrose\r\n", "PASS secret\r\n", "CAPA\r\nSTLS\r\n", "AUTH PLAIN AHUAcA==\r\n",
		"AUTH PLAIN =\r\n", "AUTH\r\n", "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n", "QUIT\n", "\r\n", "X\x00\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReaderSize(strings.NewReader(in), 16)
		for range 8 {
			line, err := readLine(r, 64)
			if err != nil {
				return
			}
			if len(line) > 64 {
				t.Fatalf("readLine returned %d bytes, limit 64", len(line))
			}
			cmd, err := parseCommand(line)
			if err != nil {
				continue
			}
			if cmd.name == "" || len(cmd.name) > maxKeyword || strings.ToUpper(cmd.name) != cmd.name ||
				bytes.ContainsAny(cmd.args, "\x00\r\n") || bytes.HasPrefix(cmd.args, []byte(" ")) {
				t.Fatalf("parseCommand(%q) = %+v", line, cmd)
			}
		}
	})
}
