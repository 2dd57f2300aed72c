package sieve

import "testing"

// RFC 5229 and its examples.
func TestVariables(t *testing.T) {
	listMsg := func(e *StaticEnv) {
		e.Msg, _ = NewMessage([]byte("List-ID: Acme users <acme-users@example.com>\r\n" +
			"Subject: [acme-users] [fwd] version 1.0 is out\r\n" +
			"To: coyote@ACME.Example.COM\r\n\r\nhi\r\n"))
	}
	runCases(t, []runCase{
		{name: "3 expansion", script: `require ["variables","reject"];
set "honorific"  "Mr";
set "first_name" "Wile";
set "last_name"  "Coyote";
set "vacation" text:
Dear ${HONORIFIC} ${last_name},
I'm out, please leave a message after the meep.
.
;
reject "${vacation}";`, want: "reject:Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n"},
		{name: "3 no recursion", script: `require ["variables","fileinto"];
set "a" "$"; set "b" "x"; set "c" "${a}{b}"; fileinto "${c}";`, want: "fileinto:${b}"},
		{name: "3 bad reference stays", script: `require ["variables","fileinto"]; fileinto "${frob-1}+${}";`, want: "fileinto:${frob-1}+${}"},
		{name: "3 unknown namespace", script: `require ["variables","fileinto"]; fileinto "a${frob.x}b";`, want: "fileinto:ab"},
		{name: "4.1 length", script: `require ["variables","fileinto"]; set "a" "juMBlEd lETteRS"; set :length "b" "${a}"; fileinto "${b}";`, want: "fileinto:15"},
		{name: "4.1 lower", script: `require ["variables","fileinto"]; set "a" "juMBlEd lETteRS"; set :lower "b" "${a}"; fileinto "${b}";`, want: "fileinto:jumbled letters"},
		{name: "4.1 upperfirst", script: `require ["variables","fileinto"]; set "a" "juMBlEd lETteRS"; set :upperfirst "b" "${a}"; fileinto "${b}";`, want: "fileinto:JuMBlEd lETteRS"},
		{name: "4.1 upperfirst lower", script: `require ["variables","fileinto"]; set "a" "juMBlEd lETteRS"; set :upperfirst :lower "b" "${a}"; fileinto "${b}";`, want: "fileinto:Jumbled letters"},
		{name: "4.1 quotewildcard", script: `require ["variables","fileinto"]; set :quotewildcard "b" "Rock*"; fileinto "${b}";`, want: `fileinto:Rock\*`},
		{name: "3.2 list-id", script: `require ["variables","fileinto"];
if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.${2}"; stop; }`, env: listMsg, want: "fileinto:INBOX.lists.acme-users"},
		{name: "3.2 subject", script: `require ["variables","fileinto"];
if header :matches "Subject" "[*] *" { fileinto "INBOX.lists.${1}/${2}"; stop; }`, env: listMsg, want: "fileinto:INBOX.lists.acme-users/[fwd] version 1.0 is out"},
		{name: "3.2 address", script: `require ["variables","fileinto"];
if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] { fileinto "INBOX.business.${2}[${1}]"; stop; }`, env: listMsg, want: "fileinto:INBOX.business.ACME.Example[]"},
		{name: "3.2 unset after failure", script: `require ["variables","fileinto"];
if header :matches "Subject" "[*] *" {}
if header :matches "Subject" "nomatch*" {}
fileinto "${1}";`, env: listMsg, want: "fileinto:acme-users"},
		{name: "3.2 whole match", script: `require ["variables","fileinto"];
if header :matches "Subject" "*version*" { fileinto "${0}"; }`, env: listMsg, want: "fileinto:[acme-users] [fwd] version 1.0 is out"},
		{name: "5 string test", script: `require ["variables","fileinto"];
set "state" "${state} pending";
if string :matches " ${state} " "* pending *" { fileinto "ok"; }`, want: "fileinto:ok"},
		{name: "5 string count", script: `require ["variables","relational","fileinto","comparator-i;ascii-numeric"];
if string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2" { fileinto "two"; }`, want: "fileinto:two"},
		{name: "bad set name", script: `require "variables"; set "1a" "x";`, wantErr: `invalid variable name "1a"`},
		{name: "variables need require", script: `set "a" "b";`, wantErr: `needs require "variables"`},
		{name: "size limit truncates", script: `require ["variables","fileinto","relational","comparator-i;ascii-numeric"];
set "a" "0123456789";
set "a" "${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}"; set "a" "${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}";
set "a" "${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}";
set :length "l" "${a}"; fileinto "${l}";`, want: "fileinto:4096"},
	})
}

