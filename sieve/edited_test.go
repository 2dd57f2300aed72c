package sieve

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestEdited: a Result's Edited message is what WriteMessage writes, and
// the next script sees the edits (RFC 5293 section 6).
func TestEdited(t *testing.T) {
	msg := loadMessage(t, "coyote.eml")
	run := func(script string, m Message) *Result {
		t.Helper()
		s, err := compileAll(script)
		if err != nil {
			t.Fatal(err)
		}
		env := testEnv(t, "coyote.eml")
		env.Msg = m
		res, err := s.Run(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	same := run(`keep;`, msg)
	if same.Edited(msg) != Message(msg) {
		t.Errorf("Edited of an unchanged header is not the message itself")
	}
	res := run(`require "editheader"; addheader "X-First" "1"; deleteheader "subject";`, msg)
	ed := res.Edited(msg)
	var b strings.Builder
	if err := res.WriteMessage(&b, msg); err != nil {
		t.Fatal(err)
	}
	if ed.Size() != int64(b.Len()) {
		t.Errorf("Edited Size = %d, want %d (what WriteMessage writes)", ed.Size(), b.Len())
	}
	body, _ := ed.Body()
	rest, _ := io.ReadAll(body)
	if !strings.HasSuffix(b.String(), "\r\n\r\n"+string(rest)) || !strings.HasPrefix(b.String(), "X-First: 1\r\n") {
		t.Errorf("Edited body %q does not follow the edited header %q", rest, b.String()[:40])
	}
	next := run(`require ["editheader", "fileinto"]; if header :is "X-First" "1" { if not exists "subject" { fileinto "Seen"; } }`, ed)
	if got := summary(next); got != "fileinto:Seen" {
		t.Errorf("next script on the edited message = %q, want fileinto:Seen", got)
	}
	if ed2 := next.Edited(ed); ed2.Size() != ed.Size() {
		t.Errorf("Edited of an unedited run changed the size")
	}
}
