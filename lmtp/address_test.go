package lmtp

import (
	"strings"
	"testing"

	"cote/proto"
)

func TestSplitAddress(t *testing.T) {
	tests := []struct {
		addr, delims string
		want         address
		username     string
	}{
		// RFC 5233 section 1 examples.
		{"ken+sieve@example.org", "+", address{Local: "ken", Detail: "sieve", Delim: "+", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		{"ken@example.org", "+", address{Local: "ken", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		{"ken+@example.org", "+", address{Local: "ken", Delim: "+", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		{"ken+a+b@example.org", "+", address{Local: "ken", Detail: "a+b", Delim: "+", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		// Several delimiters: the first one found splits.
		{"ken-a+b@example.org", "+-", address{Local: "ken", Detail: "a+b", Delim: "-", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		{"ken+a-b@example.org", "-+", address{Local: "ken", Detail: "a-b", Delim: "+", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		// No subaddressing.
		{"ken+sieve@example.org", "", address{Local: "ken+sieve", Domain: "example.org", HasDomain: true}, "ken+sieve@example.org"},
		// A local part starting with the delimiter is not split.
		{"+list@example.org", "+", address{Local: "+list", Domain: "example.org", HasDomain: true}, "+list@example.org"},
		// No domain.
		{"ken+x", "+", address{Local: "ken", Detail: "x", Delim: "+"}, "ken"},
		// A quoted local part with "@" (go-smtp unquotes it).
		{"a@b+c@example.org", "+", address{Local: "a@b", Detail: "c", Delim: "+", Domain: "example.org", HasDomain: true}, "a@b@example.org"},
		// Multi-byte delimiter.
		{"ken§x@example.org", "§", address{Local: "ken", Detail: "x", Delim: "§", Domain: "example.org", HasDomain: true}, "ken@example.org"},
		{"Ken+Sieve@Example.ORG", "+", address{Local: "Ken", Detail: "Sieve", Delim: "+", Domain: "Example.ORG", HasDomain: true}, "Ken@Example.ORG"},
	}
	for _, tt := range tests {
		got := splitAddress(tt.addr, tt.delims)
		if got != tt.want || got.Username() != tt.username {
			t.Errorf("splitAddress(%q, %q) = %+v (%q), want %+v (%q)", tt.addr, tt.delims, got, got.Username(), tt.want, tt.username)
		}
	}
}

func FuzzSplitAddress(f *testing.F) {
	for _, s := range []string{"ken+sieve@example.org", "ken@example.org", "+x@y", "a@b+c@d", "ken+", "§@§", "@", "", "k\xff@d"} {
		f.Add(s, "+")
		f.Add(s, "+-§")
		f.Add(s, "\xa7")
	}
	f.Fuzz(func(t *testing.T, addr, delims string) {
		a := splitAddress(addr, delims)
		if a.String() != addr {
			t.Fatalf("splitAddress(%q, %q) = %+v, which makes %q", addr, delims, a, a.String())
		}
		if a.Delim != "" && (a.Local == "" || !strings.Contains(delims, a.Delim)) {
			t.Fatalf("splitAddress(%q, %q) = %+v: bad split", addr, delims, a)
		}
		if strings.Contains(a.Domain, "@") {
			t.Fatalf("splitAddress(%q, %q) = %+v: domain with @", addr, delims, a)
		}
	})
}

func FuzzParseEnhanced(f *testing.F) {
	for _, s := range []string{"2.0.0", "5.2.2", "4.3.0", "3.0.0", "2.0", "x.y.z", "2.000.0", "5.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ec, ok := parseEnhanced(s)
		if ok && (ec[0] != 2 && ec[0] != 4 && ec[0] != 5 || ec[1] < 0 || ec[1] > 999 || ec[2] < 0 || ec[2] > 999) {
			t.Fatalf("parseEnhanced(%q) = %v", s, ec)
		}
	})
}

func FuzzReplyText(f *testing.F) {
	for _, s := range []string{"ok", "a\r\n250 b", "\x00\xff", strings.Repeat("é", 300)} {
		f.Add(uint32(250), "2.0.0", s)
	}
	f.Fuzz(func(t *testing.T, code uint32, enh, msg string) {
		r := replyError(&proto.DeliverReply{Code: code, Enhanced: enh, Message: msg}, nil)
		if strings.ContainsAny(r.Message, "\r\n") || len(r.Message) > 400 || r.Code < 200 || r.Code > 599 || r.Code/100 == 3 || r.EnhancedCode[0] != r.Code/100 {
			t.Fatalf("replyError(%d %q %q) = %+v", code, enh, msg, r)
		}
	})
}
