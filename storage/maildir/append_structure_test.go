package maildir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/index"
)

// TestAppendStructure: the structure the index holds for an APPENDed
// message (what BODYSTRUCTURE and ENVELOPE are made of) is the structure
// of the file stored, with CRLF line endings, both for a message kept in
// memory while it is written and for one larger than saveKeep, which is
// read back from its file.
func TestAppendStructure(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	small := "From: a@example.org\nSubject: small\nContent-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nhello\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b--\n"
	large := "From: a@example.org\r\nSubject: large\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("line of text\n", saveKeep/13+10) +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n--b--\r\n"
	for _, m := range []string{small, large} {
		if _, _, err := s.Append("INBOX", strings.NewReader(m), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mb, err := s.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	res, err := mb.(storage.CacheBatchMailbox).CachedBatch([]uint32{1, 2})
	if err != nil || len(res) != 2 {
		t.Fatalf("CachedBatch = %+v, %v; want 2 results", res, err)
	}
	stored := map[string][]byte{} // by subject
	files, _ := filepath.Glob(filepath.Join(root, "cur", "*"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, subject := range []string{"small", "large"} {
			if strings.Contains(string(raw), "Subject: "+subject+"\r\n") {
				stored[subject] = raw
			}
		}
	}
	if len(stored["large"]) <= saveKeep {
		t.Fatalf("large message stored as %d bytes, not over saveKeep", len(stored["large"]))
	}
	for i, subject := range []string{"small", "large"} {
		raw := stored[subject]
		if raw == nil || !res[i].OK {
			t.Fatalf("%s: stored %d bytes, cached %v", subject, len(raw), res[i].OK)
		}
		if strings.Contains(strings.ReplaceAll(string(raw), "\r\n", ""), "\n") {
			t.Errorf("%s: stored with bare LFs", subject)
		}
		if want := index.ParseStructure(raw).Part; !reflect.DeepEqual(res[i].Cached.Part, want) {
			t.Errorf("%s: cached structure\n%+v\nwant that of the stored file\n%+v", subject, res[i].Cached.Part, want)
		}
	}
}
