package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// vsizeMsg is message i of a Maildir another server delivered: bare LF
// line endings for most, CRLF for every fifth, from about 4 to 50 KB.
func vsizeMsg(i int) []byte {
	nl := "\n"
	if i%5 == 0 {
		nl = "\r\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: s%d@example.org%sSubject: message %d%s%s", i, nl, i, nl, nl)
	line := "lorem ipsum dolor sit amet consectetur adipiscing elit" + nl
	for range (4000 + i*7919%46000) / len(line) {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// writeVsizeMaildir writes n messages into root's cur/ with names that
// carry S= but not W= (cote-bench's fixtures, a Maildir copied from
// another server), and returns their sizes with CRLF line endings by
// UID (their names sort in delivery order).
func writeVsizeMaildir(root string, n int) ([]int64, error) {
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	want := make([]int64, n)
	for i := range n {
		msg := vsizeMsg(i)
		name := fmt.Sprintf("%d.M%dP1.other,S=%d:2,S", 1700000000+i, i, len(msg))
		if err := os.WriteFile(filepath.Join(root, "cur", name), msg, 0o600); err != nil {
			return nil, err
		}
		want[i] = int64(len(msg) + strings.Count(string(msg), "\n") - strings.Count(string(msg), "\r\n"))
	}
	return want, nil
}

// TestFirstScanSizesWithoutW: a first SELECT of a Maildir whose names
// carry no W= (counted on every CPU) gives each message its exact
// RFC822.SIZE, and dovecot-uidlist keeps it, so that a new process (and
// Dovecot) has it without reading the files.
func TestFirstScanSizesWithoutW(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	want, err := writeVsizeMaildir(root, 3*burstMin)
	if err != nil {
		t.Fatal(err)
	}
	for pass := range 2 {
		s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1, NoTextIndexer: true})
		if err != nil {
			t.Fatal(err)
		}
		mb, err := s.Open("INBOX", false)
		if err != nil {
			t.Fatal(err)
		}
		msgs := mb.Messages()
		if len(msgs) != len(want) {
			t.Fatalf("pass %d: %d messages, want %d", pass, len(msgs), len(want))
		}
		for i, m := range msgs {
			if m.UID != uint32(i+1) || m.Size != want[i] {
				t.Errorf("pass %d: message %d is UID %d of %d bytes, want UID %d of %d", pass, i, m.UID, m.Size, i+1, want[i])
			}
		}
		mb.Close()
		s.Close()
	}
	data, err := os.ReadFile(filepath.Join(root, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if !strings.Contains(string(data), fmt.Sprintf("\n%d W%d :", i+1, w)) {
			t.Fatalf("dovecot-uidlist has no W%d for UID %d:\n%.300s", w, i+1, data)
		}
	}
}

// vsizeTemplate is BenchmarkFirstScanWithoutW's Maildir: scanCount()/4
// messages of 4-50 KB (about 100 MB for the default), made once and
// kept in the temporary directory, as scanTemplate is.
var vsizeTemplate = sync.OnceValues(func() (string, error) {
	return templateDir(fmt.Sprintf("cote-vsize-%d", scanCount()/4), func(root string) error {
		_, err := writeVsizeMaildir(root, scanCount()/4)
		return err
	})
})

// BenchmarkFirstScanWithoutW is BenchmarkFirstScan on a Maildir whose
// names carry no W= (cote-bench's): the first SELECT reads every file
// for its size with CRLF line endings.
func BenchmarkFirstScanWithoutW(b *testing.B) {
	tmpl, err := vsizeTemplate()
	if err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(tmpl, "cur"))
	if err != nil {
		b.Fatal(err)
	}
	var cpu, wall time.Duration
	for b.Loop() {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "Maildir")
		linkTemplate(b, tmpl, root, ents)
		b.StartTimer()
		c0, t0 := cpuTime(), time.Now()
		s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1, NoTextIndexer: true})
		if err != nil {
			b.Fatal(err)
		}
		mb, err := s.Open("INBOX", false)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(mb.Messages()); n != len(ents) {
			b.Fatalf("%d messages, want %d", n, len(ents))
		}
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		b.StopTimer()
		mb.Close()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(wall.Microseconds())/float64(b.N*len(ents)), "us/msg")
}
