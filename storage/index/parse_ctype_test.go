package index

import (
	"testing"
)

// contentTypeFull is contentType without its way around
// mime.ParseMediaType for values without a boundary: what it must
// agree with.
func contentTypeFull(hdr []byte) (typ, sub, boundary string, ok bool) {
	v, found := headerGet(hdr, "Content-Type")
	if !found {
		return "", "", "", false
	}
	return parseContentType(v)
}

var contentTypeSeeds = []string{
	"text/plain",
	"Text/HTML; charset=utf-8",
	" text/plain ; charset=\"us-ascii\"; format=flowed",
	"multipart/mixed; boundary=\"simple boundary\"",
	"multipart/alternative; BOUNDARY=abc",
	"multipart/mixed; boundary*0=\"a\"; boundary*1=\"b\"",
	"text/plain; charset=a; charset=b",
	"text/plain; charset=a; charset=b; boundary=x",
	"text / plain",
	"text/",
	"/plain",
	"text",
	"application/octet-stream; name=\"data.bin\";",
	"text/plain; name*=utf-8''%e2%82%ac",
	"TEXT/PLAIN\xff; x=y",
	"text/pl\u212aain",
	"message/rfc822",
	"",
}

// TestContentType: contentType gives what mime.ParseMediaType and its
// fallback give, with or without a boundary parameter.
func TestContentType(t *testing.T) {
	for _, v := range contentTypeSeeds {
		hdr := []byte("Content-Type: " + v + "\r\n")
		typ, sub, b, ok := contentType(hdr)
		wtyp, wsub, wb, wok := contentTypeFull(hdr)
		if typ != wtyp || sub != wsub || b != wb || ok != wok {
			t.Errorf("contentType(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", v, typ, sub, b, ok, wtyp, wsub, wb, wok)
		}
	}
}

func FuzzContentType(f *testing.F) {
	for _, v := range contentTypeSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		hdr := []byte("Content-Type: " + v + "\r\n")
		typ, sub, b, ok := contentType(hdr)
		wtyp, wsub, wb, wok := contentTypeFull(hdr)
		if typ != wtyp || sub != wsub || b != wb || ok != wok {
			t.Fatalf("contentType(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", v, typ, sub, b, ok, wtyp, wsub, wb, wok)
		}
	})
}
