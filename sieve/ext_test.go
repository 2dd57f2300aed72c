package sieve

import (
	"context"
	"strings"
	"testing"
	"time"
)

// RFC 5232.
func TestIMAP4Flags(t *testing.T) {
	runCases(t, []runCase{
		{name: "example 1", script: `require ["imap4flags", "fileinto", "variables"];
if header :contains "from" "coyote" {
    setflag "flagvar" "\\Flagged";
    fileinto :flags "${flagvar}" "INBOX.From Boss";
}`, want: `fileinto:INBOX.From Boss[\Flagged]; implicit-keep`[:len(`fileinto:INBOX.From Boss[\Flagged]`)]},
		{name: "internal variable", script: `require ["imap4flags"];
addflag "\\Seen"; addflag ["\\Flagged \\seen", "$Work"]; removeflag "\\Flagged";`, want: `implicit-keep[\Seen $Work]`},
		{name: "keep uses internal", script: `require ["imap4flags"]; setflag "\\Answered"; keep;`, want: `keep[\Answered]`},
		{name: "keep :flags", script: `require ["imap4flags"]; setflag "\\Answered"; keep :flags "a b";`, want: `keep[a b]`},
		{name: "hasflag", script: `require ["imap4flags"]; addflag "Junk"; if hasflag :contains "unk" { discard; }`, want: `discard`},
		{name: "hasflag var", script: `require ["imap4flags","variables"]; set "myvar" "a b c"; if hasflag "myvar" "B" { discard; }`, want: `discard`},
		{name: "hasflag count", script: `require ["imap4flags","relational","comparator-i;ascii-numeric"];
setflag ["\\Seen", "\\Draft", "x"]; if hasflag :count "eq" :comparator "i;ascii-numeric" "3" { discard; }`, want: `discard`},
		{name: "size 500K", script: `require ["imap4flags"]; if size :over 500K { setflag "\\Deleted"; }`, want: `implicit-keep`},
	})
}

// RFC 5233.
func TestSubaddress(t *testing.T) {
	runCases(t, []runCase{
		{name: "user", script: `require ["envelope","subaddress","fileinto"]; if envelope :user "to" "roadrunner" { fileinto "mine"; }`, want: "fileinto:mine"},
		{name: "detail", script: `require ["envelope","subaddress","fileinto"]; if envelope :detail "to" "birdseed" { fileinto "seed"; }`, want: "fileinto:seed"},
		{name: "no detail", script: `require ["envelope","subaddress"]; if envelope :detail :matches "to" "*" { discard; }`,
			env: func(e *StaticEnv) { e.Env.To = "ken@example.com" }, want: "implicit-keep"},
		{name: "empty detail", script: `require ["envelope","subaddress"]; if envelope :detail "to" "" { discard; }`,
			env: func(e *StaticEnv) { e.Env.To = "ken+@example.com" }, want: "discard"},
		{name: "delimiters", script: `require ["envelope","subaddress"]; if envelope :detail "to" "x" { discard; }`,
			env: func(e *StaticEnv) { e.Env.To = "ken-x@example.com"; e.Env.Delimiters = "+-" }, want: "discard"},
		{name: "header address detail", script: `require ["subaddress"]; if address :detail "cc" "traps" { discard; }`, want: "discard"},
	})
}

// RFC 5173.
func TestBody(t *testing.T) {
	runCases(t, []runCase{
		{name: "raw", script: `require "body"; if body :raw :contains "MAKE MONEY FAST" { discard; }`, msg: "mime.eml", want: "discard"},
		{name: "raw undecoded", script: `require "body"; if body :raw :contains "café" { discard; }`, msg: "mime.eml", want: "implicit-keep"},
		{name: "text decoded", script: `require "body"; if body :text :contains "café est prêt" { discard; }`, msg: "mime.eml", want: "discard"},
		{name: "default text", script: `require "body"; if body :contains "world" { discard; }`, msg: "mime.eml", want: "discard"},
		{name: "content html", script: `require "body"; if body :content "text/html" :contains "<b>world" { discard; }`, msg: "mime.eml", want: "discard"},
		{name: "content application", script: `require "body"; if body :content "application" :contains "secret payload" { discard; }`, msg: "mime.eml", want: "discard"},
		{name: "content not text", script: `require "body"; if body :text :contains "secret payload" { discard; }`, msg: "mime.eml", want: "implicit-keep"},
		{name: "example secrets", script: `require ["body", "fileinto"];
if body :content "text" :contains ["missile", "coordinates"] { fileinto "secrets"; }
if body :content "audio/mp3" :contains "" { fileinto "jukebox"; }`, msg: "mime.eml", want: "implicit-keep"},
		{name: "plain message", script: `require "body"; if body :text :contains "anvil" { discard; }`, want: "discard"},
	})
}

