package imap

import (
	"slices"
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/memstore"
)

func TestParseSearchAndSearch(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	old := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range []struct {
		subject string
		flags   []string
		date    time.Time
	}{
		{"hello world", []string{storage.FlagSeen}, time.Now()},
		{"other", nil, old},
		{"say \"hi\"", []string{storage.FlagFlagged}, time.Now()},
	} {
		msg := "From: a@example.org\r\nSubject: " + m.subject + "\r\n\r\nbody of " + m.subject + "\r\n"
		if _, _, err := st.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{Flags: m.flags, Date: m.date}); err != nil {
			t.Fatal(err)
		}
	}
	mb, err := st.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	tests := []struct {
		args  []string
		boxes []string
		want  []uint32
	}{
		{nil, nil, []uint32{1, 2, 3}},
		{[]string{"all"}, nil, []uint32{1, 2, 3}},
		{[]string{"mailbox", "INBOX", "SUBJECT", "hello"}, []string{"INBOX"}, []uint32{1}},
		{[]string{"subject", "hello world"}, nil, []uint32{1}},
		{[]string{"SUBJECT", `say "hi"`}, nil, []uint32{3}},
		{[]string{"SINCE", "2021-01-01"}, nil, []uint32{1, 3}},
		{[]string{"BEFORE", "1-Jan-2021"}, nil, []uint32{2}},
		{[]string{"SINCE", "30d"}, nil, []uint32{1, 3}},
		{[]string{"BEFORE", "1w"}, nil, []uint32{2}},
		{[]string{"OR", "SEEN", "FLAGGED"}, nil, []uint32{1, 3}},
		{[]string{"NOT", "(", "SEEN", "SUBJECT", "hello", ")"}, nil, []uint32{2, 3}},
		{[]string{"UID", "2:*", "mailbox", "Sent*", "mailbox", "INBOX"}, []string{"Sent*", "INBOX"}, []uint32{2, 3}},
		{[]string{"BODY", "body of other"}, nil, []uint32{2}},
	}
	for _, tt := range tests {
		q, err := ParseSearch(tt.args)
		if err != nil {
			t.Errorf("ParseSearch(%q) = %v", tt.args, err)
			continue
		}
		if !slices.Equal(q.Mailboxes, tt.boxes) {
			t.Errorf("ParseSearch(%q).Mailboxes = %q, want %q", tt.args, q.Mailboxes, tt.boxes)
		}
		got, err := Search(mb, q)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Search(%q) = %v, %v, want %v", tt.args, got, err, tt.want)
		}
	}
	for _, bad := range [][]string{
		{"NOSUCHKEY"},
		{"SUBJECT"},
		{"mailbox"},
		{"(", "SEEN"},
		{"NOT", "mailbox", "INBOX"},
		{"SUBJECT", "a\r\nb"},
		{"SINCE", "yesterday"},
	} {
		if _, err := ParseSearch(bad); err == nil {
			t.Errorf("ParseSearch(%q) succeeded, want an error", bad)
		}
	}
}
