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

// TestFetchWireMaildir: a FETCH whose structure items are ENVELOPE and
// BODYSTRUCTURE alone reads only the kept encodings
// (storage.CacheWireMailbox) on a repeated FETCH; with an item that
// needs the structure too (HEADER.FIELDS, BODY) it reads the whole
// record. Each answers as a store without a cache, on the first FETCH
// (every message parsed) and the repeated one, in either order.
func TestFetchWireMaildir(t *testing.T) {
	mem := memstore.New()
	var msgs []string
	for i := range 700 { // more than one batch
		m := wireTestMsgs[i%len(wireTestMsgs)]
		if i%3 == 1 {
			m = string(fetchBenchMsg(i))
		}
		msgs = append(msgs, m)
		if _, _, err := mem.Append("INBOX", strings.NewReader(m), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A Maildir another program filled, without an index.
	maildirOf := func() string {
		root := filepath.Join(t.TempDir(), "Maildir")
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		for i, m := range msgs {
			name := fmt.Sprintf("%d.M%dP1.test:2,", 1700000000+i, i)
			if err := os.WriteFile(filepath.Join(root, "cur", name), []byte(m), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	fetches := []string{
		"f FETCH 1:* (UID ENVELOPE BODYSTRUCTURE RFC822.SIZE)",
		"f FETCH 1:* (ENVELOPE BODY.PEEK[HEADER.FIELDS (Subject Content-Type)])",
		"f FETCH 1:* (BODYSTRUCTURE BODY)",
		"f FETCH 1:* (UID ENVELOPE)",
	}
	session := func(store storage.Store, fetch string) []string {
		c := login(t, store)
		c.cmd("s SELECT INBOX").ok()
		r := c.cmd(fetch).ok()
		c.cmd("z LOGOUT")
		return r.lines
	}
	open := maildirOpener(t)
	for _, order := range [][]int{{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}} {
		root := maildirOf()
		if _, ok := mustMailbox(t, open(root)).(storage.CacheWireMailbox); !ok {
			t.Fatal("the Maildir store's mailbox is no storage.CacheWireMailbox")
		}
		for _, i := range order {
			fetch := fetches[i]
			want := session(mem, fetch)
			got := session(open(root), fetch)
			again := session(open(root), fetch)
			if len(got) != len(want) || len(again) != len(want) {
				t.Fatalf("%s (order %v): %d and %d responses, want %d", fetch, order, len(got), len(again), len(want))
			}
			for n := range want {
				if got[n] != want[n] || again[n] != want[n] {
					t.Fatalf("%s (order %v), response %d:\nin this session: %s\nrepeated: %s\nwithout a cache: %s", fetch, order, n, got[n], again[n], want[n])
				}
			}
		}
	}
}

// mustMailbox opens INBOX of store for the test.
func mustMailbox(t *testing.T, store storage.Store) storage.Mailbox {
	t.Helper()
	mb, err := store.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb
}
