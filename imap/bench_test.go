package imap

import (
	"testing"

	"cote/storage"
	"cote/storage/index"
)

// BenchmarkParseFetch parses a FETCH command as Thunderbird sends it.
func BenchmarkParseFetch(b *testing.B) {
	cmd := []byte("a12 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]) (CHANGEDSINCE 12345)")
	b.ReportAllocs()
	for b.Loop() {
		p := &parser{b: cmd}
		p.commandHead()
		p.sp()
		p.seqSet()
		p.sp()
		parseFetchItems(p)
		p.sp()
		parseFetchModifiers(p)
		p.end()
		if p.err != nil {
			b.Fatal(p.err)
		}
	}
}

// BenchmarkParseSearch parses a SEARCH program.
func BenchmarkParseSearch(b *testing.B) {
	cmd := []byte(`RETURN (MIN MAX COUNT) CHARSET UTF-8 OR (FROM "alice" SUBJECT "report") (NOT SEEN SINCE 1-Jan-2024) UID 1:1000,2000:* MODSEQ 1234 LARGER 1000`)
	b.ReportAllocs()
	for b.Loop() {
		p := &parser{b: cmd}
		parseReturnOpts(p)
		p.atom()
		p.sp()
		p.astring()
		p.sp()
		parseSearchKeys(p, 0)
		p.end()
		if p.err != nil {
			b.Fatal(p.err)
		}
	}
}

// benchFetch encodes FETCH (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)
// for a multipart message, from its bytes or from the index's cache.
func benchFetch(b *testing.B, cached bool) {
	raw := []byte(multipartMsg)
	items := []fetchItem{{kind: fetchUID}, {kind: fetchFlags}, {kind: fetchSize}, {kind: fetchEnvelope}, {kind: fetchBodyStructure}}
	s := &session{view: newView(nil, &modes{})}
	m := storage.Message{UID: 7, Flags: []string{storage.FlagSeen}, Size: int64(len(raw))}
	c := index.ParseStructure(raw)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var mc msgContent
		if cached {
			mc = msgContent{root: partFromCache(&c.Part, false)}
		} else {
			mc = msgContent{raw: raw, root: parseMessage(raw)}
		}
		if _, err := s.fetchResponse(1, m, mc, items, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFetchEncodeParsed(b *testing.B) { benchFetch(b, false) }
func BenchmarkFetchEncodeCached(b *testing.B) { benchFetch(b, true) }
