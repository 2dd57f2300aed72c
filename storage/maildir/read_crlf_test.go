package maildir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/storage"
)

// TestReadLineEndings: a message reads back with CRLF line endings
// whatever its file holds: a saved one as it was stored; one delivered
// by another program with bare LFs, named with or without its CRLF size
// (W=), or with a W= and an S= that are not the file's size. A name
// whose W= equals its S= and the file's size is taken at its word, as
// for RFC822.SIZE: the file is given as it is, as long as it says.
func TestReadLineEndings(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	saved := "Subject: saved\r\n\r\nline one\r\nline two\r\n"
	if _, _, err := s.Append("INBOX", strings.NewReader(saved), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	bare := "Subject: bare\n\nline one\nline two\n"
	crlf := strings.ReplaceAll(bare, "\n", "\r\n")
	for i, name := range []string{
		fmt.Sprintf("1700000001.M1P1.other,S=%d:2,", len(bare)),                     // no W=
		fmt.Sprintf("1700000002.M2P1.other,S=%d,W=%d:2,", len(bare), len(crlf)),     // honest W=
		fmt.Sprintf("1700000003.M3P1.other,S=%d,W=%d:2,", len(bare), len(bare)),     // W= claims no bare LF
		fmt.Sprintf("1700000004.M4P1.other,S=%d,W=%d:2,", len(bare)+1, len(bare)+1), // and a wrong size
	} {
		if err := os.WriteFile(filepath.Join(root, "cur", name), []byte(bare), 0o600); err != nil {
			t.Fatal(i, err)
		}
	}
	mb, err := s.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	for uid, want := range map[uint32]string{1: saved, 2: crlf, 3: crlf, 4: bare, 5: crlf} {
		rc, err := mb.Read(uid)
		if err != nil {
			t.Fatalf("Read(%d): %v", uid, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want {
			t.Errorf("Read(%d) = %q, %v; want %q", uid, got, err, want)
		}
	}
}
