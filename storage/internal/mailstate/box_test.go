package mailstate

import (
	"slices"
	"testing"
)

// TestBoxFlags: the FLAGS list is the system flags and the keywords, the
// same slice while they stay, a new one with each keyword defined, and
// right after the keywords are replaced by a list of the same length.
func TestBoxFlags(t *testing.T) {
	b := NewBox("INBOX", 1)
	first := b.flags()
	if !slices.Equal(first, SystemFlags()) {
		t.Fatalf("flags = %v, want the system flags", first)
	}
	if again := b.flags(); &again[0] != &first[0] {
		t.Error("flags made a new slice with no keyword defined")
	}
	b.DefineKeywords([]string{"$Forwarded", `\Seen`})
	got := b.flags()
	if want := append(SystemFlags(), "$Forwarded"); !slices.Equal(got, want) {
		t.Fatalf("flags = %v, want %v", got, want)
	}
	if !slices.Equal(first, SystemFlags()) {
		t.Errorf("the first list changed to %v", first)
	}
	b.Keywords = []string{"$Junk"}
	if got := b.flags(); got[len(got)-1] != "$Junk" || len(got) != len(SystemFlags())+1 {
		t.Errorf("flags after the keywords were replaced = %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { b.flags() }); n != 0 {
		t.Errorf("flags allocates %v times with the keywords unchanged", n)
	}
}