// RFC 5260.
func TestDate(t *testing.T) {
	runCases(t, []runCase{
		{name: "originalzone hour", script: `require ["date", "relational", "fileinto"];
if allof(header :contains "from" "coyote",
         date :value "ge" :originalzone "date" "hour" "09",
         date :value "lt" :originalzone "date" "hour" "17")
{ fileinto "urgent"; }`, want: "fileinto:urgent"},
		{name: "local zone", script: `require ["date"]; if date "date" "hour" "18" { discard; }`, want: "discard"},
		{name: "zone", script: `require ["date"]; if date :zone "+0000" "date" "iso8601" "1997-04-01T17:06:31+00:00" { discard; }`, want: "discard"},
		{name: "parts", script: `require ["date","variables","fileinto"];
if allof(date :originalzone :matches "date" "year" "*", date :originalzone "date" "weekday" "2", date :originalzone "date" "zone" "-0800") {
if date :originalzone :matches "date" "std11" "*" { fileinto "${0}"; } }`, want: "fileinto:Tue, 01 Apr 1997 09:06:31 -0800"},
		{name: "julian", script: `require ["date"]; if date :zone "+0000" "date" "julian" "50539" { discard; }`, want: "discard"},
		{name: "currentdate vacation", script: `require ["date", "relational", "vacation"];
if allof(currentdate :value "ge" "date" "2021-03-01", currentdate :value "le" "date" "2021-03-31")
{ vacation :days 7 :addresses "roadrunner@acme.example.com" "I'm away during March."; }`, want: "vacation:coyote@desert.example.org:Auto: I have a present for you; implicit-keep"},
		{name: "currentdate time", script: `require ["date"]; if currentdate :zone "+0000" "time" "14:30:12" { discard; }`, want: "discard"},
		{name: "index received", script: `require ["date", "relational", "index"];
if date :value "gt" :index 1 :zone "-0500" "received" "iso8601" "2007-02-26T09:00:00-05:00" { redirect "aftercutoff@example.org"; }`, want: "redirect:aftercutoff@example.org"},
		{name: "bad zone", script: `require ["date"]; if date :zone "CET" "date" "hour" "1" {}`, wantErr: "invalid time zone"},
		{name: "bad part", script: `require ["date"]; if currentdate "fortnight" "1" {}`, wantErr: "unknown date part"},
		{name: "unparsable date", script: `require ["date"]; if date :matches "subject" "year" "*" { discard; }`, want: "implicit-keep"},
	})
}

// RFC 5260 section 6.
func TestIndex(t *testing.T) {
	runCases(t, []runCase{
		{name: "index header", script: `require "index"; if header :index 2 :contains "cc" "boss" { discard; }`, want: "implicit-keep"},
		{name: "index 1", script: `require "index"; if header :index 1 :contains "cc" "boss" { discard; }`, want: "discard"},
		{name: "last", script: `require "index"; if header :index 1 :last :contains "received" "mx.example.com" { discard; }`, want: "discard"},
		{name: "last needs index", script: `require "index"; if header :last "a" "b" {}`, wantErr: ":last needs :index"},
		{name: "zero", script: `require "index"; if header :index 0 "a" "b" {}`, wantErr: "counts from 1"},
	})
}

func TestCopy(t *testing.T) {
	runCases(t, []runCase{
		{name: "redirect copy", script: `require "copy"; redirect :copy "a@example.com";`, want: "redirect:a@example.com:copy; implicit-keep"},
		{name: "fileinto copy", script: `require ["copy","fileinto"]; fileinto :copy "Box";`, want: "fileinto:Box:copy; implicit-keep"},
		{name: "needs require", script: `redirect :copy "a@example.com";`, wantErr: `needs require "copy"`},
	})
}

