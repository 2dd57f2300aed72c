package sieve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixedNow is the delivery time of the tests: a Friday.
var fixedNow = time.Date(2021, 3, 12, 15, 30, 12, 0, time.FixedZone("+0100", 3600))

func loadMessage(t testing.TB, name string) *RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type memDupes struct{ m map[string]time.Time }

func (d *memDupes) Seen(_ context.Context, id string) (bool, error) {
	_, ok := d.m[id]
	return ok, nil
}

func (d *memDupes) Mark(_ context.Context, id string, exp time.Time) error {
	d.m[id] = exp
	return nil
}

type fakeBoxes struct {
	boxes map[string]string // name -> special-use
	ids   map[string]bool
}

func (f fakeBoxes) MailboxExists(_ context.Context, name string) (bool, error) {
	_, ok := f.boxes[name]
	return ok, nil
}

func (f fakeBoxes) SpecialUseExists(_ context.Context, mailbox string, flags []string) (bool, error) {
	for name, use := range f.boxes {
		if mailbox != "" && name != mailbox {
			continue
		}
		all := true
		for _, fl := range flags {
			if !strings.EqualFold(fl, use) {
				all = false
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func (f fakeBoxes) MailboxIDExists(_ context.Context, id string) (bool, error) {
	return f.ids[id], nil
}

func testEnv(t testing.TB, msgFile string) *StaticEnv {
	return &StaticEnv{
		Env: Envelope{
			From: "coyote@desert.example.org",
			To:   "roadrunner+birdseed@acme.example.com",
			Auth: "coyote@desert.example.org",
		},
		Msg:   loadMessage(t, msgFile),
		Time:  fixedNow,
		Dupes: &memDupes{m: map[string]time.Time{}},
		Boxes: fakeBoxes{
			boxes: map[string]string{"INBOX": "", "Junk": `\Junk`, "Archive": `\Archive`},
			ids:   map[string]bool{"F6352ae03-b7f5-463c-896f-d8b48ee3": true},
		},
		Items: map[string]string{"remote-ip": "192.0.2.1", "host": "mx.example.com"},
		Spam:  ScoreTest{Header: "X-Spam-Score", Type: "score", Max: 10},
		Virus: ScoreTest{Header: "X-Virus", Type: "text", Text: map[string]string{"clean": "1", "infected": "5"}},
	}
}

type mapResolver map[string]string

func (m mapResolver) ResolveInclude(loc Location, name string) ([]byte, error) {
	src, ok := m[loc.String()+":"+name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrScriptNotFound)
	}
	return []byte(src), nil
}

func compileAll(src string) (*Script, error) {
	return Compile([]byte(src), CompileOptions{Extensions: AllExtensions()})
}

// summary renders a result's actions compactly for comparisons.
func summary(res *Result) string {
	var parts []string
	for _, a := range res.Actions {
		switch a := a.(type) {
		case Keep:
			s := "keep"
			if a.Implicit {
				s = "implicit-keep"
			}
			if len(a.Flags) > 0 {
				s += "[" + strings.Join(a.Flags, " ") + "]"
			}
			parts = append(parts, s)
		case FileInto:
			s := "fileinto:" + a.Mailbox
			if a.Copy {
				s += ":copy"
			}
			if a.Create {
				s += ":create"
			}
			if a.SpecialUse != "" {
				s += ":use=" + a.SpecialUse
			}
			if a.MailboxID != "" {
				s += ":id=" + a.MailboxID
			}
			if len(a.Flags) > 0 {
				s += "[" + strings.Join(a.Flags, " ") + "]"
			}
			parts = append(parts, s)
		case Redirect:
			s := "redirect:" + a.Address
			if a.Copy {
				s += ":copy"
			}
			parts = append(parts, s)
		case Reject:
			if a.Extended {
				parts = append(parts, "ereject:"+a.Reason)
			} else {
				parts = append(parts, "reject:"+a.Reason)
			}
		case Discard:
			parts = append(parts, "discard")
		case Vacation:
			parts = append(parts, "vacation:"+a.To+":"+a.Subject)
		case Notify:
			parts = append(parts, "notify:"+a.Method+":"+a.Message)
		}
	}
	return strings.Join(parts, "; ")
}

type runCase struct {
	name    string
	script  string
	msg     string // file in testdata; coyote.eml when empty
	env     func(*StaticEnv)
	want    string // summary
	wantErr string // substring of the compile or run error
}

func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg
			if msg == "" {
				msg = "coyote.eml"
			}
			env := testEnv(t, msg)
			if tc.env != nil {
				tc.env(env)
			}
			s, err := compileAll(tc.script)
			if err == nil {
				var res *Result
				res, err = s.Run(context.Background(), env)
				if err == nil {
					if tc.wantErr != "" {
						t.Fatalf("Run = %q, want error %q", summary(res), tc.wantErr)
					}
					if got := summary(res); got != tc.want {
						t.Errorf("Run = %q, want %q", got, tc.want)
					}
					return
				}
			}
			if tc.wantErr == "" || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
