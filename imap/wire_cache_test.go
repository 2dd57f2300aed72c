package imap

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/index"
)

// wireTestMsgs are messages whose ENVELOPE and BODYSTRUCTURE pin down
// the encoding the index keeps.
var wireTestMsgs = []string{
	simpleMsg,
	multipartMsg,
	crlf("Subject: no addresses\n\nbody\n"),
	crlf("From: \"Doe, J.\" <j@x.org> (comment)\nTo: a@b.c, Group: d@e.f, g@h.i;\nCc: <@route:u@h>\nMessage-ID: <1@x>\nIn-Reply-To: <0@x>\n" +
		"Content-Type: text/plain; charset=\"us-ascii\"; format=flowed\nContent-Language: en, de\nContent-Location: http://x/y\n\nhi\n"),
	crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x@y\n\nembedded\n--d--\n"),
	crlf("Content-Type: multipart/mixed\n\nno boundary\n"),
	crlf("Subject: =?utf-8?q?caf=C3=A9?= \"quoted\" \\ back\nContent-Type: application/octet-stream; name=\"a b\"\n" +
		"Content-Disposition: attachment; filename=\"a b.bin\"\nContent-Transfer-Encoding: base64\nContent-MD5: abc\n\nAAAA\n"),
}

// wireDigest is the SHA-256 of the encodings of wireTestMsgs at
// wireVersion.
const wireDigest = "1f52e93c7045275608cf98bcd2a3f091b082cedff4872e989429d8c51c7270f2"

// TestWireVersion fails when the ENVELOPE or BODYSTRUCTURE the engine
// sends changes: indexes keep them (encodeWire), so a change needs a new
// wireVersion, and then a new wireDigest.
func TestWireVersion(t *testing.T) {
	h := sha256.New()
	for _, m := range wireTestMsgs {
		c := index.ParseStructure([]byte(m))
		h.Write(encodeWire(&c.Part))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wireDigest {
		t.Errorf("the encodings of ENVELOPE and BODYSTRUCTURE changed (digest %s, want %s): bump wireVersion, then set wireDigest to the new digest", got, wireDigest)
	}
}

// TestWireSameAsEncoded: what the index keeps is what FETCH sends for a
// structure it encodes itself, from the message or from the cache.
func TestWireSameAsEncoded(t *testing.T) {
	items := []fetchItem{{kind: fetchEnvelope}, {kind: fetchBodyStructure}}
	s := &session{view: newView(nil, &modes{})}
	m := storage.Message{UID: 1}
	for _, raw := range wireTestMsgs {
		c := index.ParseStructure([]byte(raw))
		want, err := s.fetchResponse(1, m, msgContent{raw: []byte(raw), root: parseMessage([]byte(raw))}, items, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Wire = encodeWire(&c.Part)
		mc := prepareBatch([]storage.CachedResult{{UID: 1, Cached: c, OK: true}}, items)[1]
		if mc == nil || mc.root != nil {
			t.Fatalf("prepareBatch(%.30q): %+v, want the kept encodings and no structure", raw, mc)
		}
		got, err := s.fetchResponse(1, m, *mc, items, false)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.b) != string(want.b) {
			t.Errorf("FETCH from the kept encoding of %.30q =\n%s\nwant\n%s", raw, got.b, want.b)
		}
	}
}

// TestSplitWire: kept bytes of another version, or that do not add up,
// are not used (the structure is encoded anew).
func TestSplitWire(t *testing.T) {
	c := index.ParseStructure([]byte(simpleMsg))
	w := encodeWire(&c.Part)
	env, bs, ok := splitWire(w)
	if !ok || !strings.HasPrefix(string(env), "(") || !strings.HasPrefix(string(bs), "(") {
		t.Fatalf("splitWire(encodeWire) = %q, %q, %v", env, bs, ok)
	}
	other := append([]byte{wireVersion + 1}, w[1:]...)
	for _, bad := range [][]byte{nil, {wireVersion}, other, w[:len(w)-1], append(w[:1:1], 0, 0, 0, 0)} {
		if _, _, ok := splitWire(bad); ok {
			t.Errorf("splitWire(%q) ok, want not", bad)
		}
	}
}

// TestHeaderFieldsFromKept: a FETCH of header fields and ENVELOPE from
// the cache, with or without the kept encodings, which builds the
// top-level header alone unless BODY or a BODYSTRUCTURE to encode needs
// more, sends what it sends for the message's bytes.
func TestHeaderFieldsFromKept(t *testing.T) {
	s := &session{view: newView(nil, &modes{})}
	m := storage.Message{UID: 1}
	for _, list := range []string{
		"(UID ENVELOPE BODY.PEEK[HEADER.FIELDS (From Subject Message-ID)])",
		"(BODY.PEEK[HEADER.FIELDS (To Cc References In-Reply-To)] BODYSTRUCTURE)",
		"(BODY.PEEK[HEADER.FIELDS (Subject)] BODY)",
		"(UID ENVELOPE)",
		"(ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (Subject)])",
	} {
		items := parseFetchItems(&parser{b: []byte(list)})
		for _, raw := range wireTestMsgs {
			want, err := s.fetchResponse(1, m, msgContent{raw: []byte(raw), root: parseMessage([]byte(raw))}, items, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, kept := range []bool{false, true} {
				c := index.ParseStructure([]byte(raw))
				if kept {
					c.Wire = encodeWire(&c.Part)
				}
				mc := prepareBatch([]storage.CachedResult{{UID: 1, Cached: c, OK: true}}, items)[1]
				if mc == nil {
					t.Fatalf("prepareBatch(%.30q) for %s gave nothing", raw, list)
				}
				got, err := s.fetchResponse(1, m, *mc, items, false)
				if err != nil {
					t.Fatal(err)
				}
				if string(got.b) != string(want.b) {
					t.Errorf("FETCH %s from the cache of %.30q (encodings kept: %v) =\n%s\nwant\n%s", list, raw, kept, got.b, want.b)
				}
			}
		}
	}
}
