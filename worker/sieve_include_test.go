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

// filterMsg runs f on msg and returns the actions and the error.
func filterMsg(t *testing.T, f *sieveFilter, msg string) (deliver.Actions, error) {
	t.Helper()
	return f.Filter(context.Background(), deliver.FilterEnv{
		MailFrom: "sender@example.org", RcptTo: "me@example.com",
		Message: strings.NewReader(msg), Size: int64(len(msg)),
	})
}

// activate stores scripts in the user's storage and activates main.
func activate(t *testing.T, home string, scripts map[string]string, main string) {
	t.Helper()
	st := script.New(home)
	for name, src := range scripts {
		if err := st.Put(name, []byte(src)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetActive(main); err != nil {
		t.Fatal(err)
	}
}

func verdict(a deliver.Actions) string {
	var out []string
	if a.Keep {
		out = append(out, "keep")
	}
	for _, f := range a.FileInto {
		out = append(out, "fileinto:"+f.Mailbox)
	}
	if a.Reject != "" {
		out = append(out, "reject:"+a.Reject)
	}
	if a.Discard {
		out = append(out, "discard")
	}
	return strings.Join(out, ",")
}

// TestIncludeRFC6609Examples runs the examples of RFC 6609 section 6
// with the user's scripts in ~/sieve and the administrator's in
// sieve_global.
func TestIncludeRFC6609Examples(t *testing.T) {
	home, global := t.TempDir(), t.TempDir()
	// Section 6, first example.
	personal := map[string]string{
		"default": `require ["include"];

include :personal "always_allow";
include :global "spam_tests";
include :personal "spam_tests";
include :personal "mailing_lists";
`,
		"always_allow": `require ["include"];

if address :is "from" "boss@example.com"
{
    keep;
}
elsif address :is "from" "ceo@example.com"
{
    keep;
}
`,
		"spam_tests": `require ["include", "reject"];

if header :contains "Subject" "XXXX"
{
    reject "Subject XXXX is unacceptable.";
}
elsif address :is "from" "money@example.com"
{
    reject "Mail from this sender is unwelcome.";
}
`,
		"mailing_lists": `require ["include", "fileinto"];

if header :is "Sender" "owner-ietf-mta-filters@imc.org"
{
    fileinto "lists.sieve";
}
elsif header :is "Sender" "owner-ietf-imapext@imc.org"
{
    fileinto "lists.imapext";
}
`,
		// Section 6, the example with global variables.
		"test": `require ["include", "variables", "relational", "fileinto"];
global "test";
global "test_mailbox";

set "test" "$$";
include "subject_tests";

set "test" "Make money";
include "subject_tests";

if string :count "eq" "${test_mailbox}" "1"
{
    fileinto "${test_mailbox}";
    stop;
}
`,
		"subject_tests": `require ["include", "variables"];
global ["test", "test_mailbox"];

if header :contains "Subject" "${test}"
{
    set "test_mailbox" "spam-${test}";
}
`,
	}
	writeFile(t, filepath.Join(global, "spam_tests.sieve"), `require ["include", "reject"];

if anyof (header :contains "Subject" "$$",
          header :contains "Subject" "Make money")
{
    reject "No thank you.";
}
`)
	plugin := map[string]string{"sieve_global": "file:" + global}
	for _, tc := range []struct {
		main, msg, want string
	}{
		{"default", "From: boss@example.com\r\nSubject: plans\r\n\r\nx\r\n", "keep"},
		{"default", "From: someone@example.net\r\nSubject: Make money fast\r\n\r\nx\r\n", "reject:No thank you."},
		{"default", "From: someone@example.net\r\nSubject: XXXX\r\n\r\nx\r\n", "reject:Subject XXXX is unacceptable."},
		{"default", "From: money@example.com\r\nSubject: hi\r\n\r\nx\r\n", "reject:Mail from this sender is unwelcome."},
		{"default", "From: a@example.net\r\nSender: owner-ietf-imapext@imc.org\r\nSubject: hi\r\n\r\nx\r\n", "fileinto:lists.imapext"},
		{"default", "From: a@example.net\r\nSubject: hi\r\n\r\nx\r\n", "keep"},
		{"test", "From: a@example.net\r\nSubject: Make money now\r\n\r\nx\r\n", "fileinto:spam-Make money"},
		{"test", "From: a@example.net\r\nSubject: $$ for you\r\n\r\nx\r\n", "fileinto:spam-$$"},
		{"test", "From: a@example.net\r\nSubject: hello\r\n\r\nx\r\n", "keep"},
	} {
		activate(t, home, personal, tc.main)
		f := newSieveFilter(home, "", "mx.test", plugin, slog.New(slog.DiscardHandler))
		a, err := filterMsg(t, f, tc.msg)
		if err != nil || verdict(a) != tc.want {
			t.Errorf("%s on %q = %q, %v; want %q", tc.main, tc.msg, verdict(a), err, tc.want)
		}
	}
}

// TestIncludeGlobal: :global reads sieve_global (or the older
// sieve_global_dir), :personal the user's storage; a missing global
// script is an error that names where it was looked for, the message is
// kept and the user's .sieve.log says why; :optional lets it be missing.
func TestIncludeGlobal(t *testing.T) {
	global := t.TempDir()
	writeFile(t, filepath.Join(global, "junk.sieve"), "require \"fileinto\";\nif header :contains \"subject\" \"spam\" { fileinto \"Junk\"; }\n")
	msg := "From: a@example.net\r\nSubject: spam spam\r\n\r\nx\r\n"
	for _, tc := range []struct {
		name   string
		plugin map[string]string
		main   string
		extra  map[string]string // more personal scripts
		want   string
		err    []string // substrings of the error and of .sieve.log
	}{
		{name: "sieve_global", plugin: map[string]string{"sieve_global": global},
			main: `require "include"; include :global "junk";`, want: "fileinto:Junk"},
		{name: "sieve_global file:", plugin: map[string]string{"sieve_global": "file:" + global},
			main: `require "include"; include :global "junk";`, want: "fileinto:Junk"},
		{name: "sieve_global_dir", plugin: map[string]string{"sieve_global_dir": global},
			main: `require "include"; include :global "junk";`, want: "fileinto:Junk"},
		{name: "personal is not global", plugin: map[string]string{"sieve_global": global},
			main: `require "include"; include :personal "junk";`, want: "keep",
			err: []string{"main.sieve:1:20", "personal:junk", "script not found"}},
		{name: "personal", plugin: map[string]string{"sieve_global": global},
			main:  `require ["include", "fileinto"]; include "mine"; if header :contains "subject" "spam" { fileinto "Mine"; }`,
			extra: map[string]string{"mine": `require "fileinto"; fileinto :copy "Copy";`}, want: "keep",
			err: []string{"mine:1:30", `needs require "copy"`}},
		{name: "personal with copy", plugin: map[string]string{"sieve_global": global},
			main:  `require ["include", "fileinto"]; include "mine";`,
			extra: map[string]string{"mine": `require ["fileinto", "copy"]; fileinto :copy "Copy";`}, want: "keep,fileinto:Copy"},
		{name: "missing global", plugin: map[string]string{"sieve_global": global},
			main: `require "include";
include :global "nothere";`, want: "keep",
			err: []string{"main.sieve:2:1", "global:nothere", filepath.Join(global, "nothere.sieve"), "script not found"}},
		{name: "no sieve_global", plugin: nil,
			main: `require "include"; include :global "junk";`, want: "keep",
			err: []string{"main.sieve:1:20", "no global script directory"}},
		{name: "optional missing global", plugin: map[string]string{"sieve_global": global},
			main: `require "include"; include :global :optional "nothere";`, want: "keep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			scripts := map[string]string{"main": tc.main}
			for k, v := range tc.extra {
				scripts[k] = v
			}
			activate(t, home, scripts, "main")
			f := newSieveFilter(home, "", "mx.test", tc.plugin, slog.New(slog.DiscardHandler))
			a, err := filterMsg(t, f, msg)
			if verdict(a) != tc.want {
				t.Errorf("Filter = %q, want %q (err %v)", verdict(a), tc.want, err)
			}
			if len(tc.err) == 0 {
				if err != nil {
					t.Errorf("Filter error = %v", err)
				}
				return
			}
			log, _ := os.ReadFile(filepath.Join(home, ".sieve.log"))
			for _, want := range tc.err {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Filter error = %v, want it to contain %q", err, want)
				}
				if !strings.Contains(string(log), want) {
					t.Errorf(".sieve.log = %q, want it to contain %q", log, want)
				}
			}
		})
	}
}

