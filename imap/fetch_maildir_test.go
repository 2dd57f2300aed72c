package imap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/memstore"
)

// TestFetchStructureMaildir: FETCH of ENVELOPE, BODYSTRUCTURE and BODY
// over a Maildir another program filled (no index: the first FETCH
// parses every message, in batches read ahead of the responses, and
// keeps their encodings in the index) answers as a later FETCH in a new
// session (from the kept encodings) and as a store without a cache
// (each message parsed by the engine).
func TestFetchStructureMaildir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mem := memstore.New()
	var msgs []string
	for i := range 1100 { // more than two batches
		m := wireTestMsgs[i%len(wireTestMsgs)]
		if i%3 == 1 {
			m = string(fetchBenchMsg(i))
		}
		msgs = append(msgs, m)
		name := fmt.Sprintf("%d.M%dP1.test:2,", 1700000000+i, i)
		if err := os.WriteFile(filepath.Join(root, "cur", name), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := mem.Append("INBOX", strings.NewReader(m), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const fetch = "f FETCH 1:* (UID ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY)"
	session := func(store storage.Store) []string {
		c := login(t, store)
		c.cmd("s SELECT INBOX").ok()
		r := c.cmd(fetch).ok()
		c.cmd("z LOGOUT")
		return r.lines
	}
	open := maildirOpener(t)
	want := session(mem)
	if len(want) != len(msgs)+1 {
		t.Fatalf("%s on the memory store: %d responses, want %d", fetch, len(want), len(msgs)+1)
	}
	first := session(open(root))
	again := session(open(root))
	for i := range want {
		if first[i] != want[i] || again[i] != want[i] {
			t.Fatalf("%s, response %d:\nfirst FETCH: %s\nrepeated: %s\nwithout a cache: %s", fetch, i, first[i], again[i], want[i])
		}
	}
}
