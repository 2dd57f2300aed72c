package storage

import (
	"strings"
	"testing"
)

func TestCachedField(t *testing.T) {
	for name, want := range map[string]bool{
		"Subject":                              true,
		"SUBJECT":                              true,
		"subject":                              true,
		"Message-ID":                           true,
		"Content-Type":                         true,
		"CONTENT-X-" + strings.Repeat("A", 40): true, // longer than the stack buffer
		"Received":                             false,
		"X-Other":                              false,
		"Subjects":                             false,
		"":                                     false,
		"Content":                              false,
		"ſubject":                              false, // not ASCII: FETCH reads such a field from the message
		strings.Repeat("B", 40):                false,
	} {
		if got := CachedField(name); got != want {
			t.Errorf("CachedField(%q) = %v, want %v", name, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { CachedField("Reply-To") }); n != 0 {
		t.Errorf("CachedField allocates %v times", n)
	}
}
