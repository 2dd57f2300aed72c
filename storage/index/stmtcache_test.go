package index

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStmtCache: a query run again while its first rows are open gets a
// statement of its own, the cache stays bounded with queries that differ
// every time, and scripts run whole.
func TestStmtCache(t *testing.T) {
	db, err := openDB("file:" + filepath.Join(t.TempDir(), "c.db") + "?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	const q = `SELECT n FROM t ORDER BY n`
	outer, err := tx.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for outer.Next() {
		var a int
		outer.Scan(&a)
		inner, err := tx.Query(q)
		if err != nil {
			t.Fatalf("Query(%q) with its rows open: %v", q, err)
		}
		for inner.Next() {
			var b int
			inner.Scan(&b)
			pairs = append(pairs, fmt.Sprint(a, b))
		}
		inner.Close()
	}
	outer.Close()
	if got := fmt.Sprint(pairs); got != "[1 1 1 2 2 1 2 2]" {
		t.Errorf("nested queries gave %s, want [1 1 1 2 2 1 2 2]", got)
	}
	for i := range 3 * maxCachedStmts {
		if _, err := tx.Exec(fmt.Sprintf(`UPDATE t SET n = n + %d WHERE n < 0`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2 {
		t.Errorf("count = %d, %v; want 2", n, err)
	}
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	size := -1
	c.Raw(func(dc any) error {
		sc := dc.(*stmtCacheConn)
		sc.mu.Lock()
		size = len(sc.stmts)
		sc.mu.Unlock()
		return nil
	})
	if size < 1 || size > maxCachedStmts {
		t.Errorf("%d statements cached, want 1 to %d", size, maxCachedStmts)
	}
}