// RFC 5490, RFC 8579, RFC 9042.
func TestMailbox(t *testing.T) {
	runCases(t, []runCase{
		{name: "create", script: `require ["fileinto","mailbox"]; fileinto :create "New";`, want: "fileinto:New:create"},
		{name: "exists", script: `require ["fileinto","mailbox"]; if mailboxexists ["Junk", "INBOX"] { fileinto "Junk"; }`, want: "fileinto:Junk"},
		{name: "not exists", script: `require ["fileinto","mailbox"]; if mailboxexists "Nope" { fileinto "Nope"; }`, want: "implicit-keep"},
		{name: "no mailboxes", script: `require ["mailbox"]; if mailboxexists "INBOX" { discard; }`,
			env: func(e *StaticEnv) { e.Boxes = nil }, want: "implicit-keep"},
		{name: "specialuse", script: `require ["fileinto","special-use"]; fileinto :specialuse "\\Junk" "Spam";`, want: `fileinto:Spam:use=\Junk`},
		{name: "specialuse_exists", script: `require ["special-use"]; if specialuse_exists "\\Junk" { discard; }`, want: "discard"},
		{name: "specialuse_exists mailbox", script: `require ["special-use"]; if specialuse_exists "Archive" "\\Junk" { discard; }`, want: "implicit-keep"},
		{name: "mailboxid", script: `require ["fileinto","mailboxid"];
if mailboxidexists "F6352ae03-b7f5-463c-896f-d8b48ee3" { fileinto :mailboxid "F6352ae03-b7f5-463c-896f-d8b48ee3" "Other"; }`,
			want: "fileinto:Other:id=F6352ae03-b7f5-463c-896f-d8b48ee3"},
	})
}

// RFC 5183.
func TestEnvironment(t *testing.T) {
	runCases(t, []runCase{
		{name: "remote-ip", script: `require "environment"; if environment :matches "remote-ip" "192.0.2.*" { discard; }`, want: "discard"},
		{name: "defaults", script: `require "environment"; if allof(environment "name" "cote", environment "location" "MDA", environment "phase" "during") { discard; }`, want: "discard"},
		{name: "domain", script: `require "environment"; if environment "domain" "acme.example.com" { discard; }`, want: "discard"},
		{name: "unknown", script: `require "environment"; if environment :contains "vnd.x" "" { discard; }`, want: "implicit-keep"},
	})
}

// RFC 5235.
func TestSpamVirusTest(t *testing.T) {
	runCases(t, []runCase{
		{name: "spamtest", script: `require ["spamtest","relational","comparator-i;ascii-numeric","fileinto"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "7" { fileinto "Junk"; }`, want: "fileinto:Junk"},
		{name: "spamtest exact", script: `require ["spamtest"]; if spamtest "8" { discard; }`, want: "discard"},
		{name: "percent", script: `require ["spamtestplus"]; if spamtest :percent "75" { discard; }`, want: "discard"},
		{name: "untested", script: `require ["spamtest"]; if spamtest "0" { discard; }`, env: func(e *StaticEnv) { e.Spam = ScoreTest{} }, want: "discard"},
		{name: "pattern", script: `require ["spamtest"]; if spamtest "10" { discard; }`,
			env: func(e *StaticEnv) { e.Spam = ScoreTest{Header: "X-Spam-Status", Pattern: `score=([0-9.]+)`, Max: 5} },
			msg: "", want: "implicit-keep"},
		{name: "virustest text", script: `require ["virustest"]; if virustest "5" { discard; }`,
			env: func(e *StaticEnv) { e.Msg, _ = NewMessage([]byte("X-Virus: infected\r\n\r\nx")) }, want: "discard"},
		{name: "virustest untested", script: `require ["virustest"]; if virustest "0" { discard; }`, want: "discard"},
	})
}

// RFC 5463.
func TestIhave(t *testing.T) {
	runCases(t, []runCase{
		{name: "present", script: `require "ihave"; if ihave "fileinto" { fileinto "x"; }`, want: "fileinto:x"},
		{name: "missing skips block", script: `require "ihave"; if ihave "vnd.frob" { frobnicate :x; } else { discard; }`, want: "discard"},
		{name: "error", script: `require "ihave"; error "custom failure";`, wantErr: "script error: custom failure"},
		{name: "allof", script: `require "ihave"; if allof(true, ihave ["fileinto", "copy"]) { fileinto :copy "y"; }`, want: "fileinto:y:copy; implicit-keep"},
	})
}

