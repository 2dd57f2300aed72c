package index

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchText is a message like cote-bench's: lines of words from a small
// vocabulary, a third of them multipart/alternative with an HTML part.
func benchText(n, size int) []byte {
	vocab := strings.Fields(`the of and to in is that for it as was with be by on not meeting
report project budget quarter review schedule customer invoice release deadline server mailbox
network storage backup update change request approval contract delivery please thanks regards
attached following discussed agreed proposal estimate draft summary tomorrow Monday Friday`)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	var text strings.Builder
	for text.Len() < size {
		for i := 0; i < 12; i++ {
			if i > 0 {
				text.WriteByte(' ')
			}
			text.WriteString(vocab[r.IntN(len(vocab))])
		}
		text.WriteString("\r\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: \"Sender %d\" <sender@bench.example>\r\nTo: <user@example.com>\r\nSubject: Quarterly %s\r\nMIME-Version: 1.0\r\n",
		n, vocab[n%len(vocab)])
	if n%3 == 1 {
		b.WriteString("Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(text.String())
		b.WriteString("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>")
		b.WriteString(strings.ReplaceAll(text.String(), "\r\n", "</p>\r\n<p>"))
		b.WriteString("</p></body></html>\r\n--b1--\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(text.String())
	}
	return []byte(b.String())
}

func benchTexts(b *testing.B) ([][]byte, int64) {
	var raws [][]byte
	var total int64
	for n := range 30 {
		raw := benchText(n, 4000+n*1500)
		raws = append(raws, raw)
		total += int64(len(raw))
	}
	return raws, total / int64(len(raws))
}

// BenchmarkExtractText is the decoding of a message's searchable text,
// what a search reads an unindexed message for; one op is one message.
func BenchmarkExtractText(b *testing.B) {
	raws, avg := benchTexts(b)
	b.SetBytes(avg)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		ExtractText(raws[i%len(raws)])
	}
}

// BenchmarkPrepareText is the indexer's word list of one message.
func BenchmarkPrepareText(b *testing.B) {
	texts, avg := benchExtracted(b)
	b.SetBytes(avg)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		PrepareText(texts[i%len(texts)])
	}
}

// BenchmarkTextMatches is the check of one message's text for a word it
// does not contain, the most common answer of a search that reads
// unindexed messages.
func BenchmarkTextMatches(b *testing.B) {
	texts, avg := benchExtracted(b)
	b.SetBytes(avg)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if TextMatches(texts[i%len(texts)], "quillfeatherzyx", false) {
			b.Fatal("match")
		}
	}
}

// benchExtracted is benchTexts' messages as their searchable text.
func benchExtracted(b *testing.B) ([]Text, int64) {
	raws, avg := benchTexts(b)
	texts := make([]Text, len(raws))
	for k, raw := range raws {
		texts[k], _ = ExtractText(raw)
	}
	return texts, avg
}
