package config

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// noFiles is a parser that never touches the file system, so that fuzz
// inputs cannot read (or glob) the machine's files.
func noFiles(s *Settings) *parser {
	p := newParser(s)
	p.readFile = func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	p.glob = func(string) ([]string, error) { return nil, nil }
	return p
}

// FuzzParse checks that no input makes the parser panic, and that whatever
// parses without syntax errors prints (WriteAll) to text that parses back to
// the same settings.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"golden", "errors"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.conf"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	f.Add(DevText("/dev/dir", DevIDs{Root: true}))
	f.Add("a = \"\\\nb\\\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, errs := parseOnly("fuzz", "", text, noFiles)
		_ = s.Validate()
		var b bytes.Buffer
		if err := s.WriteNonDefault(&b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		if err := s.WriteAll(&b); err != nil {
			t.Fatal(err)
		}
		if len(errs) != 0 {
			return
		}
		s2, errs2 := parseOnly("fuzz-out", "", b.String(), noFiles)
		if len(errs2) != 0 {
			t.Fatalf("WriteAll output does not parse: %v\ninput:\n%s\noutput:\n%s", errs2, text, b.String())
		}
		// <file values cannot be read back without files; compare the rest.
		if len(s.files) == 0 && s.SSLCertPath == "" && s.SSLKeyPath == "" && !equalSettings(s, s2) {
			t.Fatalf("WriteAll output parses to different settings\ninput:\n%s\noutput:\n%s", text, b.String())
		}
	})
}
