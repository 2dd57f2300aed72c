package pop3

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/textproto"
	"testing"
)

// dotted returns what w sends for msg written in pieces of the sizes
// cuts gives, and closed.
func dotted(t *testing.T, msg []byte, cuts []int, std bool) string {
	t.Helper()
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 64)
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if std {
		w = textproto.NewWriter(bw).DotWriter()
	} else {
		w = newDotWriter(bw)
	}
	for _, c := range cuts {
		c = min(c, len(msg))
		if n, err := w.Write(msg[:c]); n != c || err != nil {
			t.Fatalf("Write(%q) = %d, %v", msg[:c], n, err)
		}
		msg = msg[c:]
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	return out.String()
}

func TestDotWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "\r\n.\r\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"a\nb", "a\r\nb\r\n.\r\n"},
		{".\r\n..\r\n.x", "..\r\n...\r\n..x\r\n.\r\n"},
		{"x\r", "x\r\n.\r\n"},
		{"\r\n.\r\n", "\r\n..\r\n.\r\n"},
		{"a\rb\n.c", "a\rb\r\n..c\r\n.\r\n"},
		{"a\r\r\nb", "a\r\r\nb\r\n.\r\n"},
	}
	for _, tt := range tests {
		if got := dotted(t, []byte(tt.in), nil, false); got != tt.want {
			t.Errorf("dot-stuffing %q = %q, want %q", tt.in, got, tt.want)
		}
		// The same split at every byte.
		cuts := make([]int, len(tt.in))
		for i := range cuts {
			cuts[i] = 1
		}
		if got := dotted(t, []byte(tt.in), cuts, false); got != tt.want {
			t.Errorf("dot-stuffing %q a byte at a time = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDotWriterLikeTextproto checks random bodies written in random
// pieces against net/textproto's DotWriter. The bodies have no CR CR,
// after which textproto adds a CR even before a CRLF.
func TestDotWriterLikeTextproto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab.\r\n")
	for range 2000 {
		msg := make([]byte, rng.IntN(40))
		for i := range msg {
			msg[i] = alphabet[rng.IntN(len(alphabet))]
			for i > 0 && msg[i-1] == '\r' && msg[i] == '\r' {
				msg[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		var cuts []int
		for range rng.IntN(5) {
			cuts = append(cuts, rng.IntN(10))
		}
		got, want := dotted(t, msg, cuts, false), dotted(t, msg, cuts, true)
		if got != want {
			t.Fatalf("dot-stuffing %q in pieces %v = %q, want %q (textproto)", msg, cuts, got, want)
		}
	}
}