// TestEditheaderActions: with editheader enabled by sieve_extensions,
// the edits of sieve_before are seen by the user's script, and the
// header the last script left goes with the actions (RFC 5293), to be
// stored and redirected; without editheader in sieve_extensions the
// script does not compile.
func TestEditheaderActions(t *testing.T) {
	home, admin := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(admin, "before.sieve"), `require "editheader"; addheader "X-Before" "1";`)
	activate(t, home, map[string]string{"main": `require ["editheader", "fileinto"];
if header :is "X-Before" "1" { addheader :last "X-Seen-Before" "yes"; }
deleteheader "X-Spam";
redirect "other@example.net";
keep;
`}, "main")
	msg := "From: a@example.net\r\nX-Spam: yes\r\nSubject: hi\r\n\r\nbody\r\n"
	plugin := map[string]string{"sieve_extensions": "+editheader", "sieve_before": filepath.Join(admin, "before.sieve")}
	f := newSieveFilter(home, "", "mx.test", plugin, slog.New(slog.DiscardHandler))
	a, err := filterMsg(t, f, msg)
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Before: 1\r\nFrom: a@example.net\r\nSubject: hi\r\nX-Seen-Before: yes\r\n\r\n"
	if string(a.Header) != want || a.BodyOffset != int64(strings.Index(msg, "body")) {
		t.Errorf("Header = %q at %d, want %q at %d", a.Header, a.BodyOffset, want, strings.Index(msg, "body"))
	}
	if !a.Keep || strings.Join(a.Redirect, ",") != "other@example.net" {
		t.Errorf("actions = %+v", a)
	}

	// Without editheader: a compile error, the message kept unchanged.
	f = newSieveFilter(home, "", "mx.test", map[string]string{"sieve_before": filepath.Join(admin, "before.sieve")}, slog.New(slog.DiscardHandler))
	a, err = filterMsg(t, f, msg)
	if err == nil || !strings.Contains(err.Error(), "editheader") || a.Header != nil || !a.Keep {
		t.Errorf("without editheader: %+v, %v", a, err)
	}
}

