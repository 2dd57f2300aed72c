package maildir

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/index"
)

// TestSearchTextUnindexedRaw: a search that reads the messages the text
// index does not cover (most of them told apart by their raw bytes)
// answers as the decoded text of each message does, and as the index
// does once it covers them.
func TestSearchTextUnindexedRaw(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	msgs := []string{
		"Subject: plain\n\nnothing here\n",
		"Subject: plain\n\nThe QuillFeatherZyx word\n",
		"Subject: =?utf-8?q?quill=66eatherzyx?=\n\nencoded-word\n",
		"Subject: b64\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" + b64("a quillfeatherzyx b") + "\n",
		"Subject: qp\nContent-Transfer-Encoding: quoted-printable\n\nquill=\nfeather=7Ayx\n",
		"Subject: html\nContent-Type: text/html\n\n<p>quill<b>feather</b>zyx</p>\n",
		"Subject: html\nContent-Type: text/html\n\n<p>quill</p><p>featherzyx</p>\n",
		"Subject: attachment\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhello\n--b\n" +
			"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + b64("quillfeatherzyx") + "\n--b--\n",
		"Subject: utf-8\nContent-Type: text/plain; charset=utf-8\n\nSchöne Grüße, quillfeatherzyx\n",
		"Subject: ligature\n\nquillfeatherzyx is not ﬁne\n",
		"Subject: latin-1\nContent-Type: text/plain; charset=iso-8859-1\n\nGr\xfc\xdfe\n",
		"Subject: folded\n quillfeatherzyx\n\nin the header only\n",
	}
	root := filepath.Join(t.TempDir(), "Maildir")
	for i, m := range msgs {
		write(t, filepath.Join(root, "cur", fmt.Sprintf("17000%05d.M1P1.mda:2,", i)), m)
	}
	queries := []string{"quillfeatherzyx", "QuillFeather", "featherzyx", "zyx", "grüße", "fine", "hello", "subject"}
	want := func(q string, body bool) []uint32 {
		var uids []uint32
		for i, m := range msgs {
			text, ok := index.ExtractText([]byte(strings.ReplaceAll(m, "\n", "\r\n")))
			if !ok || index.TextMatches(text, q, body) {
				uids = append(uids, uint32(i+1))
			}
		}
		return uids
	}
	s := openAt(t, root, Options{NoTextIndexer: true})
	defer s.Close()
	mbx, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mbx.Close()
	ts := mbx.(storage.TextSearchMailbox)
	for _, stage := range []string{"read", "indexed"} {
		if stage == "indexed" {
			s.s.syncText = len(msgs) // the next search indexes them first
		} else {
			s.s.syncText = 0
		}
		for _, q := range queries {
			for _, body := range []bool{false, true} {
				got, exact, err := ts.SearchText(q, body)
				if w := want(q, body); err != nil || !exact || !slices.Equal(got, w) {
					t.Errorf("%s: SearchText(%q, %v) = %v, %v, %v; want %v", stage, q, body, got, exact, err, w)
				}
			}
		}
		if n := unindexed(t, s); stage == "read" && n != len(msgs) || stage == "indexed" && n != 0 {
			t.Errorf("%s: %d unindexed", stage, n)
		}
	}
}

// TestReadRawSizeHint: a file reads the same, relative to its directory
// or by its path, whatever size it is said to have (a short size makes
// the read go on, a long one is read short), and without its line ends
// made CRLF.
func TestReadRawSizeHint(t *testing.T) {
	dir := t.TempDir()
	data := strings.Repeat("Subject: x\nline of text\n", 700)
	write(t, filepath.Join(dir, "m"), data)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var r structureReader
	for _, size := range []int64{-1, 0, 100, int64(len(data)), int64(len(data)) * 3, index.MaxParse + 1} {
		for _, at := range []struct {
			dirfd int
			name  string
		}{{fd, "m"}, {unix.AT_FDCWD, filepath.Join(dir, "m")}} {
			got, err := r.readRaw(at.dirfd, "", at.name, size)
			if err != nil || string(got) != data {
				t.Errorf("readRaw(%q, %d) = %d bytes, %v; want %d bytes", at.name, size, len(got), err, len(data))
			}
		}
	}
	if _, err := r.readRaw(fd, dir, "gone", 10); !os.IsNotExist(err) {
		t.Errorf("readRaw(gone) = %v, want not exist", err)
	}
	got, err := r.read(filepath.Join(dir, "m"))
	if want := strings.ReplaceAll(data, "\n", "\r\n"); err != nil || string(got) != want {
		t.Errorf("read = %d bytes, %v; want %d bytes with CRLF", len(got), err, len(want))
	}
}
