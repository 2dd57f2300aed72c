package sieve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// RFC 5230 and RFC 6131.
func TestVacation(t *testing.T) {
	toMe := func(e *StaticEnv) { e.Env.To = "roadrunner@acme.example.com" }
	runCases(t, []runCase{
		{name: "4 example", script: `require "vacation";
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation "I'm out -- call me at +1 304 555 0123";
}`, env: toMe, want: "vacation:coyote@desert.example.org:Auto: I have a present for you; implicit-keep"},
		{name: "4.5 not addressed to me", script: `require "vacation"; vacation "away";`, want: "implicit-keep"},
		{name: "4.5 addresses", script: `require "vacation";
vacation :days 23 :addresses ["tjs@example.edu", "roadrunner@acme.example.com"] "I'm away until October 19.";`,
			want: "vacation:coyote@desert.example.org:Auto: I have a present for you; implicit-keep"},
		{name: "4.5 cc", script: `require "vacation"; vacation :addresses "boss@acme.example.com" :subject "Gone" "away";`,
			want: "vacation:coyote@desert.example.org:Gone; implicit-keep"},
		{name: "4.6 null sender", script: `require "vacation"; vacation "away";`,
			env: func(e *StaticEnv) { toMe(e); e.Env.From = "" }, want: "implicit-keep"},
		{name: "4.6 owner-", script: `require "vacation"; vacation "away";`,
			env: func(e *StaticEnv) { toMe(e); e.Env.From = "owner-list@example.com" }, want: "implicit-keep"},
		{name: "4.6 mailer-daemon", script: `require "vacation"; vacation "away";`,
			env: func(e *StaticEnv) { toMe(e); e.Env.From = "MAILER-DAEMON@example.com" }, want: "implicit-keep"},
		{name: "4.6 list", script: `require "vacation"; vacation :addresses "alice@example.com" "away";`, msg: "mime.eml", want: "implicit-keep"},
		{name: "5 auto-submitted", script: `require "vacation"; vacation "away";`,
			env: func(e *StaticEnv) {
				toMe(e)
				e.Msg, _ = NewMessage([]byte("To: roadrunner@acme.example.com\r\nAuto-Submitted: auto-generated\r\n\r\nx"))
			}, want: "implicit-keep"},
		{name: "from", script: `require "vacation"; vacation :from "rr@acme.example.com" :mime "Content-Type: text/plain\r\n\r\nx";`, env: toMe,
			want: "vacation:coyote@desert.example.org:Auto: I have a present for you; implicit-keep"},
		{name: "bad from", script: `require "vacation"; vacation :from "nope" "x";`, wantErr: "invalid address"},
		{name: "two vacations", script: `require "vacation"; vacation "a"; vacation "b";`, env: toMe, wantErr: "more than one vacation"},
		{name: "seconds needs require", script: `require "vacation"; vacation :seconds 10 "a";`, wantErr: `needs require "vacation-seconds"`},
		{name: "seconds", script: `require "vacation-seconds"; vacation :seconds 0 "a";`, env: toMe,
			want: "vacation:coyote@desert.example.org:Auto: I have a present for you; implicit-keep"},
		{name: "days and seconds", script: `require "vacation-seconds"; vacation :days 1 :seconds 10 "a";`, wantErr: "exclude each other"},
	})
}

