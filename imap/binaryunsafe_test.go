package imap

import (
	"strings"
	"testing"
)

// binaryUnsafeBytes is binaryUnsafe one byte at a time, as RFC 3516's
// rule reads: NUL, a CR not before LF, an LF not after CR.
func binaryUnsafeBytes(b []byte) bool {
	for i, c := range b {
		switch c {
		case 0:
			return true
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return true
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return true
			}
		}
	}
	return false
}

var binaryUnsafeCases = []string{
	"", "\r\n", "a\r\nb\r\n", "\n", "\r", "a\nb", "a\rb", "a\r\r\nb", "a\r\n\nb", "\r\n\r\n",
	"x\r\n\x00", "\x00", "abc", "abc\r", "\nabc", "a\r\n\r", "Subject: x\r\n\r\nbody\r\n",
	strings.Repeat("line of text\r\n", 100) + "lone\rcr\r\n",
	strings.Repeat("line of text\r\n", 100) + "bare lf\n",
}

// TestBinaryUnsafe: binaryUnsafe answers as the rule read byte by byte.
func TestBinaryUnsafe(t *testing.T) {
	for _, c := range binaryUnsafeCases {
		if got, want := binaryUnsafe([]byte(c)), binaryUnsafeBytes([]byte(c)); got != want {
			t.Errorf("binaryUnsafe(%.40q) = %v, want %v", c, got, want)
		}
	}
}

func FuzzBinaryUnsafe(f *testing.F) {
	for _, c := range binaryUnsafeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := binaryUnsafe(b), binaryUnsafeBytes(b); got != want {
			t.Errorf("binaryUnsafe(%q) = %v, want %v", b, got, want)
		}
	})
}

// BenchmarkBinaryUnsafe is APPEND's check of a 15 KB text message.
func BenchmarkBinaryUnsafe(b *testing.B) {
	raw := fetchBenchMsg(1)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if binaryUnsafe(raw) {
			b.Fatal("unsafe")
		}
	}
}
