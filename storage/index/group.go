package index

import (
	"context"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Grouped commits (Options.GroupCommit): the transactions of the
// metadata tier that Begin starts run their statements inside one
// transaction the connection keeps open, and that transaction commits
// once for all of them, a while after the first. A STORE, an APPEND or a
// delivery costs SQLite a BEGIN, a COMMIT and a write-ahead log frame
// for each page it changed, mostly the same few pages each time (the
// mailbox's row, the last leaf of the messages and their indexes, the
// usage counters), and these were about a tenth of a busy worker's CPU
// (docs/benchmarks.md). Grouped, a burst of changes writes each page
// once.
//
// What this gives up: a metadata commit lasted through a crash of the
// process; grouped, it lasts once the group commits (GroupCommit later
// at most, and at once before a durable transaction, any other kind of
// transaction, and the close). What a crash loses is what a power loss
// could always lose of this tier (Options), and it is found again the
// same way: the writing marker is set by the process's first, durable,
// transaction, so the next open knows that commits may be missing, and
// the mailbox rows' stamps send the store back to the Maildir, which has
// every message, flag and expunge.
//
// The connection (stmtCacheConn) does the grouping: BeginTx with
// groupKey in its context opens the outer transaction if there is none;
// the transaction's statements then run in it, its Commit leaves them
// there, and its Rollback loses the whole group (groupTx). A BeginTx
// without the key, and the connection's Close, commit the group first.
// Statements outside a transaction run inside the group while it is
// open, as part of it.

// groupKey marks the context of a grouped transaction's BeginTx; its
// value is the DB.
type groupKey struct{}

// group is what a DB keeps of its connection's open group: the timer
// that commits it, and what was lost.
type group struct {
	delay time.Duration
	// ctx carries groupKey, for BeginTx.
	ctx   context.Context
	mu    sync.Mutex
	timer *time.Timer
	// boxes are the mailbox rows the group's transactions wrote, by id,
	// written once when it commits (Tx.PutBox): each change of a
	// mailbox writes its row (its HIGHESTMODSEQ, its stamps), and a
	// group of a hundred changes needs only the last.
	boxes map[int64]Box
	// lost counts the groups rolled back after some of their
	// transactions had been reported committed (a failed COMMIT, a
	// grouped transaction's Rollback); err is the last such failure.
	lost uint64
	err  error
}

// setGroup turns grouping on when opts ask for it, on the metadata tier
// (synchronous=NORMAL; otherwise every transaction is durable, or none
// is written to disk at all).
func (d *DB) setGroup(opts Options) {
	if opts.GroupCommit > 0 && d.tiered {
		d.group = &group{delay: opts.GroupCommit, boxes: map[int64]Box{}}
		d.group.ctx = context.WithValue(context.Background(), groupKey{}, d)
	}
}

// groupOpened is called by the connection when it begins a group: the
// group commits after the delay.
func (d *DB) groupOpened() {
	g := d.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer == nil {
		g.timer = time.AfterFunc(g.delay, func() { d.Flush() })
		return
	}
	g.timer.Reset(g.delay)
}

// groupLost records a group rolled back. The mailbox names its
// transactions wrote are forgotten too: a row the group inserted is
// gone.
func (d *DB) groupLost(err error) {
	g := d.group
	g.mu.Lock()
	g.lost++
	g.err = err
	clear(g.boxes)
	g.mu.Unlock()
	d.forgetNames()
}

// deferredBox is a mailbox row as a grouped transaction found it in the
// group's rows: the row, or none (!ok).
type deferredBox struct {
	row Box
	ok  bool
}

// deferBox leaves b's row to the group's commit.
func (t *Tx) deferBox(b *Box) {
	g := t.db.group
	g.mu.Lock()
	defer g.mu.Unlock()
	t.keepUndo(g, b.ID)
	row := *b
	row.SpecialUse = slices.Clone(b.SpecialUse)
	g.boxes[b.ID] = row
}

// undeferBox drops a deferred row of id: the transaction writes the row
// itself.
func (t *Tx) undeferBox(id int64) {
	g := t.db.group
	if !t.grouped || g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.boxes[id]; ok {
		t.keepUndo(g, id)
		delete(g.boxes, id)
	}
}

// keepUndo notes the group's row of id before the transaction's first
// change of it; g.mu is held.
func (t *Tx) keepUndo(g *group, id int64) {
	if _, ok := t.undo[id]; ok {
		return
	}
	if t.undo == nil {
		t.undo = map[int64]deferredBox{}
		t.undoLost = g.lost
	}
	row, ok := g.boxes[id]
	t.undo[id] = deferredBox{row, ok}
}

// restoreDeferred puts back the group's rows a rolled back transaction
// had changed, unless the rollback took the whole group (lost), rows
// and all.
func (t *Tx) restoreDeferred() {
	if len(t.undo) == 0 {
		return
	}
	g := t.db.group
	g.mu.Lock()
	if g.lost != t.undoLost {
		clear(t.undo)
	}
	for id, u := range t.undo {
		if u.ok {
			g.boxes[id] = u.row
		} else {
			delete(g.boxes, id)
		}
	}
	g.mu.Unlock()
	t.undo = nil
}

// deferredBox replaces b, read from the table, with the row the open
// group will write, if there is one.
func (d *DB) deferredBox(b *Box) {
	g := d.group
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if row, ok := g.boxes[b.ID]; ok && row.Name == b.Name {
		*b = row
		b.SpecialUse = slices.Clone(row.SpecialUse)
	}
}

// writeBoxes writes the group's deferred mailbox rows on its connection,
// before its COMMIT.
func (d *DB) writeBoxes(c *stmtCacheConn) error {
	g := d.group
	g.mu.Lock()
	rows := make([]Box, 0, len(g.boxes))
	for _, b := range g.boxes {
		rows = append(rows, b)
	}
	clear(g.boxes)
	g.mu.Unlock()
	for _, b := range rows {
		args := []driver.NamedValue{
			{Ordinal: 1, Value: int64(b.UIDValidity)}, {Ordinal: 2, Value: int64(b.UIDNext)},
			{Ordinal: 3, Value: int64(b.ModSeq)}, {Ordinal: 4, Value: int64(b.HistoryFrom)},
			{Ordinal: 5, Value: int64(b.RecentFrom)}, {Ordinal: 6, Value: strings.Join(b.SpecialUse, " ")},
			{Ordinal: 7, Value: b.Stamps}, {Ordinal: 8, Value: b.ID},
		}
		if _, err := c.ExecContext(context.Background(), updateBox, args); err != nil {
			return err
		}
	}
	return nil
}

// Lost returns how many groups of transactions were lost, rolled back
// after their transactions had committed into them (a COMMIT that failed:
// a full disk, an I/O error; or a grouped transaction that rolled back),
// and the last error. The rows they wrote
// are missing from the index; the store writes them again.
func (d *DB) Lost() (uint64, error) {
	g := d.group
	if g == nil {
		return 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lost, g.err
}

// Flush commits the open group, if any.
func (d *DB) Flush() error {
	if d.group == nil {
		return nil
	}
	conn, err := d.db.Conn(context.Background())
	if err != nil {
		return Err(err)
	}
	defer conn.Close()
	return Err(conn.Raw(func(dc any) error { return dc.(*stmtCacheConn).commitGroup() }))
}

// stopGroup stops the timer, for Close.
func (d *DB) stopGroup() {
	if g := d.group; g != nil {
		g.mu.Lock()
		if g.timer != nil {
			g.timer.Stop()
		}
		g.mu.Unlock()
	}
}

// groupTx is a grouped transaction: its statements run in the group's
// transaction as they come, with no savepoint of its own. A savepoint
// (SAVEPOINT, and RELEASE at the commit) cost more than the rest of a
// STORE's index work together, so a grouped transaction gives up being
// rolled back alone: its Rollback, once it has run a statement, rolls
// back and loses the whole group, as a failed COMMIT does. The index's
// transactions roll back only when a statement failed (a full disk, an
// I/O error), which is most often the end of the group anyway; the
// store writes the lost rows again (DB.Lost).
type groupTx struct{ c *stmtCacheConn }

// Commit ends the transaction; its statements stay in the group. A
// statement of it that failed in a way that may have rolled back the
// whole group makes the group lost.
func (t groupTx) Commit() error {
	c := t.c
	doubt := c.txDoubt
	c.endGroupTx()
	if doubt != nil {
		c.loseGroup(doubt)
		return doubt
	}
	return nil
}

// Rollback of a transaction that ran a statement rolls back the group
// and loses it; one that ran none has nothing to undo.
func (t groupTx) Rollback() error {
	c := t.c
	wrote := c.txWrote
	c.endGroupTx()
	if wrote {
		c.loseGroup(errGroupRolledBack)
	}
	return nil
}

// errGroupRolledBack is the loss of a group whose transaction rolled back.
var errGroupRolledBack = errors.New("a grouped transaction rolled back, and the group with it")

// endGroupTx notes the end of the grouped transaction.
func (c *stmtCacheConn) endGroupTx() {
	c.inGroupTx, c.txWrote, c.txDoubt = false, false, nil
}

// noteGroupStmt notes a statement of a grouped transaction, which may
// write when write, and how it ended. An error other than a
// constraint's may have made SQLite roll back the whole transaction
// (SQLITE_FULL, SQLITE_IOERR and others, sqlite.org/lang_transaction.html):
// the group is in doubt.
func (c *stmtCacheConn) noteGroupStmt(write bool, err error) {
	if !c.inGroupTx {
		return
	}
	c.txWrote = c.txWrote || write
	var se *sqlite.Error
	if err != nil && c.txDoubt == nil && !(errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT) {
		c.txDoubt = err
	}
}

// loseGroup rolls back the open group and records it lost with err.
func (c *stmtCacheConn) loseGroup(err error) {
	if !c.grouping {
		return
	}
	c.ExecContext(context.Background(), "ROLLBACK", nil)
	c.endGroup(err)
}

// beginGrouped starts a grouped transaction of d, and the group when none
// is open.
func (c *stmtCacheConn) beginGrouped(ctx context.Context, d *DB) (driver.Tx, error) {
	if !c.grouping {
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE", nil); err != nil {
			return nil, err
		}
		c.grouping, c.groupDB = true, d
		d.groupOpened()
	}
	c.endGroupTx()
	c.inGroupTx = true
	return groupTx{c}, nil
}

// commitGroup commits the open group. A COMMIT that fails rolls it back:
// the group is lost.
func (c *stmtCacheConn) commitGroup() error {
	if !c.grouping {
		return nil
	}
	err := c.groupDB.writeBoxes(c)
	if err == nil {
		_, err = c.ExecContext(context.Background(), "COMMIT", nil)
	}
	if err != nil {
		c.ExecContext(context.Background(), "ROLLBACK", nil)
		c.endGroup(err)
		return err
	}
	c.endGroup(nil)
	return nil
}

// endGroup forgets the open group, lost with err unless it is nil.
func (c *stmtCacheConn) endGroup(err error) {
	d := c.groupDB
	c.grouping, c.groupDB = false, nil
	if err != nil && d != nil {
		d.groupLost(err)
	}
}
