package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Words that the generated messages are made of. rareWord is in one
// message in rareEvery, subjectWord in the subject of one in subjectEvery:
// the targets of the SEARCH scenarios.
var vocabulary = strings.Fields(`the of and to in is that for it as was with be by on not he
this are or his from at which but have an they you were her she there been one all we their
has would when if so no will more out up into do any your what some can only other new time
could about than people my two first may after should made over such like then them most
meeting report project budget quarter review schedule customer invoice release deadline
server mailbox network storage backup update change request approval contract delivery
please thanks regards attached following discussed agreed proposal estimate draft summary
tomorrow monday friday morning afternoon week month office team manager support question`)

const (
	rareWord     = "quillfeatherzyx"
	rareEvery    = 1000
	subjectWord  = "Quarterly"
	subjectEvery = 100
	genFrom      = "sender@bench.example"
)

// msgSize draws a message size between 4 and 50 KB, log-uniformly, so
// that small messages are common and large ones present.
func msgSize(rng *rand.Rand) int {
	lo, hi := math.Log(4<<10), math.Log(50<<10)
	return int(math.Exp(lo + rng.Float64()*(hi-lo)))
}

func words(rng *rand.Rand, b *bytes.Buffer, n int) {
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
	}
}

// paragraphs writes text lines of about 72 columns until b has grown by n
// bytes.
func paragraphs(rng *rand.Rand, b *bytes.Buffer, n int) {
	end := b.Len() + n
	col := 0
	for b.Len() < end {
		w := vocabulary[rng.IntN(len(vocabulary))]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
			if rng.IntN(8) == 0 {
				b.WriteString("\r\n")
			}
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString("\r\n")
}

// genMessage makes message number i, the same bytes for the same i and to:
// a plain text message, a multipart/alternative with an HTML part (one in
// three), or a text with a base64 attachment (one in ten).
func genMessage(i int, to string) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 0x636f7465))
	size := msgSize(rng)
	var b bytes.Buffer
	b.Grow(size + 2048)
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Minute)
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", genFrom)
	fmt.Fprintf(&b, "Message-ID: <%d.%x@bench.example>\r\n", i, rng.Uint64())
	fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: \"Sender %d\" <%s>\r\n", i%97, genFrom)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	if i%5 == 0 {
		fmt.Fprintf(&b, "Cc: \"Team\" <team@bench.example>, <other%d@bench.example>\r\n", i%13)
	}
	b.WriteString("Subject: ")
	if i%subjectEvery == 0 {
		b.WriteString(subjectWord + " ")
	}
	words(rng, &b, 3+rng.IntN(6))
	b.WriteString("\r\nMIME-Version: 1.0\r\n")
	body := func() {
		if i%rareEvery == rareEvery/2 {
			fmt.Fprintf(&b, "The code word is %s.\r\n", rareWord)
		}
		paragraphs(rng, &b, size-b.Len())
	}
	switch {
	case i%3 == 1:
		const bd = "=_alt_boundary_"
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"%s%d\"\r\n\r\n", bd, i)
		fmt.Fprintf(&b, "--%s%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", bd, i)
		half := size / 2
		paragraphs(rng, &b, half-b.Len()/2)
		fmt.Fprintf(&b, "--%s%d\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>", bd, i)
		body()
		fmt.Fprintf(&b, "</p></body></html>\r\n--%s%d--\r\n", bd, i)
	case i%10 == 3:
		const bd = "=_mixed_boundary_"
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s%d\"\r\n\r\n", bd, i)
		fmt.Fprintf(&b, "--%s%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", bd, i)
		paragraphs(rng, &b, 1024)
		if i%rareEvery == rareEvery/2 {
			fmt.Fprintf(&b, "The code word is %s.\r\n", rareWord)
		}
		fmt.Fprintf(&b, "--%s%d\r\nContent-Type: application/octet-stream; name=\"data%d.bin\"\r\n", bd, i, i)
		b.WriteString("Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment\r\n\r\n")
		raw := make([]byte, max(size-b.Len(), 512)*3/4+64)
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		fmt.Fprintf(&b, "%s\r\n--%s%d--\r\n", enc, bd, i)
	default:
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		body()
	}
	return b.Bytes()
}

// genMaildir writes messages from to from+n-1 into dir/cur as a Maildir
// (uid and gid owning everything when uid >= 0), in parallel, without
// fsync: a fixture that both servers then index on their first SELECT.
func genMaildir(dir string, from, n, uid, gid int, to string) error {
	for _, sub := range []string{"", "cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Chown(filepath.Join(dir, sub), uid, gid); err != nil {
				return err
			}
		}
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards first
		first error
	)
	workers := max(numCPU()*2, 4)
	for w := range workers {
		wg.Go(func() {
			for i := from + w; i < from+n; i += workers {
				msg := genMessage(i, to)
				flags := ""
				if i%10 < 7 {
					flags = "S"
				}
				at := base + int64(i-from)*420
				name := fmt.Sprintf("%d.M%dP%d.bench,S=%d:2,%s", at, i, w, len(msg), flags)
				p := filepath.Join(dir, "cur", name)
				err := os.WriteFile(p, msg, 0o600)
				if err == nil && uid >= 0 {
					err = os.Chown(p, uid, gid)
				}
				if err == nil {
					t := time.Unix(at, 0)
					err = os.Chtimes(p, t, t)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// genMbox writes n messages as an mbox (LF line ends, >From quoting), the
// input imaptest appends from.
func genMbox(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		// Numbers of their own: imaptest tells messages apart by
		// Message-ID, and the LMTP and APPEND scenarios deliver numbers
		// from 0 and 1,000,000 into the same users.
		msg := bytes.ReplaceAll(genMessage(2_000_000+i, "imaptest@bench.example"), []byte("\r\n"), []byte("\n"))
		fmt.Fprintf(w, "From %s Mon Jan  1 00:00:00 2024\n", genFrom)
		for _, l := range bytes.SplitAfter(msg, []byte("\n")) {
			if bytes.HasPrefix(bytes.TrimLeft(l, ">"), []byte("From ")) {
				w.WriteByte('>')
			}
			w.Write(l)
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
