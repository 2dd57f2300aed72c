package sieve

import "testing"

// RFC 5228 section 9 and the examples in its text.
func TestRFC5228(t *testing.T) {
	runCases(t, []runCase{
		{name: "9.1-like", script: `
# Example Sieve Filter
# Declare any optional features or extension used by the script
require ["fileinto"];

# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`, want: "fileinto:spam"},
		{name: "implicit keep", script: ``, want: "implicit-keep"},
		{name: "discard cancels keep", script: `discard;`, want: "discard"},
		{name: "2.10.2 keep and fileinto", script: `require "fileinto"; fileinto "a"; keep;`, want: "fileinto:a; keep"},
		{name: "duplicate fileinto collapse", script: `require "fileinto"; fileinto "a"; fileinto "a";`, want: "fileinto:a"},
		{name: "stop", script: `require "fileinto"; fileinto "a"; stop; fileinto "b";`, want: "fileinto:a"},
		{name: "redirect", script: `redirect "bart@example.com";`, want: "redirect:bart@example.com"},
		{name: "header :contains", script: `if header :contains "x-caffeine" "C8H10" { discard; }`, want: "discard"},
		{name: "header :is case", script: `if header :is "Subject" "i have a PRESENT for you" { discard; }`, want: "discard"},
		{name: "header i;octet", script: `if header :comparator "i;octet" :is "Subject" "i have a PRESENT for you" { discard; }`, want: "implicit-keep"},
		{name: "exists", script: `if exists ["From","Date"] { discard; }`, want: "discard"},
		{name: "exists missing", script: `if exists ["From","X-Nope"] { discard; }`, want: "implicit-keep"},
		{name: "size over", script: `if size :over 1K { discard; }`, want: "implicit-keep"},
		{name: "size under", script: `if size :under 1K { discard; }`, want: "discard"},
		{name: "address localpart", script: `if address :localpart "from" "coyote" { discard; }`, want: "discard"},
		{name: "address all cc", script: `if address :all :is "cc" "wile+traps@acme.example.com" { discard; }`, want: "discard"},
		{name: "envelope", script: `require "envelope"; if envelope :domain :is "from" "desert.example.org" { discard; }`, want: "discard"},
		{name: "envelope null", script: `require "envelope"; if envelope :all :is "from" "" { discard; }`,
			env: func(e *StaticEnv) { e.Env.From = "" }, want: "discard"},
		{name: "matches ?", script: `if header :matches "x-caffeine" "C?H10N4O2" { discard; }`, want: "discard"},
		{name: "matches escaped", script: `if header :matches "subject" "I have a present for you\\?" { discard; }`, want: "implicit-keep"},
		{name: "allof", script: `if allof(true, header :contains "subject" "present") { discard; }`, want: "discard"},
		{name: "not", script: `if not true { discard; }`, want: "implicit-keep"},
		{name: "anyof none", script: `if anyof(false, false) { discard; }`, want: "implicit-keep"},
		{name: "multiline", script: "require \"reject\";\nreject text:\nline one\n..dot\n.\n;", want: "reject:line one\r\n.dot\r\n"},
		{name: "ascii-numeric", script: `require "comparator-i;ascii-numeric";
if header :comparator "i;ascii-numeric" :is "x-num" "00042" { discard; }`, env: func(e *StaticEnv) {
			e.Msg, _ = NewMessage([]byte("X-Num: 42abc\r\n\r\nbody"))
		}, want: "discard"},
		{name: "unknown command", script: `frobnicate;`, wantErr: "1:1: unknown command frobnicate"},
		{name: "missing require", script: `fileinto "x";`, wantErr: `needs require "fileinto"`},
		{name: "unsupported extension", script: `require "nope";`, wantErr: `unsupported extension "nope"`},
		{name: "require late", script: `keep; require "fileinto";`, wantErr: "require must come before"},
		{name: "elsif alone", script: `elsif true {}`, wantErr: "without a preceding if"},
		{name: "bad tag", script: `if header :frob "a" "b" {}`, wantErr: "unknown tag :frob"},
		{name: "exclusive tags", script: `if header :is :contains "a" "b" {}`, wantErr: "exclude each other"},
		{name: "size needs tag", script: `if size 100 {}`, wantErr: "needs :over or :under"},
		{name: "numeric contains", script: `require "comparator-i;ascii-numeric"; if header :contains :comparator "i;ascii-numeric" "a" "1" {}`, wantErr: "does not support :contains"},
		{name: "redirect bad", script: `redirect "not an address";`, wantErr: "invalid address"},
	})
}

func TestReject(t *testing.T) {
	runCases(t, []runCase{
		{name: "reject", script: `require "reject"; reject "go away";`, want: "reject:go away"},
		{name: "ereject", script: `require "ereject"; ereject "no thanks";`, want: "ereject:no thanks"},
		{name: "reject and keep", script: `require "reject"; keep; reject "x";`, wantErr: "conflicts"},
		{name: "two rejects", script: `require "reject"; reject "x"; reject "y";`, wantErr: "more than one reject"},
		{name: "fileinto after reject", script: `require ["reject","fileinto"]; reject "x"; fileinto "y";`, wantErr: "conflicts"},
	})
}
