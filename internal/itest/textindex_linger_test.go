package itest

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestIndexerOutlivesLinger: a user's first session sees a Maildir that
// came without an index (a migration) and ends at once; the worker stays
// past its linger until its text indexer has indexed every message, then
// exits. Without that, each short session would index a part and its
// searches read the rest.
func TestIndexerOutlivesLinger(t *testing.T) {
	s := startServer(t, serverOpts{extra: "service worker {\n  idle_kill = 1 secs\n}\n"})
	const n = 1500
	md := filepath.Join(s.dir, "home", "demo", "Maildir")
	old := time.Now().Add(-48 * time.Hour)
	for _, sub := range []string{"cur", "new", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(md, sub), 0o700))
	}
	for i := range n {
		p := filepath.Join(md, "cur", fmt.Sprintf("1700000000.M%dP1.host:2,S", i))
		body := fmt.Sprintf("From: a%d@example.org\r\nSubject: migrated %d\r\n\r\nword%d and some text of message %d\r\n", i, i, i, i)
		must(t, os.WriteFile(p, []byte(body), 0o600))
		must(t, os.Chtimes(p, old, old))
	}
	if os.Getuid() == 0 {
		chownTree(t, md, 50100)
	}
	c := login(t, s, "demo")
	sel, err := c.Select("INBOX", nil).Wait()
	must(t, err)
	if sel.NumMessages != n {
		t.Fatalf("SELECT: %d messages, want %d", sel.NumMessages, n)
	}
	must(t, c.Logout().Wait())

	// The indexer waits 2 s for the mailboxes to be quiet before it
	// starts, longer than this linger: the worker must outlive both.
	deadline := time.Now().Add(2 * time.Minute)
	for len(byRole(children(s.cmd.Process.Pid), "worker")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not exit")
		}
		time.Sleep(100 * time.Millisecond)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(md, "cote-index.db")+"?mode=ro")
	must(t, err)
	defer db.Close()
	var total, indexed int
	must(t, db.QueryRow(`SELECT count(*), count(CASE WHEN indexed = 1 THEN 1 END) FROM messages`).Scan(&total, &indexed))
	if total != n || indexed != n {
		t.Errorf("after the worker's exit: %d of %d messages in the text index, want all %d", indexed, total, n)
	}
}
