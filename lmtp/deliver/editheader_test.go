package deliver

import (
	"context"
	"io"
	"strings"
	"testing"

	"cote/storage/memstore"
)

// TestEditedHeader: a filter that edited the header (RFC 5293) has every
// stored copy and every redirect carry it, with the body unchanged; the
// redirect without Return-Path. A header that does not fit the message
// is ignored.
func TestEditedHeader(t *testing.T) {
	full := "Return-Path: <a@example.org>\r\nDelivered-To: alice+lists@example.com\r\n" + testMsg
	bodyOff := int64(strings.Index(full, "\r\n\r\n") + 4)
	edited := "X-Filtered: yes\r\nReturn-Path: <a@example.org>\r\nDelivered-To: alice+lists@example.com\r\nSubject: [tagged] hello\r\nFrom: a@example.org\r\n\r\n"
	for _, tc := range []struct {
		name       string
		header     string
		bodyOff    int64
		wantStored string
		wantSent   string
	}{
		{"edited", edited, bodyOff, edited + "body line\r\n",
			"bob@example.net|X-Filtered: yes\r\nDelivered-To: alice+lists@example.com\r\nSubject: [tagged] hello\r\nFrom: a@example.org\r\n\r\nbody line\r\n"},
		{"offset out of range", edited, int64(len(full)) + 1, full, "bob@example.net|Delivered-To: alice+lists@example.com\r\n" + testMsg},
		{"not a header section", "X-Filtered: yes\r\n", bodyOff, full, "bob@example.net|Delivered-To: alice+lists@example.com\r\n" + testMsg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			defer st.Close()
			snd := &fakeSender{}
			f := filterFunc(func(_ context.Context, e FilterEnv) (Actions, error) {
				b, _ := io.ReadAll(io.NewSectionReader(e.Message, 0, e.Size))
				if string(b) != full {
					t.Errorf("FilterEnv.Message = %q", b)
				}
				return Actions{Keep: true, Redirect: []string{"bob@example.net"}, FileInto: []FileInto{{Mailbox: "Work", Create: true}},
					Header: []byte(tc.header), BodyOffset: tc.bodyOff}, nil
			})
			r := Deliver(context.Background(), Options{Store: st, Filter: f, Sender: snd}, request(testMsg), sealed(t, testMsg))
			if r.Code != 250 {
				t.Fatalf("Deliver = %+v", r)
			}
			for _, box := range []string{"INBOX", "Work"} {
				if got := contents(t, st, box); len(got) != 1 || got[0] != tc.wantStored {
					t.Errorf("%s = %q, want %q", box, got, tc.wantStored)
				}
			}
			if len(snd.sent) != 1 || snd.sent[0] != tc.wantSent {
				t.Errorf("redirected %q, want %q", snd.sent, tc.wantSent)
			}
		})
	}
}

func TestWithoutField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Return-Path: <a>\r\nX: 1\r\n\r\n", "X: 1\r\n\r\n"},
		{"X: 1\r\nreturn-path : <a>\r\n\t<folded>\r\nY: 2\r\n\r\n", "X: 1\r\nY: 2\r\n\r\n"},
		{"X: Return-Path: <a>\r\n\r\n", "X: Return-Path: <a>\r\n\r\n"},
		{"\r\n", "\r\n"},
	} {
		if got := string(withoutField([]byte(tc.in), "Return-Path")); got != tc.want {
			t.Errorf("withoutField(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzWithoutField: the header a script left (with whatever the message
// brought) loses exactly the named fields' lines, and nothing else.
func FuzzWithoutField(f *testing.F) {
	f.Add("Return-Path: <a>\r\nX: 1\r\n\r\n")
	f.Add("X: 1\r\nreturn-path : <a>\r\n\t<folded>\r\nY: 2\r\n\r\n")
	f.Add("Return-Path\r\n: x\r\n\r\n")
	f.Fuzz(func(t *testing.T, h string) {
		out := string(withoutField([]byte(h), "Return-Path"))
		rest := out
		for line := range strings.Lines(out) {
			if n, _, ok := strings.Cut(line, ":"); ok && line[0] != ' ' && line[0] != '\t' && strings.EqualFold(strings.TrimRight(n, " \t"), "Return-Path") {
				t.Fatalf("withoutField(%q) = %q keeps %q", h, out, line)
			}
		}
		// What is left is h's lines in order.
		for line := range strings.Lines(h) {
			rest = strings.TrimPrefix(rest, line)
		}
		if rest != "" {
			t.Fatalf("withoutField(%q) = %q: %q is not from the input", h, out, rest)
		}
	})
}
