package worker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/lmtp/deliver"
	"cote/sieve/script"
)

const sieveTestMsg = "From: a@example.org\r\nTo: me@example.com\r\nSubject: hello\r\n\r\nbody\r\n"

func runFilter(t *testing.T, f *sieveFilter) deliver.Actions {
	t.Helper()
	a, err := f.Filter(context.Background(), deliver.FilterEnv{
		MailFrom: "a@example.org", RcptTo: "me@example.com",
		Message: strings.NewReader(sieveTestMsg), Size: int64(len(sieveTestMsg)),
	})
	if err != nil {
		t.Logf("Filter: %v", err)
	}
	return a
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func boxes(a deliver.Actions) string {
	var out []string
	if a.Keep {
		out = append(out, "keep")
	}
	for _, f := range a.FileInto {
		out = append(out, f.Mailbox)
	}
	return strings.Join(out, ",")
}

// TestSieveSequence: sieve_before (a directory), the personal script or
// sieve_default, then sieve_after, each run while the message is kept.
func TestSieveSequence(t *testing.T) {
	home := t.TempDir()
	admin := t.TempDir()
	writeFile(t, filepath.Join(admin, "before.d", "10-a.sieve"), "require [\"fileinto\", \"copy\"];\nfileinto :copy \"B1\";\n")
	writeFile(t, filepath.Join(admin, "before.d", "20-b.sieve"), "require [\"fileinto\", \"copy\"];\nfileinto :copy \"B2\";\n")
	writeFile(t, filepath.Join(admin, "after.sieve"), "require \"fileinto\";\nfileinto \"After\";\n")
	writeFile(t, filepath.Join(admin, "default.sieve"), "require [\"fileinto\", \"copy\"];\nfileinto :copy \"Default\";\n")
	plugin := map[string]string{
		"sieve_before":  filepath.Join(admin, "before.d"),
		"sieve_after":   filepath.Join(admin, "after.sieve"),
		"sieve_default": filepath.Join(admin, "default.sieve"),
	}
	log := slog.New(slog.DiscardHandler)
	f := newSieveFilter(home, "+", "mx.test", plugin, log)
	// No personal script: before, default, after.
	if got := boxes(runFilter(t, f)); got != "B1,B2,Default,After" {
		t.Errorf("without a personal script: %q", got)
	}

	// A personal script replaces the default; one that files the
	// message (no keep) stops the sequence before sieve_after.
	st := script.New(home)
	if err := st.Put("mine", []byte("require \"fileinto\";\nfileinto \"Mine\";\n")); err != nil {
		t.Fatal(err)
	}
	if err := st.SetActive("mine"); err != nil {
		t.Fatal(err)
	}
	if got := boxes(runFilter(t, f)); got != "B1,B2,Mine" || strings.Contains(got, "After") || strings.Contains(got, "keep") {
		t.Errorf("with a personal script: %q", got)
	}
}

// TestSieveLogAndFallback: a broken personal script keeps the message and
// says why in ~/.sieve.log; a vacation reply becomes a message to send,
// committed only through Done.
func TestSieveLogAndFallback(t *testing.T) {
	home := t.TempDir()
	st := script.New(home)
	if err := st.Put("v", []byte("require \"vacation\";\nvacation :days 1 \"away\";\n")); err != nil {
		t.Fatal(err)
	}
	if err := st.SetActive("v"); err != nil {
		t.Fatal(err)
	}
	f := newSieveFilter(home, "", "mx.test", nil, slog.New(slog.DiscardHandler))
	a := runFilter(t, f)
	if len(a.Messages) != 1 || a.Messages[0].From != "" || a.Messages[0].To[0] != "a@example.org" ||
		!strings.Contains(string(a.Messages[0].Data), "Auto-Submitted: auto-replied") {
		t.Fatalf("vacation: %+v", a.Messages)
	}
	// Not committed: a failed delivery lets the next one reply.
	a.Done(context.Background(), false)
	a = runFilter(t, f)
	if len(a.Messages) != 1 {
		t.Fatalf("after a failed delivery: %d messages", len(a.Messages))
	}
	a.Done(context.Background(), true)
	if a = runFilter(t, f); len(a.Messages) != 0 {
		t.Fatalf("second vacation reply: %+v", a.Messages)
	}

	// Broken: written by hand behind ManageSieve's back.
	p, _ := st.Path("v")
	writeFile(t, p, "if true {\n")
	a = runFilter(t, f)
	if !a.Keep || len(a.Messages) != 0 || len(a.FileInto) != 0 {
		t.Errorf("broken script: %+v", a)
	}
	b, err := os.ReadFile(filepath.Join(home, ".sieve.log"))
	if err != nil || !strings.Contains(string(b), "v: ") || !strings.Contains(string(b), "message kept") {
		t.Errorf(".sieve.log = %q, %v", b, err)
	}
}

func TestSieveNotify(t *testing.T) {
	home := t.TempDir()
	st := script.New(home)
	if err := st.Put("n", []byte("require \"enotify\";\nnotify :message \"You have mail\" \"mailto:me@example.net?subject=New%20mail\";\n")); err != nil {
		t.Fatal(err)
	}
	if err := st.SetActive("n"); err != nil {
		t.Fatal(err)
	}
	f := newSieveFilter(home, "", "mx.test", nil, slog.New(slog.DiscardHandler))
	a := runFilter(t, f)
	if len(a.Messages) != 1 {
		t.Fatalf("notify: %+v", a)
	}
	m := a.Messages[0]
	data := string(m.Data)
	for _, want := range []string{"Auto-Submitted: auto-notified", "Subject: New mail", "From: <me@example.com>", "You have mail"} {
		if !strings.Contains(data, want) {
			t.Errorf("notification lacks %q:\n%s", want, data)
		}
	}
	if m.From != "" || strings.Join(m.To, ",") != "me@example.net" || !a.Keep {
		t.Errorf("notify: from %q to %q keep %v", m.From, m.To, a.Keep)
	}
}
