package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/config.md")

// goldenInputs returns the .conf files of a testdata directory.
func goldenInputs(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs in testdata/%s: %v", dir, err)
	}
	return files
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestGolden parses each testdata/golden/*.conf and compares `cote -n`
// output with the .golden file beside it.
func TestGolden(t *testing.T) {
	for _, in := range goldenInputs(t, "golden") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			s, err := ParseFile(in)
			if err != nil {
				t.Fatalf("ParseFile(%q) = %v, want no error", in, err)
			}
			var b bytes.Buffer
			if err := s.WriteNonDefault(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, strings.TrimSuffix(in, ".conf")+".golden", b.Bytes())
		})
	}
}

// TestGoldenErrors parses each testdata/errors/*.conf and compares the
// error text with the .err file beside it.
func TestGoldenErrors(t *testing.T) {
	for _, in := range goldenInputs(t, "errors") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			_, err := ParseFile(in)
			if err == nil {
				t.Fatalf("ParseFile(%q) = nil error, want errors", in)
			}
			if _, ok := err.(ErrorList); !ok {
				t.Errorf("ParseFile(%q) error type %T, want ErrorList", in, err)
			}
			checkGolden(t, strings.TrimSuffix(in, ".conf")+".err", []byte(err.Error()+"\n"))
		})
	}
}

// equalSettings compares two Settings, ignoring source positions.
func equalSettings(a, b *Settings) bool {
	a, b = a.Clone(), b.Clone()
	for _, s := range []*Settings{a, b} {
		s.pos, s.files = nil, nil
		for i := range s.ProtocolOverrides {
			for j := range s.ProtocolOverrides[i].Settings {
				s.ProtocolOverrides[i].Settings[j].Pos = Pos{}
			}
		}
	}
	return reflect.DeepEqual(a, b)
}

// TestRoundTrip checks that `cote -a` and `cote -n` output parse back to the
// same Settings, and that Settings survive JSON.
func TestRoundTrip(t *testing.T) {
	inputs := goldenInputs(t, "golden")
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			s, err := ParseFile(in)
			if err != nil {
				t.Fatalf("ParseFile(%q) = %v", in, err)
			}
			for _, tc := range []struct {
				name  string
				write func(*Settings, *bytes.Buffer) error
			}{
				{"WriteAll", func(s *Settings, b *bytes.Buffer) error { return s.WriteAll(b) }},
				{"WriteNonDefault", func(s *Settings, b *bytes.Buffer) error { return s.WriteNonDefault(b) }},
			} {
				var b bytes.Buffer
				if err := tc.write(s, &b); err != nil {
					t.Fatal(err)
				}
				s2, err := ParseString(tc.name+".conf", b.String())
				if err != nil {
					t.Fatalf("%s output does not parse: %v\n%s", tc.name, err, b.String())
				}
				if !equalSettings(s, s2) {
					t.Errorf("%s output parses to different Settings:\n%s", tc.name, b.String())
				}
				// Printing again gives the same text.
				var b2 bytes.Buffer
				if err := tc.write(s2, &b2); err != nil {
					t.Fatal(err)
				}
				if tc.name == "WriteAll" && b.String() != b2.String() {
					t.Errorf("%s is not stable:\n%s\n---\n%s", tc.name, b.String(), b2.String())
				}
			}

			js, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var s3 Settings
			if err := json.Unmarshal(js, &s3); err != nil {
				t.Fatal(err)
			}
			if !equalSettings(s, &s3) {
				t.Errorf("JSON round trip differs:\n%s", js)
			}
		})
	}
}

// TestDefaultsRoundTrip: the defaults print and parse back unchanged, and
// an empty config prints nothing with -n.
func TestDefaultsRoundTrip(t *testing.T) {
	d := Defaults()
	var all, non bytes.Buffer
	if err := d.WriteAll(&all); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteNonDefault(&non); err != nil {
		t.Fatal(err)
	}
	if non.Len() != 0 {
		t.Errorf("Defaults().WriteNonDefault = %q, want nothing", non.String())
	}
	s, _ := ParseString("all.conf", all.String()) // no passdb: Validate fails
	if !equalSettings(d, s) {
		t.Errorf("WriteAll of Defaults parses to different Settings")
	}
	// Settings changed in code (no positions) print what differs.
	c := Defaults()
	c.SSL = "no"
	c.Service("imap-login").ProcessMinAvail = 3
	non.Reset()
	if err := c.WriteNonDefault(&non); err != nil {
		t.Fatal(err)
	}
	if want := "service imap-login {\n  process_min_avail = 3\n}\nssl = no\n"; non.String() != want {
		t.Errorf("WriteNonDefault = %q, want %q", non.String(), want)
	}
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var d2 Settings
	if err := json.Unmarshal(js, &d2); err != nil {
		t.Fatal(err)
	}
	if !equalSettings(d, &d2) {
		t.Errorf("JSON round trip of Defaults differs")
	}
}
