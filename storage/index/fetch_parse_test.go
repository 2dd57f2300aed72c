package index

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"cote/storage"
)

// FuzzCachedHeader: cachedHeader (names compared as bytes, lower-cased
// on the stack) keeps the fields storage.CachedField accepts, and
// headerGet finds the Content-Type strings.EqualFold finds.
func FuzzCachedHeader(f *testing.F) {
	for _, s := range mimeSeeds {
		hdr, _ := headerEnd([]byte(s), 0, len(s))
		f.Add(hdr)
	}
	f.Add([]byte("CONTENT-TYPE: text/plain\r\nX-Very-Long-Field-Name-Over-32-Bytes: x\r\nFrom : a\r\n \tfolded\r\n"))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		var want []byte
		fields(hdr, func(name string, raw []byte) {
			if storage.CachedField(name) {
				want = append(want, raw...)
			}
		})
		if got := cachedHeader(hdr); !bytes.Equal(got, want) {
			t.Fatalf("cachedHeader(%q) = %q, want %q", hdr, got, want)
		}
		var wantCT string
		wantFound := false
		fields(hdr, func(name string, raw []byte) {
			if !wantFound && strings.EqualFold(name, "Content-Type") {
				wantCT, wantFound = fieldValue(raw), true
			}
		})
		if v, ok := headerGet(hdr, "Content-Type"); v != wantCT || ok != wantFound {
			t.Fatalf("headerGet(%q) = %q, %v; want %q, %v", hdr, v, ok, wantCT, wantFound)
		}
	})
}

// BenchmarkParseStructure is the parse of one multipart message of the
// size a first FETCH of the bench's Maildir meets (18 KB).
func BenchmarkParseStructure(b *testing.B) {
	var m strings.Builder
	m.WriteString("Return-Path: <s@example.org>\r\nReceived: from mx.example.org by mail.example.com; Mon, 1 Jan 2024 00:00:00 +0000\r\n")
	m.WriteString("From: Sender <sender@example.org>\r\nTo: user@example.com, \"Other, Person\" <other@example.net>\r\n")
	m.WriteString("Subject: message about things\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1.bench@example.org>\r\nMIME-Version: 1.0\r\n")
	m.WriteString("Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\r\n"
	text := strings.Repeat(line, 14000/len(line))
	m.WriteString(text)
	m.WriteString("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + text[:len(text)/4] + "</p></body></html>\r\n--b1--\r\n")
	raw := []byte(m.String())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		ParseStructure(raw)
	}
}

// FuzzSplitMultipart: splitMultipart, which looks for the delimiter
// with bytes.Index, gives the ranges of a line-by-line scan.
func FuzzSplitMultipart(f *testing.F) {
	for _, s := range mimeSeeds {
		f.Add([]byte(s), "simple boundary")
	}
	f.Add([]byte("--b\r\n\r\nx--b\r\n--b \r\n--bx\r\n--b--"), "b")
	f.Add([]byte("--b--b\n--b\n\n--b--\n"), "b")
	f.Fuzz(func(t *testing.T, raw []byte, boundary string) {
		if boundary == "" {
			return
		}
		for _, start := range []int{0, min(len(raw), 3)} {
			got := splitMultipart(raw, start, len(raw), boundary)
			want := splitMultipartLines(raw, start, len(raw), boundary)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("splitMultipart(%q from %d, %q) = %v, want %v", raw, start, boundary, got, want)
			}
		}
	})
}

// splitMultipartLines is splitMultipart as a scan line by line, the
// reference it is checked against.
func splitMultipartLines(raw []byte, start, end int, boundary string) [][2]int {
	delim := []byte("--" + boundary)
	var ranges [][2]int
	partStart := -1
	pos := start
	for pos < end {
		next := end
		if i := bytes.IndexByte(raw[pos:end], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := raw[pos:next]
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r\n")
			closing := bytes.Equal(rest, []byte("--"))
			if closing || len(rest) == 0 {
				if partStart >= 0 {
					ranges = append(ranges, [2]int{partStart, trimPrecedingNewline(raw, partStart, pos)})
				}
				if closing {
					return ranges
				}
				partStart = next
			}
		}
		pos = next
	}
	if partStart >= 0 {
		ranges = append(ranges, [2]int{partStart, end})
	}
	return ranges
}
