package mbox

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWriterRoundTrip writes messages with Writer and reads them back
// with ParseFile: the same bytes, flags and dates, with >From quoting
// where a body has From_ lines.
func TestWriterRoundTrip(t *testing.T) {
	date := time.Date(2021, 3, 4, 5, 6, 7, 0, time.FixedZone("", -5*3600))
	tests := []struct {
		name    string
		content string
		flags   []string
		quoted  bool // the file has one '>' more than the content
	}{
		{"plain", "Subject: a\r\n\r\nbody\r\n", []string{`\Seen`, `\Flagged`}, false},
		{"from lines", "Subject: b\n\nFrom here\n>From there\n>>From far\nFromage\n", []string{`\Answered`, "$Label1"}, true},
		{"no final newline", "Subject: c\n\nFrom x\nend", nil, false},
		{"stale status headers", "Subject: d\nStatus: RO\nX-Keywords: old\n\nx\n", []string{`\Draft`, `\Deleted`}, false},
		{"header only", "Subject: e\n", nil, false},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, []string{"$Label1"})
	for _, tc := range tests {
		if err := w.Write(Message{Sender: "a@example.org", Date: date, Flags: tc.flags, Content: []byte(tc.content)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "From a@example.org  ") || !strings.Contains(buf.String(), "\n>>From there\n") {
		t.Errorf("written file:\n%s", buf.String())
	}
	f := ParseFile(buf.Bytes())
	if f.Len() != len(tests) || f.Garbage {
		t.Fatalf("ParseFile = %d messages (garbage %v), want %d:\n%s", f.Len(), f.Garbage, len(tests), buf.String())
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := f.Message(i)
			want := strings.ReplaceAll(tc.content, "\r\n", "\n")
			if tc.name == "stale status headers" {
				want = "Subject: d\n\nx\n"
			}
			if string(m.Content) != want {
				t.Errorf("Message(%d).Content = %q, want %q", i, m.Content, want)
			}
			if !m.Date.Equal(date) || m.Sender != "a@example.org" {
				t.Errorf("Message(%d) date %v sender %q, want %v a@example.org", i, m.Date, m.Sender, date)
			}
			if got, want := sorted(m.Flags), sorted(tc.flags); !slices.Equal(got, want) {
				t.Errorf("Message(%d).Flags = %v, want %v", i, got, want)
			}
		})
	}
}

// TestParseFileOthers reads mbox files as mutt (Status, X-Status,
// mboxo quoting, no zone in the From_ line) and Thunderbird
// (X-Mozilla-Status, X-Mozilla-Keys) write them.
func TestParseFileOthers(t *testing.T) {
	tests := []struct {
		name, file string
		flags      []string
		content    string
		date       time.Time
	}{
		{"mutt", "From bob@example.org Tue Feb  2 10:00:00 2021\nSubject: m\nStatus: RO\nX-Status: AF\n\n>From the start\n\n",
			[]string{`\Seen`, `\Answered`, `\Flagged`}, "Subject: m\n\nFrom the start\n", time.Date(2021, 2, 2, 10, 0, 0, 0, time.Local)},
		{"thunderbird", "From - Wed Mar  3 11:12:13 2021\nX-Mozilla-Status: 0005\nX-Mozilla-Keys: $label1 todo\nSubject: t\n\nhi\n",
			[]string{`\Seen`, `\Flagged`, "$label1", "todo"}, "X-Mozilla-Status: 0005\nX-Mozilla-Keys: $label1 todo\nSubject: t\n\nhi\n",
			time.Date(2021, 3, 3, 11, 12, 13, 0, time.Local)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ParseFile([]byte(tc.file))
			if f.Len() != 1 {
				t.Fatalf("ParseFile(%q) = %d messages, want 1", tc.file, f.Len())
			}
			m := f.Message(0)
			if got, want := sorted(m.Flags), sorted(tc.flags); !slices.Equal(got, want) {
				t.Errorf("Flags = %v, want %v", got, want)
			}
			if string(m.Content) != tc.content || !m.Date.Equal(tc.date) {
				t.Errorf("Content, Date = %q, %v; want %q, %v", m.Content, m.Date, tc.content, tc.date)
			}
		})
	}
}
