package index

import (
	"reflect"
	"testing"
)

// Seeds are RFC 2046 section 5.1.1's multipart example and messages as
// clients send them.
var mimeSeeds = []string{
	"From: Nathaniel Borenstein <nsb@bellcore.com>\r\nTo: Ned Freed <ned@innosoft.com>\r\nDate: Sun, 21 Mar 1993 23:56:48 -0800 (PST)\r\n" +
		"Subject: Sample message\r\nMIME-Version: 1.0\r\nContent-type: multipart/mixed; boundary=\"simple boundary\"\r\n\r\n" +
		"This is the preamble.\r\n--simple boundary\r\n\r\nThis is implicitly typed plain US-ASCII text.\r\n" +
		"--simple boundary\r\nContent-type: text/plain; charset=us-ascii\r\n\r\nThis is explicitly typed.\r\n\r\n" +
		"--simple boundary--\r\n\r\nThis is the epilogue.\r\n",
	"Subject: =?iso-8859-1?q?J=F6rg?=\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n",
	"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: a\r\n\r\nx\r\n--d--\r\n",
	"Content-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n",
	"no header at all",
}

func FuzzParseStructure(f *testing.F) {
	for _, s := range mimeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := ParseStructure(raw)
		if c.Start != 0 || c.End != int64(len(raw)) || c.BodyStart > c.End {
			t.Fatalf("root part %d %d %d for %d bytes", c.Start, c.BodyStart, c.End, len(raw))
		}
		enc := encodeCached(c)
		d, err := decodeCached(enc)
		if err != nil {
			t.Fatalf("decode(encode) = %v", err)
		}
		if !reflect.DeepEqual(normalize(d.Part), normalize(c.Part)) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzDecodeCached(f *testing.F) {
	for _, s := range mimeSeeds {
		f.Add(encodeCached(ParseStructure([]byte(s))))
	}
	f.Add([]byte("C\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCached(data)
		if err != nil {
			return
		}
		if _, err := decodeCached(encodeCached(c)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzExtractText(f *testing.F) {
	for _, s := range mimeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ExtractText(raw)
		htmlText(raw)
	})
}

func FuzzQuotaRules(f *testing.F) {
	f.Add("*:storage=1G", "*:messages=10000")
	f.Add("*:bytes=10M:messages=5", "Trash:ignore")
	f.Add("Trash:storage=+100M", "*:storage=10%")
	f.Fuzz(func(t *testing.T, a, b string) {
		l, err := ParseQuotaRules([]string{a, b})
		if err == nil && (l.Storage < 0 || l.Messages < 0) {
			t.Fatalf("negative limits %+v from %q %q", l, a, b)
		}
	})
}