// RFC 5435, RFC 5436.
func TestEnotify(t *testing.T) {
	runCases(t, []runCase{
		{name: "notify", script: `require ["enotify"]; notify :importance "1" :message "You got mail" "mailto:alert@example.com?subject=hi";`,
			want: "notify:mailto:alert@example.com?subject=hi:You got mail; implicit-keep"},
		{name: "default message", script: `require ["enotify"]; notify "mailto:alert@example.com";`,
			want: "notify:mailto:alert@example.com:coyote@desert.example.org: I have a present for you; implicit-keep"},
		{name: "encodeurl", script: `require ["enotify","variables"]; set :encodeurl "s" "a b&c"; notify "mailto:x@example.com?subject=${s}";`,
			want: "notify:mailto:x@example.com?subject=a%20b%26c:coyote@desert.example.org: I have a present for you; implicit-keep"},
		{name: "bad method", script: `require ["enotify"]; notify "xmpp:a@example.com";`, wantErr: "unsupported notification method"},
		{name: "valid_notify_method", script: `require ["enotify"]; if valid_notify_method ["mailto:a@example.com"] { discard; }`, want: "discard"},
		{name: "invalid method", script: `require ["enotify"]; if valid_notify_method "tel:+1" { discard; }`, want: "implicit-keep"},
		{name: "capability", script: `require ["enotify"]; if notify_method_capability "mailto:a@example.com" "Online" "maybe" { discard; }`, want: "discard"},
		{name: "auto-submitted", script: `require ["enotify"]; notify "mailto:alert@example.com";`,
			env: func(e *StaticEnv) { e.Msg, _ = NewMessage([]byte("Auto-Submitted: auto-replied\r\n\r\nx")) }, want: "implicit-keep"},
	})
}

func TestParseMailto(t *testing.T) {
	m, err := ParseMailto("mailto:a@example.com,b%40example.com?to=c@example.com&subject=Hi%20there&body=x")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.To, ","); got != "a@example.com,b@example.com,c@example.com" {
		t.Errorf("To = %q", got)
	}
	if m.Headers["subject"] != "Hi there" || m.Body != "x" {
		t.Errorf("ParseMailto = %+v", m)
	}
}

