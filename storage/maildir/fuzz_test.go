package maildir

import (
	"bytes"
	"slices"
	"testing"
)

// Seeds are the examples of dovecot-internals.md section 4 and files as
// Dovecot 2.3 writes them.

func FuzzUidlist(f *testing.F) {
	f.Add([]byte("3 V1795899802 N1 Ga5ad93349a410b6b3d16000083ecc375\n"))
	f.Add([]byte("3 V1700000000 N9 Ga5ad93349a410b6b3d16000083ecc375 P1\n1 :1700000001.M1P1.host,S=17,W=19\n3 W22 S20 :1700000003.M3P3.host\n4 P0000abcd O2 :1.M1P1.h\n"))
	f.Add([]byte("1 1000 5\n1 1000000.123.host:2,S\n4 1000001.124.host\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := parseUidlist(data)
		if err != nil {
			return
		}
		out := u.format()
		u2, err := parseUidlist(out)
		if err != nil {
			t.Fatalf("reparse of %q: %v", out, err)
		}
		if !bytes.Equal(u2.format(), out) {
			t.Fatalf("format not stable: %q vs %q", out, u2.format())
		}
	})
}

func FuzzKeywords(f *testing.F) {
	f.Add([]byte("0 $Forwarded\n1 Work\n"))
	f.Add([]byte("25 z\n3 x\nbad\n-1 y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kw := parseKeywords(data)
		if len(kw) > maxKeywords {
			t.Fatalf("%d keywords", len(kw))
		}
		if got := parseKeywords(formatKeywords(kw)); !slices.Equal(got, kw) {
			t.Fatalf("round trip %q: %q vs %q", data, got, kw)
		}
	})
}

func FuzzSubscriptions(f *testing.F) {
	f.Add([]byte("V\t2\n\n"))
	f.Add([]byte("V\t2\n\nINBOX\nA\tB\x01t\tC\n"))
	f.Add([]byte("INBOX\nSent/2023\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		names := parseSubscriptions(data, '/')
		for _, n := range names {
			if n == "" {
				t.Fatalf("empty name from %q", data)
			}
		}
		parseSubscriptions(formatSubscriptions(names, '/'), '/')
	})
}

func FuzzFileName(f *testing.F) {
	f.Add("1700000000.M123456P4242.host,S=1234,W=1260:2,FSa")
	f.Add("1700000000.M1P1.host:2,")
	f.Add("1.2.host,S=x,W=-1:1,junk")
	f.Fuzz(func(t *testing.T, name string) {
		fi := parseFileName(name)
		if len(fi.Base) > len(name) {
			t.Fatalf("base longer than name")
		}
		flags, other := flagsFromInfo(fi.Flags, []string{"$Forwarded", "Work"})
		info := infoFromFlags(flags, other, func(k string) int { return slices.Index([]string{"$Forwarded", "Work"}, k) })
		if !slices.IsSorted([]byte(info)) {
			t.Fatalf("info %q not sorted", info)
		}
	})
}

func FuzzLocation(f *testing.F) {
	f.Add("maildir:~/Maildir")
	f.Add("maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir")
	f.Add("maildir:/var/mail/%d/%n:INDEX=/var/index/%u:UTF-8:CONTROL=~/c::d")
	f.Fuzz(func(t *testing.T, loc string) {
		l, err := ParseLocation(loc, "/home/u", "u@example.com")
		if err == nil && l.Root == "" {
			t.Fatalf("ParseLocation(%q): empty root", loc)
		}
	})
}

func FuzzMUTF7(f *testing.F) {
	f.Add("A&AOQ-")
	f.Add("&Jjo-!")
	f.Add("~peter/mail/&U,BTFw-/&ZeVnLIqe-")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := decodeMUTF7(s)
		if err != nil {
			return
		}
		if e := encodeMUTF7(d); e != s {
			if d2, err := decodeMUTF7(e); err != nil || d2 != d {
				t.Fatalf("round trip %q -> %q -> %q", s, d, e)
			}
		}
	})
}
