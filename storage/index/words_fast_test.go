package index

import (
	"maps"
	"strings"
	"testing"
)

// checkFastPaths checks the ASCII fast paths against folding the whole
// text: a search finds a query exactly when the folded text contains
// it, and the indexed words are those of the folded text.
func checkFastPaths(t *testing.T, text, query string) {
	fq := Fold(query)
	if got, want := containsFolded(text, fq), strings.Contains(Fold(text), fq); got != want {
		t.Fatalf("containsFolded(%q, %q) = %v, want %v", text, fq, got, want)
	}
	seen, wantSeen := map[string]uint8{"the": 1}, map[string]uint8{"the": 1}
	got, ok := textWordSet(text, seen, 2)
	want, wantOK := wordSet(Fold(text), wantSeen, 2)
	if got != want || ok != wantOK || !maps.Equal(seen, wantSeen) {
		t.Fatalf("textWordSet(%q) = %q, %v, %v; want %q, %v, %v", text, got, ok, seen, want, wantOK, wantSeen)
	}
}

func TestFoldedFastPaths(t *testing.T) {
	long := strings.Repeat("x", MaxTerm+1)
	tests := []struct{ text, query string }{
		{"The QuillFeatherZyx remark", "quillfeatherzyx"},
		{"the quillfeatherzy", "quillfeatherzyx"}, // cut short at the end
		{"aaab", "AAB"}, // the first candidate fails, the next matches
		{"Report REPORT report", "ort rep"},
		{"Subject: Schöne Grüße", "GRÜSSE"},
		{"ﬁne ligatures", "fine"}, // non-ASCII text folds to ASCII
		{"plain ascii", "grüße"},  // a non-ASCII query in ASCII text
		{"The the THE tHe", "the"},
		{"x " + long + " y", "xxx"},
		{"", "a"},
		{"abc", ""},
		{"123 Abc9 9abc", "C9 9"},
		{"zebra&quagga-Zebra", "A&Q"},
	}
	for _, tt := range tests {
		checkFastPaths(t, tt.text, tt.query)
	}
}

func FuzzFoldedFastPaths(f *testing.F) {
	f.Add("The QuillFeatherZyx remark", "quillfeatherzyx")
	f.Add("aaab AaAb", "aab")
	f.Add("Schöne Grüße", "grüsse")
	f.Fuzz(func(t *testing.T, text, query string) {
		if len(text) > 4096 || len(query) > 256 {
			return
		}
		checkFastPaths(t, text, query)
	})
}
