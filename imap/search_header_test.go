package imap

import (
	"testing"
	"time"

	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

// SEARCH SUBJECT and HEADER give the same answers with the store's
// header candidates (maildir, storage.HeaderSearchMailbox) as by checking
// every message (memstore), for words, parts of words, phrases and
// encoded-words (RFC 9051 section 6.4.4).
func TestSearchHeaderPushdown(t *testing.T) {
	md, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: t.TempDir(), User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	for name, st := range map[string]storage.Store{"maildir": md, "memstore": memstore.New()} {
		t.Run(name, func(t *testing.T) {
			for _, h := range []string{
				"Subject: Quarterly report\nX-Tag: blue",
				"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\nX-Tag: green",
				"Subject: unquarterly thoughts\nX-Tag: blue-green",
				"Subject: nothing",
			} {
				appendMsg(t, st, "INBOX", crlf(h+"\n\nquarterly body\n"))
			}
			c := login(t, st)
			c.cmd("t0 SELECT INBOX").ok()
			// Before and (most likely) after maildir's background
			// indexer has the texts: the answers are the same.
			for round := 0; round < 2; round++ {
				if round == 1 {
					time.Sleep(time.Second)
				}
				checkHeaderSearches(c)
			}
		})
	}
}

func checkHeaderSearches(c *tconn) {
	c.t.Helper()
	for _, tc := range []struct{ cmd, want string }{
		{"SEARCH SUBJECT quarterly", "* SEARCH 1 3"},
		{"SEARCH SUBJECT uarter", "* SEARCH 1 3"},
		{`SEARCH SUBJECT "quarterly rep"`, "* SEARCH 1"},
		{`SEARCH SUBJECT "grüße aus"`, "* SEARCH 2"},
		{"SEARCH SUBJECT body", "* SEARCH"},
		{"SEARCH HEADER X-Tag green", "* SEARCH 2 3"},
		{`SEARCH HEADER X-Tag "blue-gr"`, "* SEARCH 3"},
		{"SEARCH SUBJECT no", "* SEARCH 4"},
	} {
		c.cmd("t1 "+tc.cmd).want(tc.want, "t1 OK *")
	}
}