func TestVacationTracking(t *testing.T) {
	ctx := context.Background()
	store := &memDupes{m: map[string]time.Time{}}
	s, err := compileAll(`require "vacation"; vacation :days 3 :handle "away" "I'm away";`)
	if err != nil {
		t.Fatal(err)
	}
	deliver := func() *Result {
		env := testEnv(t, "coyote.eml")
		env.Env.To = "roadrunner@acme.example.com"
		env.Dupes = store
		res, err := s.Run(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Commit(ctx, store); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := deliver()
	if len(res.Actions) != 2 {
		t.Fatalf("first = %q", summary(res))
	}
	v := res.Actions[0].(Vacation)
	if v.Period != 72*time.Hour || v.InReplyTo != "<1234@desert.example.org>" || v.From != "roadrunner@acme.example.com" {
		t.Errorf("vacation = %+v", v)
	}
	for _, m := range res.Marks {
		if !m.Expires.Equal(fixedNow.Add(72 * time.Hour)) {
			t.Errorf("mark expires %v", m.Expires)
		}
	}
	var b strings.Builder
	if err := v.Compose(&b, fixedNow, "<reply@acme.example.com>"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"To: <coyote@desert.example.org>\r\n", "Auto-Submitted: auto-replied", "In-Reply-To: <1234@desert.example.org>\r\n", "\r\n\r\nI'm away\r\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Compose = %q, missing %q", b.String(), want)
		}
	}
	res = deliver()
	if got := summary(res); got != "implicit-keep" || len(res.Log) != 1 {
		t.Errorf("second = %q, log %q", got, res.Log)
	}
}

// Scripts that loop or explode are stopped by the limits.
func TestLimits(t *testing.T) {
	ctx := context.Background()
	// Each level includes the next twice: 2^12 runs of the leaf.
	res := mapResolver{}
	for i := 0; i < 12; i++ {
		res["personal:l"+string(rune('a'+i))] = `require "include"; include "l` + string(rune('a'+i+1)) + `"; include "l` + string(rune('a'+i+1)) + `";`
	}
	res["personal:lm"] = `if true { if true { if true {} } }`
	t.Run("include explosion", func(t *testing.T) {
		s, err := Compile([]byte(`require "include"; include "la";`), CompileOptions{
			Extensions: AllExtensions(), Include: res, Limits: Limits{MaxSteps: 10000, MaxIncludeDepth: 20},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Run(ctx, testEnv(t, "coyote.eml"))
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "too long") {
			t.Fatalf("Run error = %v, want the step limit", err)
		}
	})
	t.Run("include depth", func(t *testing.T) {
		_, err := Compile([]byte(`require "include"; include "la";`), CompileOptions{Extensions: AllExtensions(), Include: res})
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Fatalf("Compile error = %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		s, err := Compile([]byte(`require "include"; include "la";`), CompileOptions{
			Extensions: AllExtensions(), Include: res, Limits: Limits{MaxIncludeDepth: 20, MaxTime: time.Nanosecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Run(ctx, testEnv(t, "coyote.eml"))
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("Run error = %v, want the time limit", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		s, err := Compile([]byte(`require "include"; include "la";`), CompileOptions{Extensions: AllExtensions(), Include: res, Limits: Limits{MaxIncludeDepth: 20}})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Run(cctx, testEnv(t, "coyote.eml")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run error = %v, want context.Canceled", err)
		}
	})
	runCases(t, []runCase{
		{name: "redirects", script: `redirect "a@example.com"; redirect "b@example.com"; redirect "c@example.com"; redirect "d@example.com"; redirect "e@example.com";`,
			wantErr: "too many redirects (limit 4)"},
		{name: "same redirect counts once", script: `redirect "a@example.com"; redirect "A@example.com";`, want: "redirect:a@example.com"},
		{name: "actions", script: `require ["fileinto","variables"]; ` + strings.Repeat(`set "n" "${n}x"; fileinto "${n}";`, 33), wantErr: "too many actions (limit 32)"},
	})
	t.Run("size", func(t *testing.T) {
		_, err := Compile([]byte("# "+strings.Repeat("x", 100)), CompileOptions{Limits: Limits{MaxScriptSize: 50}})
		if err == nil || !strings.Contains(err.Error(), "script too large") {
			t.Fatalf("Compile error = %v", err)
		}
	})
	t.Run("nesting", func(t *testing.T) {
		_, err := Compile([]byte(strings.Repeat("if true {", 40)+strings.Repeat("}", 40)), CompileOptions{})
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Fatalf("Compile error = %v", err)
		}
		_, err = Compile([]byte("if "+strings.Repeat("not ", 100)+"true {}"), CompileOptions{})
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Fatalf("Compile error = %v", err)
		}
	})
}
