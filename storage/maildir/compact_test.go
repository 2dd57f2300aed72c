package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/storage"
)

// TestUidlistCompacted: once a quarter of dovecot-uidlist's records are
// of expunged messages, the next save rewrites it without them.
func TestUidlistCompacted(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	for n := range 8 {
		if _, _, err := s.Append("INBOX", strings.NewReader(crashMsg(n)), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, m := range mb.Messages()[:6] {
		uids = append(uids, m.UID)
	}
	if _, err := mb.Store(uids, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Expunge(uids); err != nil {
		t.Fatal(err)
	}
	mb.Close()
	if _, _, err := s.Append("INBOX", strings.NewReader(crashMsg(8)), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 1+3 {
		t.Fatalf("dovecot-uidlist after 6 of 8 expunged and a save:\n%s\nwant the header and 3 records", data)
	}
	for _, l := range lines[1:] {
		for _, u := range []string{"1 ", "2 ", "3 ", "4 ", "5 ", "6 "} {
			if strings.HasPrefix(l, u) {
				t.Fatalf("record of expunged UID %s kept: %q", strings.TrimSpace(u), l)
			}
		}
	}
}