// RFC 5293.
func TestEditheader(t *testing.T) {
	run := func(t *testing.T, script string) *Result {
		t.Helper()
		s, err := compileAll(script)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Run(context.Background(), testEnv(t, "coyote.eml"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(t, `require ["editheader"]; addheader "X-Sieve" "filtered"; addheader :last "X-Last" "café";
if header :is "x-sieve" "filtered" { deleteheader "x-caffeine"; }
deleteheader :index 2 "cc"; deleteheader "received"; deleteheader :contains "subject" "present";`)
	if !res.HeaderChanged {
		t.Fatal("HeaderChanged = false")
	}
	var names []string
	for _, f := range res.Header {
		names = append(names, f.Name)
	}
	got := strings.Join(names, ",")
	want := "X-Sieve,Return-Path,Received,Date,From,To,Cc,Message-ID,X-Spam-Score,X-Last"
	if got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	if last := res.Header[len(res.Header)-1]; last.Value != "=?utf-8?q?caf=C3=A9?=" {
		t.Errorf("X-Last = %q", last.Value)
	}
	if len(res.Log) != 1 || !strings.Contains(res.Log[0], "protected") {
		t.Errorf("Log = %q", res.Log)
	}
	var b strings.Builder
	if err := res.WriteMessage(&b, loadMessage(t, "coyote.eml")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "X-Sieve: filtered\r\nReturn-Path:") || !strings.Contains(b.String(), "\r\n\r\nLook, I'm sorry") {
		t.Errorf("WriteMessage = %q", b.String()[:80])
	}
	for _, bad := range []string{`require "editheader"; addheader "Bad Name" "x";`, `require "editheader"; deleteheader :last "x";`} {
		if _, err := compileAll(bad); err == nil {
			t.Errorf("Compile(%q) succeeded", bad)
		}
	}
}

// RFC 6609.
func TestInclude(t *testing.T) {
	res := mapResolver{
		"personal:spam":  `require ["fileinto","variables","include"]; global "folder"; if header :contains "subject" "present" { fileinto "${folder}"; return; } fileinto "never";`,
		"global:common":  `require ["include","variables"]; global "folder"; set "folder" "Junk";`,
		"personal:loopa": `require "include"; include "loopb";`,
		"personal:loopb": `require "include"; include "loopa";`,
		"personal:count": `require ["include","variables"]; set "global.n" "${global.n}x";`,
		"personal:bad":   `frobnicate;`,
	}
	cases := []struct {
		name, script, want, wantErr string
	}{
		{name: "global and return", script: `require ["include","variables","fileinto"]; global "folder";
include :global "common"; include :personal "spam"; fileinto "after-${folder}";`, want: "fileinto:Junk; fileinto:after-Junk"},
		{name: "once", script: `require ["include","variables","fileinto"];
include :once "count"; include :once "count"; include "count"; fileinto "${global.n}";`, want: "fileinto:xx"},
		{name: "optional missing", script: `require "include"; include :optional "nothere";`, want: "implicit-keep"},
		{name: "missing", script: `require "include"; include "nothere";`, wantErr: "script not found"},
		{name: "loop", script: `require "include"; include "loopa";`, wantErr: "include loop"},
		{name: "error in included", script: `require "include"; include "bad";`, wantErr: "bad:1:1: unknown command frobnicate"},
		{name: "return in main", script: `require ["include","fileinto"]; fileinto "a"; return; fileinto "b";`, want: "fileinto:a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile([]byte(tc.script), CompileOptions{Extensions: AllExtensions(), Include: res})
			if err == nil {
				var r *Result
				r, err = s.Run(context.Background(), testEnv(t, "coyote.eml"))
				if err == nil {
					if got := summary(r); got != tc.want || tc.wantErr != "" {
						t.Errorf("Run = %q, want %q (err %q)", got, tc.want, tc.wantErr)
					}
					return
				}
			}
			if tc.wantErr == "" || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// RFC 7352.
func TestDuplicate(t *testing.T) {
	ctx := context.Background()
	store := NewFileDuplicateStore(t.TempDir()+"/dupes", func() time.Time { return fixedNow })
	deliver := func(script, msg string) string {
		t.Helper()
		s, err := compileAll(script)
		if err != nil {
			t.Fatal(err)
		}
		env := testEnv(t, "coyote.eml")
		env.Dupes = store
		if msg != "" {
			env.Msg, _ = NewMessage([]byte(msg))
		}
		res, err := s.Run(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Commit(ctx, store); err != nil {
			t.Fatal(err)
		}
		return summary(res)
	}
	script := `require ["duplicate", "fileinto", "mailbox"]; if duplicate { fileinto :create "Trash/Duplicate"; }`
	if got := deliver(script, ""); got != "implicit-keep" {
		t.Errorf("first delivery = %q", got)
	}
	if got := deliver(script, ""); got != "fileinto:Trash/Duplicate:create" {
		t.Errorf("second delivery = %q", got)
	}
	alert := `require ["duplicate", "variables", "imap4flags", "fileinto"];
if header :matches "subject" "ALERT: *" {
  if duplicate :seconds 60 :uniqueid "${1}" { setflag "\\seen"; }
  fileinto "Alerts";
}`
	if got := deliver(alert, "Subject: ALERT: disk full\r\n\r\nx"); got != "fileinto:Alerts" {
		t.Errorf("first alert = %q", got)
	}
	if got := deliver(alert, "Subject: ALERT: disk full\r\n\r\ny"); got != `fileinto:Alerts[\seen]` {
		t.Errorf("second alert = %q", got)
	}
	handle := `require ["duplicate","fileinto"]; if duplicate :handle "other" :header "x-caffeine" { discard; }`
	if got := deliver(handle, ""); got != "implicit-keep" {
		t.Errorf("handle = %q", got)
	}
	if got := deliver(handle, ""); got != "discard" {
		t.Errorf("handle again = %q", got)
	}
	if got := deliver(`require "duplicate"; if duplicate { discard; }`, "Subject: no id\r\n\r\n"); got != "implicit-keep" {
		t.Errorf("no message-id = %q", got)
	}
}