// TestSieveLimitSettings: sieve_max_redirects and sieve_max_actions from
// plugin { } bound a delivery's script; over them the message is kept
// and ~/.sieve.log says which limit.
func TestSieveLimitSettings(t *testing.T) {
	for _, tc := range []struct {
		plugin map[string]string
		script string
		want   string
	}{
		{map[string]string{"sieve_max_redirects": "1"}, `redirect "a@example.net"; redirect "b@example.net";`, "too many redirects (limit 1)"},
		{map[string]string{"sieve_max_actions": "2"}, `require ["fileinto", "copy"]; fileinto :copy "a"; fileinto :copy "b"; fileinto :copy "c";`, "too many actions (limit 2)"},
		{map[string]string{"sieve_max_script_size": "10"}, `keep; keep; keep;`, "10"},
	} {
		home := t.TempDir()
		activate(t, home, map[string]string{"main": tc.script}, "main")
		f := newSieveFilter(home, "", "mx.test", tc.plugin, slog.New(slog.DiscardHandler))
		a, err := filterMsg(t, f, sieveTestMsg)
		log, _ := os.ReadFile(filepath.Join(home, ".sieve.log"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(string(log), tc.want) || verdict(a) != "keep" || len(a.Redirect) != 0 {
			t.Errorf("%v: Filter = %q, %v; .sieve.log %q; want keep and %q", tc.plugin, verdict(a), err, log, tc.want)
		}
	}
}
