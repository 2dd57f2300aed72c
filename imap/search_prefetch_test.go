package imap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

// prefetchTestMsg is message n of the prefetch tests: subjects and
// senders that many keys match, every tenth a reply to the one before.
func prefetchTestMsg(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\nTo: user@example.com\r\n", n%37, n%37)
	fmt.Fprintf(&b, "Subject: message number %d about things\r\nDate: Mon, %d Jan 2024 %02d:%02d:00 +0000\r\nMessage-ID: <%d.p@example.org>\r\n", n, 1+n%28, n/60%24, n%60, n)
	if n%10 == 5 {
		fmt.Fprintf(&b, "In-Reply-To: <%d.p@example.org>\r\nReferences: <%d.p@example.org>\r\n", n-1, n-1)
	}
	fmt.Fprintf(&b, "\r\nbody of message %d\r\n", n)
	return b.String()
}

// prefetchStores fills a Maildir (its files written as another program
// would) and a memory store, which has no cache and parses every message,
// with the same n messages; every seventh is unseen.
func prefetchStores(t *testing.T, n int) (root string, mem storage.Store) {
	root = filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ms := memstore.New()
	for i := range n {
		m := prefetchTestMsg(i)
		info, flags := "S", []string{storage.FlagSeen}
		if i%7 == 0 {
			info, flags = "", nil
		}
		name := fmt.Sprintf("%d.M%dP1.test:2,%s", 1700000000+i, i, info)
		if err := os.WriteFile(filepath.Join(root, "cur", name), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ms.Append("INBOX", strings.NewReader(m), storage.AppendOptions{Flags: flags}); err != nil {
			t.Fatal(err)
		}
	}
	return root, ms
}

var prefetchTestCmds = []string{
	`a SEARCH SUBJECT "number 12"`,
	`b SEARCH UNSEEN SUBJECT "about"`,
	`c SEARCH OR FROM "sender 3" SUBJECT "number 99"`,
	`d SEARCH SENTSINCE 20-Jan-2024 NOT SUBJECT "number 1"`,
	`e SORT (SUBJECT) UTF-8 ALL`,
	`f SORT (REVERSE FROM DATE) UTF-8 SUBJECT "things"`,
	`g THREAD REFERENCES UTF-8 ALL`,
	`h UID SEARCH HEADER Message-ID "7.p@"`,
}

func prefetchAnswers(t *testing.T, store storage.Store, before string) [][]string {
	c := login(t, store)
	c.cmd("s SELECT INBOX").ok()
	if before != "" {
		c.cmd(before).ok()
	}
	var out [][]string
	for _, cmd := range prefetchTestCmds {
		out = append(out, c.cmd(cmd).ok().lines)
	}
	c.cmd("z LOGOUT")
	return out
}

func comparePrefetch(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	for i := range want {
		if strings.Join(got[i], "\n") != strings.Join(want[i], "\n") {
			t.Errorf("%s: %s:\ngot  %.300s\nwant %.300s", what, prefetchTestCmds[i], strings.Join(got[i], "\n"), strings.Join(want[i], "\n"))
		}
	}
}

// TestSearchPrefetchMaildir: SEARCH, SORT and THREAD on header fields the
// index caches read the cached structures in batches; over 1,100
// messages (many batches, grown and shrunk) they answer as a store that
// parses every message, before the cache is filled and after.
func TestSearchPrefetchMaildir(t *testing.T) {
	root, mem := prefetchStores(t, 1100)
	want := prefetchAnswers(t, mem, "")
	if got := want[0][0]; !strings.HasPrefix(got, "* SEARCH 13 ") {
		t.Fatalf("SEARCH SUBJECT on the memory store: %q", got)
	}
	open := maildirOpener(t)
	comparePrefetch(t, "no cache yet", prefetchAnswers(t, open(root), ""), want)
	comparePrefetch(t, "after FETCH ENVELOPE", prefetchAnswers(t, open(root), "x FETCH 1:* ENVELOPE"), want)
	comparePrefetch(t, "new session", prefetchAnswers(t, open(root), ""), want)
}

// TestSearchPrefetchIndexed: with the text index filled (a search indexes
// up to 512 messages itself first), SUBJECT and HEADER keys read ahead
// only their index candidates, and answer the same.
func TestSearchPrefetchIndexed(t *testing.T) {
	root, mem := prefetchStores(t, 450)
	want := prefetchAnswers(t, mem, "")
	st, err := maildir.Open(maildir.Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	comparePrefetch(t, "indexed", prefetchAnswers(t, st, `x SEARCH TEXT "body of message"`), want)
}