// RFC 5231.
func TestRelational(t *testing.T) {
	runCases(t, []runCase{
		{name: "count cc", script: `require ["relational","comparator-i;ascii-numeric"];
if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] { discard; }`, want: "discard"},
		{name: "count header", script: `require ["relational","comparator-i;ascii-numeric"];
if header :count "eq" :comparator "i;ascii-numeric" "received" "1" { discard; }`, want: "discard"},
		{name: "count zero", script: `require ["relational","comparator-i;ascii-numeric"];
if header :count "eq" :comparator "i;ascii-numeric" "x-none" "0" { discard; }`, want: "discard"},
		{name: "value gt numeric", script: `require ["relational","comparator-i;ascii-numeric"];
if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { discard; }`, want: "discard"},
		{name: "value lt string", script: `require "relational";
if header :value "lt" "subject" "J" { discard; }`, want: "discard"},
		{name: "value ne", script: `require "relational";
if address :value "ne" :localpart "from" "coyote" { discard; }`, want: "implicit-keep"},
		{name: "bad op", script: `require "relational"; if header :value "gtx" "a" "b" {}`, wantErr: "unknown relational operator"},
		{name: "needs require", script: `if header :value "gt" "a" "b" {}`, wantErr: `needs require "relational"`},
	})
}

func TestRegex(t *testing.T) {
	runCases(t, []runCase{
		{name: "regex match", script: `require ["regex","variables","fileinto"];
if header :regex "subject" "^I have (a|an) ([a-z]+)" { fileinto "${2}"; }`, want: "fileinto:present"},
		{name: "regex casemap", script: `require ["regex"]; if header :regex "subject" "PRESENT" { discard; }`, want: "discard"},
		{name: "regex octet", script: `require ["regex"]; if header :regex :comparator "i;octet" "subject" "PRESENT" { discard; }`, want: "implicit-keep"},
		{name: "regex bad", script: `require ["regex"]; if header :regex "subject" "(" { discard; }`, wantErr: "invalid regular expression"},
		{name: "quoteregex", script: `require ["regex","variables","fileinto"]; set :quoteregex "a" "a.b*"; fileinto "${a}";`, want: `fileinto:a\.b\*`},
	})
}

// RFC 5228 section 2.4.2.4.
func TestEncodedCharacter(t *testing.T) {
	runCases(t, []runCase{
		{name: "hex", script: `require ["encoded-character","fileinto"]; fileinto "${hex:40 41}x";`, want: "fileinto:@Ax"},
		{name: "unicode", script: `require ["encoded-character","fileinto"]; fileinto "${unicode:48 65 6C 6C 6F 263A}";`, want: "fileinto:Hello☺"},
		{name: "malformed stays", script: `require ["encoded-character","fileinto"]; fileinto "${hex:zz}${hex:}";`, want: "fileinto:${hex:zz}${hex:}"},
		{name: "without require", script: `require ["fileinto"]; fileinto "${hex:40}";`, want: "fileinto:${hex:40}"},
		{name: "surrogate", script: `require ["encoded-character","fileinto"]; fileinto "${unicode:D800}";`, wantErr: "invalid Unicode character"},
	})
}
