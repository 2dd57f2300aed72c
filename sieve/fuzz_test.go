package sieve

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func scriptSeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "scripts", "*.sieve"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed scripts: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestSeedScriptsCompileAndRun(t *testing.T) {
	for _, src := range scriptSeeds(t) {
		s, err := Compile(src, CompileOptions{Extensions: AllExtensions(), Include: mapResolver{}})
		if err != nil {
			t.Errorf("Compile: %v", err)
			continue
		}
		for _, msg := range []string{"coyote.eml", "mime.eml"} {
			if _, err := s.Run(context.Background(), testEnv(t, msg)); err != nil {
				t.Errorf("Run(%s): %v", msg, err)
			}
		}
	}
}

// FuzzCompile checks that no script makes the lexer, parser or checker
// panic or hang, and that what compiles also runs within its limits.
func FuzzCompile(f *testing.F) {
	for _, s := range scriptSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("text:\n..\n.\n"))
	f.Add([]byte(`require "encoded-character"; keep "${unicode:1F600}${hex:ff}";`))
	f.Add([]byte(`/* */ # x` + "\n" + `if anyof(not true, false) { stop; }`))
	msg := loadMessage(f, "mime.eml")
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Compile(src, CompileOptions{
			Extensions: AllExtensions(), Include: mapResolver{"personal:a": "keep;"},
			Limits: Limits{MaxTime: time.Second},
		})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Compile error %T %v is not *Error", err, err)
			}
			return
		}
		env := testEnv(t, "coyote.eml")
		env.Msg = msg
		_, _ = s.Run(context.Background(), env)
	})
}

// FuzzHeader covers the decoding of untrusted header fields: RFC 2047
// words in any charset, address lists and dates.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
		"=?iso-8859-1?q?caf=E9_na=EFve?= =?utf-8?b?w7xiZXI=?=",
		"=?koi8-r?b?8NLJ18XU?=",
		`"Wile E." <wile+traps@acme.example.com>, boss@acme.example.com`,
		"undisclosed-recipients:;",
		"Group: a@b.c, d@e.f;, \"x,y\" <z@w>",
		"Tue, 1 Apr 1997 09:06:31 -0800 (PST)",
		"from a by b; Fri, 12 Mar 2021 15:30:12 +0100",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		decodeHeaderValue(v)
		parseAddressList(v)
		parseMessageDate(v)
		_, _ = ParseMailto("mailto:" + v)
		_, _ = decodeEncodedChars(v)
	})
}

// FuzzMessage covers reading a message's header and MIME structure.
func FuzzMessage(f *testing.F) {
	for _, name := range []string{"coyote.eml", "mime.eml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s, err := Compile([]byte(`require ["body","date","relational"];
if anyof(body :raw :contains "x", body :content "" :contains "y", body :text :contains "z",
  address :all :contains ["from","to","cc"] "@", date :value "gt" "date" "year" "2000") { keep; }`),
		CompileOptions{Extensions: AllExtensions()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := NewMessage(raw)
		if err != nil {
			return
		}
		env := testEnv(t, "coyote.eml")
		env.Msg = msg
		if _, err := s.Run(context.Background(), env); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
