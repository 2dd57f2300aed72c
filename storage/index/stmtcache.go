package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// The index runs the same few dozen statements over and over (a STORE is
// an UPDATE of the mailbox row and one of the message's), each given to
// database/sql as text. The driver parses such text into a statement for
// every call and throws it away after, and parsing came to about a third
// of a FETCH's index time and a tenth of a worker's CPU in imaptest's mix
// (docs/benchmarks.md). stmtCacheConnector keeps the parsed statements of
// each connection by their text instead, so the methods of DB and Tx stay
// plain Exec and Query calls.

// maxCachedStmts bounds the statements kept per connection. The index's
// fixed statements are fewer; queries built with a variable number of
// placeholders come and go.
const maxCachedStmts = 64

// openDB opens the index database at dsn through the statement cache.
func openDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(stmtCacheConnector{c}), nil
}

// stmtCacheConnector makes connections that keep their prepared statements.
type stmtCacheConnector struct {
	driver.Connector
}

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	prep, ok1 := dc.(driver.ConnPrepareContext)
	begin, ok2 := dc.(driver.ConnBeginTx)
	if !ok1 || !ok2 {
		dc.Close()
		return nil, errors.New("index: the sqlite driver lacks PrepareContext or BeginTx")
	}
	return &stmtCacheConn{Conn: dc, prep: prep, begin: begin, stmts: map[string]*cachedStmt{}}, nil
}

// stmtCacheConn is one driver connection with its statements. database/sql
// uses a connection from one goroutine at a time; the mutex covers a Rows
// closed from elsewhere.
type stmtCacheConn struct {
	driver.Conn
	prep  driver.ConnPrepareContext
	begin driver.ConnBeginTx

	mu    sync.Mutex // guards stmts
	stmts map[string]*cachedStmt

	// grouping says a group of transactions of groupDB is open
	// (group.go). inGroupTx says a grouped transaction runs in it;
	// txWrote that it ran a statement that may write, txDoubt the
	// first error of its statements that may have ended the group.
	grouping  bool
	groupDB   *DB
	inGroupTx bool
	txWrote   bool
	txDoubt   error
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // in use: running, or its Rows are open
}

// stmtExecQuery is what the driver's statements do besides driver.Stmt.
type stmtExecQuery interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

// acquire returns the connection's statement for query, prepared on first
// use, and the function that gives it back. A statement already in use
// (an open Rows of the same query) or a script of several statements gets
// a statement of its own, closed when given back.
func (c *stmtCacheConn) acquire(ctx context.Context, query string) (stmtExecQuery, func(), error) {
	script := strings.Contains(strings.TrimRight(query, "; \t\n"), ";")
	c.mu.Lock()
	if e := c.stmts[query]; e != nil && !e.busy {
		e.busy = true
		c.mu.Unlock()
		return e.stmt.(stmtExecQuery), func() { c.release(e) }, nil
	}
	c.mu.Unlock()
	st, err := c.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	s, ok := st.(stmtExecQuery)
	if !ok {
		st.Close()
		return nil, nil, errors.New("index: the sqlite driver's statements lack ExecContext or QueryContext")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, taken := c.stmts[query]; taken || script {
		return s, func() { st.Close() }, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		c.evictLocked()
	}
	e := &cachedStmt{stmt: st, busy: true}
	c.stmts[query] = e
	return s, func() { c.release(e) }, nil
}

func (c *stmtCacheConn) release(e *cachedStmt) {
	c.mu.Lock()
	e.busy = false
	c.mu.Unlock()
}

// evictLocked closes and forgets one statement not in use.
func (c *stmtCacheConn) evictLocked() {
	for q, e := range c.stmts {
		if !e.busy {
			e.stmt.Close()
			delete(c.stmts, q)
			return
		}
	}
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, done, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := s.ExecContext(ctx, args)
	c.noteGroupStmt(true, err)
	return res, err
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, done, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := s.QueryContext(ctx, args)
	c.noteGroupStmt(false, err)
	if err != nil {
		done()
		return nil, err
	}
	return &stmtCacheRows{Rows: rows, done: done}, nil
}

func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.prep.PrepareContext(ctx, query)
}

// BeginTx starts a transaction with the connection's cached BEGIN
// IMMEDIATE statement; the driver's own BeginTx, and its Commit, parse
// their statement anew each time (an APPEND or STORE commits one
// transaction each). Every transaction of the index writes, so it takes
// the write lock at once, as the DSN's _txlock=immediate asks of the
// driver.
func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if d, ok := ctx.Value(groupKey{}).(*DB); ok {
		return c.beginGrouped(ctx, d)
	}
	if err := c.commitGroup(); err != nil {
		return nil, err
	}
	if opts.ReadOnly || sql.IsolationLevel(opts.Isolation) != sql.LevelDefault {
		return c.begin.BeginTx(ctx, opts)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE", nil); err != nil {
		return nil, err
	}
	return cachedTx{c}, nil
}

// cachedTx ends a transaction of BeginTx with cached statements.
type cachedTx struct{ c *stmtCacheConn }

// Commit commits. A COMMIT that fails may leave the transaction open
// (SQLITE_BUSY); it is rolled back, since database/sql takes the
// connection for one outside any transaction after Commit.
func (t cachedTx) Commit() error {
	_, err := t.c.ExecContext(context.Background(), "COMMIT", nil)
	if err != nil {
		t.Rollback() // "no transaction is active" when the COMMIT ended it
	}
	return err
}

func (t cachedTx) Rollback() error {
	_, err := t.c.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}

func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtCacheConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Close commits the open group, closes the statements, then the
// connection.
func (c *stmtCacheConn) Close() error {
	c.commitGroup()
	c.mu.Lock()
	for q, e := range c.stmts {
		e.stmt.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// stmtCacheRows gives its statement back when closed. The driver resets a
// statement it keeps when its rows close, so the statement holds no read
// transaction afterwards.
type stmtCacheRows struct {
	driver.Rows
	done func()
}

func (r *stmtCacheRows) Close() error {
	err := r.Rows.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return err
}

// queryRows runs query on the connection through the driver alone and
// calls row with each row's values, which are valid only until row
// returns. database/sql's Rows costs per row (a lock, the conversion of
// each value by Scan) about as much as the driver's step; a large FETCH
// reads hundreds of thousands of rows with one query per 512.
func (d *DB) queryRows(query string, args []driver.NamedValue, cols int, row func([]driver.Value) error) error {
	ctx := context.Background()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stmtCacheConn)
		if !ok {
			return errors.New("index: a connection not of the index")
		}
		rows, err := c.QueryContext(ctx, query, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, cols)
		for {
			if err := rows.Next(dest); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if err := row(dest); err != nil {
				return err
			}
		}
	})
}
