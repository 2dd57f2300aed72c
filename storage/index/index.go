// Package index is the per-user SQLite index of DESIGN.md section 3: one
// database per user (pure Go modernc.org/sqlite, WAL) with the mailboxes
// (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, special-use, subscriptions), the
// messages (UID, file, flags, MODSEQ, dates, size), the expunged UIDs with
// their MODSEQ for QRESYNC (RFC 7162), a cache of each message's MIME
// structure and common header fields, quota usage kept by triggers, and an
// FTS5 word index over the decoded text for SEARCH BODY/TEXT, SUBJECT
// and HEADER (words.go).
//
// The index is not the truth for mail content: the backend (Maildir and
// its dovecot-uidlist) is. A lost index is rebuilt from it with the same
// UIDs; only MODSEQ history is lost, which forces QRESYNC clients to
// resynchronize.
package index

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"cote/storage"
)

// schemaVersion is stored in PRAGMA user_version. A database of
// version 1 is migrated (migrate); one of another version is rebuilt.
const schemaVersion = 2

const schema = `
CREATE TABLE IF NOT EXISTS mailboxes (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	uidvalidity   INTEGER NOT NULL,
	uidnext       INTEGER NOT NULL,
	highestmodseq INTEGER NOT NULL,
	historyfrom   INTEGER NOT NULL,
	recentfrom    INTEGER NOT NULL,
	specialuse    TEXT NOT NULL DEFAULT '',
	subscribed    INTEGER NOT NULL DEFAULT 0,
	stamps        TEXT NOT NULL DEFAULT '' -- the directories' state the rows match (Box.Stamps)
);
CREATE TABLE IF NOT EXISTS messages (
	id           INTEGER PRIMARY KEY,
	mailbox      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid          INTEGER NOT NULL,
	file         TEXT NOT NULL,
	flags        TEXT NOT NULL,
	modseq       INTEGER NOT NULL,
	internaldate INTEGER NOT NULL,
	savedate     INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	indexed      INTEGER NOT NULL DEFAULT 0, -- text: 0 not indexed, 1 indexed, 2 cannot be
	UNIQUE (mailbox, uid)
);
CREATE TABLE IF NOT EXISTS expunged (
	mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid     INTEGER NOT NULL,
	modseq  INTEGER NOT NULL,
	PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cache (
	msg  INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	data BLOB NOT NULL
);
` + ftsSchema + `
` + stateSchema + `;
CREATE TABLE IF NOT EXISTS usage (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	bytes    INTEGER NOT NULL,
	messages INTEGER NOT NULL
);
INSERT OR IGNORE INTO usage VALUES (1, 0, 0);
CREATE TRIGGER IF NOT EXISTS messages_ins AFTER INSERT ON messages BEGIN
	UPDATE usage SET bytes = bytes + NEW.size, messages = messages + 1;
END;
CREATE TRIGGER IF NOT EXISTS messages_size AFTER UPDATE OF size ON messages BEGIN
	UPDATE usage SET bytes = bytes - OLD.size + NEW.size;
END;
`

// ftsSchema is the full-text index (words.go): each message's distinct
// words, folded, per column, with FTS5's ascii tokenizer splitting them
// at the spaces between them (the words are cut in Go); detail=column
// keeps no positions, only which column a word is in. terms is the
// vocabulary, for queries that are parts of words.
const ftsSchema = `
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
	hdr, body, tokenize = 'ascii', detail = 'column', content = '', contentless_delete = 1
);
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_unindexed ON messages (mailbox, uid) WHERE indexed != 1;
CREATE TRIGGER IF NOT EXISTS messages_del AFTER DELETE ON messages BEGIN
	UPDATE usage SET bytes = bytes - OLD.size, messages = messages - 1;
	DELETE FROM fts WHERE rowid = OLD.id AND OLD.indexed = 1;
END;
`

// migrate1 turns a version 1 index into version 2 in one transaction,
// keeping every mailbox and message row (UIDs, MODSEQs, history, cache):
// the trigram full-text index is dropped (its pages go to the free list)
// and the texts are indexed again in the background; the mailboxes get
// their stamps column.
const migrate1 = `
DROP TRIGGER IF EXISTS messages_del;
DROP TABLE IF EXISTS fts;
UPDATE messages SET indexed = 0 WHERE indexed != 0;
ALTER TABLE mailboxes ADD COLUMN stamps TEXT NOT NULL DEFAULT '';
` + ftsSchema

// mmapSize bounds the part of the database file read through a memory
// map.
const mmapSize = 1 << 30

// Options configure an index.
//
// Durability comes in two tiers (docs/storage.md, "Durability"): a
// transaction begun with BeginDurable is on disk when its Commit returns
// (WAL with synchronous=FULL); every other one runs with
// synchronous=NORMAL, which survives a crash of the process but may lose
// the last commits on a power loss, as Dovecot's mail_fsync=optimized
// does for its index; with GroupCommit, a crash of the process may lose
// the commits of the open group too (group.go). A Maildir save is
// durable in the Maildir itself before its row is written, so its row is
// of the second tier; everything lost so is found again in the Maildir
// at the next open. The first write
// of a process is durable: it sets the marker (Unclean) that tells the
// next process some commits may have been lost.
type Options struct {
	// NoSync turns off fsync (synchronous=OFF), for mail_fsync=never.
	NoSync bool
	// SyncAll makes every transaction durable (synchronous=FULL), for
	// mail_fsync=always.
	SyncAll bool
	// GroupCommit, when above zero, groups the metadata tier's
	// transactions: each commits with the others begun within
	// GroupCommit of the first (group.go).
	GroupCommit time.Duration
}

// DB is one user's open index. Its methods are not safe for concurrent
// use; the store calls them with its lock held.
type DB struct {
	db   *sql.DB
	path string
	// tiered says the connection runs with synchronous=NORMAL and a
	// durable transaction switches it to FULL (BeginDurable).
	tiered bool
	// unclean says the last process that wrote the index did not
	// close it (Unclean); marked says this one has recorded that it
	// writes (markWriting).
	unclean, marked bool
	// names holds the name of mailbox rows as this DB last committed
	// them through PutBox, by id, so that PutBox leaves the column
	// alone when it is unchanged (putBoxName); RenameBox, DeleteBox and
	// a rolled back PutBox forget them. Guarded by namesMu: the
	// connection passes between goroutines (a FETCH's cache writer),
	// and a Tx updates names after it has given the connection back.
	namesMu sync.Mutex
	names   map[int64]string
	// group is set when transactions are grouped (Options.GroupCommit).
	group *group
}

// The state table holds the "writing" marker: set, durably, by the
// first write transaction of a process and removed when it closes the
// index. Found at open, it says the last writer stopped without closing
// (a crash, a power loss), so that commits of the metadata tier may have
// been lost and the MODSEQs they gave may be handed out again unless the
// store moves HIGHESTMODSEQ past them (Unclean). It is made on first use,
// so older indexes need no migration.
const stateSchema = `CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`

// Unclean reports whether the last process that wrote the index did not
// close it: commits of the metadata tier (Options) may have been lost.
func (d *DB) Unclean() bool { return d.unclean }

// readMarker reads the writing marker at open.
func (d *DB) readMarker() error {
	var n int
	if err := d.db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'state'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	if err := d.db.QueryRow(`SELECT count(*) FROM state WHERE key = 'writing'`).Scan(&n); err != nil {
		return err
	}
	d.unclean = n > 0
	return nil
}

// markWriting sets the writing marker in the process's first write
// transaction, which is then durable.
func (d *DB) markWriting(tx *sql.Tx) error {
	if _, err := tx.Exec(stateSchema); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT OR REPLACE INTO state (key, value) VALUES ('writing', ?)`, strconv.Itoa(os.Getpid()))
	return err
}

// Open opens or creates the index at path. A database that cannot be
// read, or has another schema version, is moved aside to path.broken and
// a new one is made: it is only an index.
func Open(path string, opts Options) (*DB, bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, Err(err)
	}
	d, fresh, err := open(path, opts)
	if err == nil {
		d.setGroup(opts)
	}
	if err == nil || errors.Is(err, storage.ErrTemporary) {
		return d, fresh, err
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Rename(path+suffix, path+".broken"+suffix)
	}
	d, _, err2 := open(path, opts)
	if err2 != nil {
		return nil, false, fmt.Errorf("index %s: %w (after %v)", path, err2, err)
	}
	d.setGroup(opts)
	return d, true, nil
}

func open(path string, opts Options) (*DB, bool, error) {
	sync := "NORMAL"
	switch {
	case opts.NoSync:
		sync = "OFF"
	case opts.SyncAll:
		sync = "FULL"
	}
	_, statErr := os.Stat(path)
	created := os.IsNotExist(statErr)
	// A new index is written from its image (fresh.go) rather than made
	// by running schema. imaged is false when another process linked a
	// file there meanwhile, or the directory takes no hard link; in the
	// second case SQLite makes the file as before.
	imaged := false
	if created {
		var err error
		if imaged, err = createFromImage(path, sync); err != nil {
			return nil, false, Err(err)
		}
	}
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(" + sync + ")" +
		// Statement journals keep their pages in memory, not in a
		// temporary file once they pass 64 KB.
		"&_pragma=temp_store(2)" +
		// Reads go through a memory map of the file, as Dovecot maps
		// its index and cache files: no system call and copy per page,
		// which an index whose rows are not in UID order (one written
		// by an earlier version) pays on every row of a FETCH 1:*.
		"&_pragma=mmap_size(" + strconv.Itoa(mmapSize) + ")" +
		// The worker is the index's one user (one worker per mail), so
		// its connection keeps the file locked from its first read to
		// its close: with no other connection to share the write-ahead
		// log with, SQLite keeps the log's index in the heap instead of
		// a shared -shm file and takes no file lock per transaction
		// (the lock calls were about 2% of the server's CPU in
		// imaptest's logout=0 mix). A second opener waits up to
		// busy_timeout for the first to close (TestSecondOpenerWaits).
		"&_pragma=locking_mode(EXCLUSIVE)"
	db, err := openDB(dsn) // stmtcache.go
	if err != nil {
		return nil, false, err
	}
	// One connection: every call comes with the store's lock held, and
	// a single connection keeps the WAL readers simple.
	db.SetMaxOpenConns(1)
	if imaged {
		// What the statements below find out is known of the image: it
		// is in WAL mode at schemaVersion, every table reads, and it has
		// no writing marker. Ping opens the connection with the DSN's
		// pragmas.
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, false, Err(err)
		}
		return &DB{db: db, path: path, tiered: sync == "NORMAL"}, true, nil
	}
	if err := useWAL(db, sync, created); err != nil {
		db.Close()
		return nil, false, err
	}
	d := &DB{db: db, path: path, tiered: sync == "NORMAL"}
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		db.Close()
		return nil, false, Err(err)
	}
	fresh := created || version == 0
	if version != 0 && version != 1 && version != schemaVersion {
		db.Close()
		return nil, false, fmt.Errorf("index schema version %d, want %d", version, schemaVersion)
	}
	if version == 1 {
		if err := d.migrate(migrate1); err != nil {
			db.Close()
			return nil, false, err
		}
	}
	if version == 0 {
		// Opening an existing index writes nothing, so that a user can
		// still read mail on a full disk. A file without a schema (one
		// SQLite made where freshImage could not be linked, or left empty
		// by a crash) gets it in one transaction: one commit, where a
		// statement at a time made one each.
		if err := d.migrate(schema); err != nil {
			db.Close()
			return nil, false, err
		}
	}
	if err := d.checkReadable(); err != nil {
		db.Close()
		return nil, false, err
	}
	if err := d.readMarker(); err != nil {
		db.Close()
		return nil, false, Err(err)
	}
	return d, fresh, nil
}

// useWAL puts the database in WAL mode, which the file keeps. SQLite
// makes a new file in rollback-journal mode and switches it to WAL with
// a write of its header; for a new file that write runs with
// synchronous=OFF and costs no fsync of the journal, the file and the
// directory (a new index lost in a crash is made again). The driver
// applies a DSN's pragmas in its own order, journal_mode before
// synchronous, hence the statements here. (A new index normally comes
// from freshImage, in WAL mode already.)
func useWAL(db *sql.DB, sync string, created bool) error {
	stmts := []string{"PRAGMA journal_mode = WAL"}
	if created {
		stmts = []string{"PRAGMA synchronous = OFF", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = " + sync}
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			return Err(err)
		}
	}
	return nil
}

// migrate runs a migration and sets the schema version, in one
// transaction.
func (d *DB) migrate(stmts string) error {
	tx, err := d.db.Begin()
	if err != nil {
		return Err(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(stmts); err != nil {
		return fmt.Errorf("index schema: %w", Err(err))
	}
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return Err(err)
	}
	return Err(tx.Commit())
}

// checkReadable reads every table once so that a corrupt file is found
// at open rather than in the middle of a save.
func (d *DB) checkReadable() error {
	for _, q := range []string{
		"SELECT count(*) FROM mailboxes",
		"SELECT bytes FROM usage",
		"SELECT max(id) FROM messages",
	} {
		var x any
		if err := d.db.QueryRow(q).Scan(&x); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the writing marker and closes the database.
func (d *DB) Close() error {
	d.stopGroup()
	// After a lost group the marker stays: the index lacks commits whose
	// MODSEQs clients may have seen (Unclean). Otherwise its removal
	// commits with the open group, when the connection closes.
	if n, _ := d.Lost(); d.marked && n == 0 {
		d.db.Exec(`DELETE FROM state WHERE key = 'writing'`)
	}
	return d.db.Close()
}

// Path returns the database file.
func (d *DB) Path() string { return d.path }

// Err maps SQLite's disk-full and I/O errors to storage.ErrTemporary.
func Err(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return fmt.Errorf("%w: index: %w", storage.ErrTemporary, err)
		}
	}
	if errors.Is(err, os.ErrPermission) {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: index: %w", storage.ErrTemporary, err)
	}
	return fmt.Errorf("index: %w", err)
}

// Box is a mailbox's row.
type Box struct {
	ID          int64
	Name        string
	UIDValidity uint32
	UIDNext     uint32
	ModSeq      uint64
	HistoryFrom uint64
	RecentFrom  uint32
	SpecialUse  []string
	// Stamps is the backend's record of the state of its directories
	// that the message rows match ("" when unknown): when they are
	// unchanged at open, the rows are the truth and no rescan is needed.
	Stamps string
}

// Msg is a message's row.
type Msg struct {
	UID          uint32
	File         string
	Flags        []string
	ModSeq       uint64
	InternalDate time.Time
	SaveDate     time.Time
	Size         int64
}

// Expunged is an expunge history entry.
type Expunged struct {
	UID    uint32
	ModSeq uint64
}

// LoadBox returns a mailbox with its messages (ascending by UID) and
// expunge history; ok is false when the index does not know it.
func (d *DB) LoadBox(name string) (b Box, msgs []Msg, exp []Expunged, ok bool, err error) {
	var su string
	err = d.db.QueryRow(`SELECT id, name, uidvalidity, uidnext, highestmodseq, historyfrom, recentfrom, specialuse, stamps
		FROM mailboxes WHERE name = ?`, name).Scan(&b.ID, &b.Name, &b.UIDValidity, &b.UIDNext, &b.ModSeq,
		&b.HistoryFrom, &b.RecentFrom, &su, &b.Stamps)
	if err == sql.ErrNoRows {
		return b, nil, nil, false, nil
	}
	if err != nil {
		return b, nil, nil, false, Err(err)
	}
	b.SpecialUse = strings.Fields(su)
	d.deferredBox(&b)
	// The rows are read in UID order through the (mailbox, uid) index;
	// in an index whose row ids do not follow the UIDs (rows written in
	// another order) each row is a seek to another page, so the page
	// cache is raised to hold the table while they are read, and its
	// memory given back after.
	if _, err := d.db.Exec(`PRAGMA cache_size = -65536`); err == nil {
		defer func() {
			d.db.Exec(`PRAGMA cache_size = -2000`)
			d.db.Exec(`PRAGMA shrink_memory`)
		}()
	}
	rows, err := d.db.Query(`SELECT uid, file, flags, modseq, internaldate, savedate, size
		FROM messages WHERE mailbox = ? ORDER BY uid`, b.ID)
	if err != nil {
		return b, nil, nil, false, Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Msg
		var flags string
		var idate, sdate int64
		if err := rows.Scan(&m.UID, &m.File, &flags, &m.ModSeq, &idate, &sdate, &m.Size); err != nil {
			return b, nil, nil, false, Err(err)
		}
		if flags != "" {
			m.Flags = strings.Split(flags, " ")
		}
		m.InternalDate = time.Unix(0, idate)
		m.SaveDate = time.Unix(0, sdate)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return b, nil, nil, false, Err(err)
	}
	erows, err := d.db.Query(`SELECT uid, modseq FROM expunged WHERE mailbox = ? ORDER BY modseq, uid`, b.ID)
	if err != nil {
		return b, nil, nil, false, Err(err)
	}
	defer erows.Close()
	for erows.Next() {
		var x Expunged
		if err := erows.Scan(&x.UID, &x.ModSeq); err != nil {
			return b, nil, nil, false, Err(err)
		}
		exp = append(exp, x)
	}
	return b, msgs, exp, true, Err(erows.Err())
}

// Loaded is a mailbox as LoadAll reads it.
type Loaded struct {
	Box  Box
	Msgs []Msg      // ascending by UID
	Exp  []Expunged // by MODSEQ, then UID
}

// LoadAll returns every mailbox of the index by name, as LoadBox does,
// reading each table in one pass in row order: at open every mailbox is
// read anyway, and a pass is much cheaper than a seek from the (mailbox,
// uid) index to each row.
func (d *DB) LoadAll() (map[string]*Loaded, error) {
	out := make(map[string]*Loaded)
	byID := make(map[int64]*Loaded)
	rows, err := d.db.Query(`SELECT id, name, uidvalidity, uidnext, highestmodseq, historyfrom, recentfrom, specialuse, stamps
		FROM mailboxes`)
	if err != nil {
		return nil, Err(err)
	}
	for rows.Next() {
		var b Box
		var su string
		if err := rows.Scan(&b.ID, &b.Name, &b.UIDValidity, &b.UIDNext, &b.ModSeq, &b.HistoryFrom, &b.RecentFrom,
			&su, &b.Stamps); err != nil {
			rows.Close()
			return nil, Err(err)
		}
		b.SpecialUse = strings.Fields(su)
		d.deferredBox(&b)
		l := &Loaded{Box: b}
		out[b.Name], byID[b.ID] = l, l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, Err(err)
	}
	var counts []struct{ id, n int64 }
	crows, err := d.db.Query(`SELECT mailbox, count(*) FROM messages GROUP BY mailbox`)
	if err != nil {
		return nil, Err(err)
	}
	for crows.Next() {
		var c struct{ id, n int64 }
		if err := crows.Scan(&c.id, &c.n); err != nil {
			crows.Close()
			return nil, Err(err)
		}
		counts = append(counts, c)
	}
	crows.Close()
	for _, c := range counts {
		if l := byID[c.id]; l != nil {
			l.Msgs = make([]Msg, 0, c.n)
		}
	}
	mrows, err := d.db.Query(`SELECT mailbox, uid, file, flags, modseq, internaldate, savedate, size FROM messages NOT INDEXED`)
	if err != nil {
		return nil, Err(err)
	}
	for mrows.Next() {
		var box int64
		var m Msg
		var flags string
		var idate, sdate int64
		if err := mrows.Scan(&box, &m.UID, &m.File, &flags, &m.ModSeq, &idate, &sdate, &m.Size); err != nil {
			mrows.Close()
			return nil, Err(err)
		}
		l := byID[box]
		if l == nil {
			continue
		}
		if flags != "" {
			m.Flags = strings.Split(flags, " ")
		}
		m.InternalDate = time.Unix(0, idate)
		m.SaveDate = time.Unix(0, sdate)
		l.Msgs = append(l.Msgs, m)
	}
	mrows.Close()
	if err := mrows.Err(); err != nil {
		return nil, Err(err)
	}
	for _, l := range out {
		if !slices.IsSortedFunc(l.Msgs, cmpMsg) {
			slices.SortFunc(l.Msgs, cmpMsg)
		}
	}
	erows, err := d.db.Query(`SELECT mailbox, uid, modseq FROM expunged ORDER BY mailbox, modseq, uid`)
	if err != nil {
		return nil, Err(err)
	}
	defer erows.Close()
	for erows.Next() {
		var box int64
		var x Expunged
		if err := erows.Scan(&box, &x.UID, &x.ModSeq); err != nil {
			return nil, Err(err)
		}
		if l := byID[box]; l != nil {
			l.Exp = append(l.Exp, x)
		}
	}
	return out, Err(erows.Err())
}

func cmpMsg(a, b Msg) int { return cmp.Compare(a.UID, b.UID) }

// Names returns every mailbox name in the index.
func (d *DB) Names() ([]string, error) {
	rows, err := d.db.Query(`SELECT name FROM mailboxes ORDER BY name`)
	if err != nil {
		return nil, Err(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, Err(err)
		}
		out = append(out, n)
	}
	return out, Err(rows.Err())
}

// DeleteBox forgets a mailbox and everything of it.
func (d *DB) DeleteBox(name string) error {
	d.forgetNames()
	_, err := d.db.Exec(`DELETE FROM mailboxes WHERE name = ?`, name)
	return Err(err)
}

// RenameBox renames a mailbox and, when children is true, the mailboxes
// whose names start with oldName+delim.
func (d *DB) RenameBox(oldName, newName string, delim rune, children bool) error {
	d.forgetNames()
	tx, err := d.db.Begin()
	if err != nil {
		return Err(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM mailboxes WHERE name = ?`, newName); err != nil {
		return Err(err)
	}
	if _, err := tx.Exec(`UPDATE mailboxes SET name = ? WHERE name = ?`, newName, oldName); err != nil {
		return Err(err)
	}
	if children {
		prefix := oldName + string(delim)
		if _, err := tx.Exec(`UPDATE mailboxes SET name = ? || substr(name, ?) WHERE substr(name, 1, ?) = ?`,
			newName+string(delim), len(prefix)+1, len(prefix), prefix); err != nil {
			return Err(err)
		}
	}
	return Err(tx.Commit())
}

// SetSubscriptions mirrors the subscription list.
func (d *DB) SetSubscriptions(names []string) error {
	tx, err := d.db.Begin()
	if err != nil {
		return Err(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE mailboxes SET subscribed = 0`); err != nil {
		return Err(err)
	}
	for _, n := range names {
		if _, err := tx.Exec(`UPDATE mailboxes SET subscribed = 1 WHERE name = ?`, n); err != nil {
			return Err(err)
		}
	}
	return Err(tx.Commit())
}

// Usage returns the quota counters: the sum of sizes and the number of
// messages over all mailboxes.
func (d *DB) Usage() (bytes, messages int64, err error) {
	err = d.db.QueryRow(`SELECT bytes, messages FROM usage WHERE id = 1`).Scan(&bytes, &messages)
	return bytes, messages, Err(err)
}

// Tx is a write transaction.
type Tx struct {
	tx  *sql.Tx
	ctx context.Context
	// db is the DB the transaction writes.
	db *DB
	// durable is set for a durable transaction on a tiered connection,
	// whose synchronous setting goes back to NORMAL when it ends.
	durable bool
	// marks says the transaction sets the writing marker.
	marks bool
	// names are the mailbox names its PutBox calls wrote, for db.names
	// once it commits.
	names map[int64]string
	// grouped says the transaction is part of a group (group.go); its
	// PutBox calls leave their rows to the group's commit, and undo
	// holds what those rows were before, for Rollback.
	grouped bool
	undo    map[int64]deferredBox
	// undoLost is the group's count of lost groups when undo was
	// started: a rollback that lost the group has nothing to put back.
	undoLost uint64
}

// Begin starts a write transaction (BEGIN IMMEDIATE) of the metadata
// tier: committed when Commit returns, on disk at the next durable
// commit or checkpoint (Options).
func (d *DB) Begin() (*Tx, error) {
	if d.tiered && !d.marked {
		return d.BeginDurable()
	}
	ctx, grouped := context.Background(), d.group != nil && d.marked
	if grouped {
		ctx = d.group.ctx
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, Err(err)
	}
	return &Tx{tx: tx, ctx: context.Background(), db: d, grouped: grouped}, nil
}

// BeginDurable starts a write transaction that is on disk when its
// Commit returns (the writing marker's). Its commit syncs the write-ahead
// log, and so every metadata commit made before it too.
func (d *DB) BeginDurable() (*Tx, error) {
	if !d.tiered {
		return d.Begin()
	}
	// The pool has one connection: the setting applies to the
	// transaction begun next on it. synchronous cannot change inside
	// a transaction, so an open group commits first.
	if err := d.Flush(); err != nil {
		return nil, err
	}
	if _, err := d.db.Exec("PRAGMA synchronous = FULL"); err != nil {
		return nil, Err(err)
	}
	tx, err := d.db.Begin()
	if err != nil {
		d.db.Exec("PRAGMA synchronous = NORMAL")
		return nil, Err(err)
	}
	t := &Tx{tx: tx, ctx: context.Background(), db: d, durable: true}
	if !d.marked {
		if err := d.markWriting(tx); err != nil {
			t.Rollback()
			return nil, Err(err)
		}
		t.marks = true
	}
	return t, nil
}

// Commit commits. A transaction of BeginDurable is on disk when it
// returns (WAL with synchronous=FULL).
func (t *Tx) Commit() error {
	err := Err(t.tx.Commit())
	if err != nil {
		t.restoreDeferred()
	}
	t.undo = nil
	if err == nil && t.marks {
		t.db.marked = true
	}
	if t.names != nil {
		t.db.namesMu.Lock()
		if err == nil {
			if t.db.names == nil {
				t.db.names = map[int64]string{}
			}
			maps.Copy(t.db.names, t.names)
		} else {
			clear(t.db.names)
		}
		t.db.namesMu.Unlock()
		t.names = nil
	}
	t.restore()
	return err
}

// Rollback abandons the transaction; it is a no-op after Commit.
func (t *Tx) Rollback() {
	t.tx.Rollback()
	t.restoreDeferred()
	t.names = nil
	t.restore()
}

// restore sets a durable transaction's connection back to the metadata
// tier.
func (t *Tx) restore() {
	if !t.durable {
		return
	}
	t.db.db.Exec("PRAGMA synchronous = NORMAL")
	t.durable = false
}

// PutBox inserts or updates a mailbox's row and sets b.ID.
func (t *Tx) PutBox(b *Box) error {
	su := strings.Join(b.SpecialUse, " ")
	if b.ID == 0 {
		if _, err := t.tx.Exec(`DELETE FROM mailboxes WHERE name = ?`, b.Name); err != nil {
			return Err(err)
		}
		res, err := t.tx.Exec(`INSERT INTO mailboxes (name, uidvalidity, uidnext, highestmodseq, historyfrom, recentfrom, specialuse, stamps)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.Name, b.UIDValidity, b.UIDNext, b.ModSeq, b.HistoryFrom, b.RecentFrom, su, b.Stamps)
		if err != nil {
			return Err(err)
		}
		b.ID, err = res.LastInsertId()
		if err == nil {
			t.putBoxName(b)
		}
		return Err(err)
	}
	if name, ok := t.boxName(b.ID); ok && name == b.Name {
		if t.grouped {
			t.deferBox(b)
			return nil
		}
		// Every change writes the row (HIGHESTMODSEQ); setting name,
		// even to itself, would also rewrite the page of its UNIQUE
		// index: one more page in the log at each commit.
		_, err := t.tx.Exec(updateBox, b.UIDValidity, b.UIDNext, b.ModSeq, b.HistoryFrom, b.RecentFrom, su, b.Stamps, b.ID)
		return Err(err)
	}
	t.undeferBox(b.ID)
	_, err := t.tx.Exec(`UPDATE mailboxes SET name = ?, uidvalidity = ?, uidnext = ?, highestmodseq = ?, historyfrom = ?,
		recentfrom = ?, specialuse = ?, stamps = ? WHERE id = ?`, b.Name, b.UIDValidity, b.UIDNext, b.ModSeq, b.HistoryFrom,
		b.RecentFrom, su, b.Stamps, b.ID)
	if err == nil {
		t.putBoxName(b)
	}
	return Err(err)
}

// updateBox writes a mailbox row whose name is unchanged.
const updateBox = `UPDATE mailboxes SET uidvalidity = ?, uidnext = ?, highestmodseq = ?, historyfrom = ?,
	recentfrom = ?, specialuse = ?, stamps = ? WHERE id = ?`

// boxName returns the name PutBox last wrote in the row id, in this
// transaction or a committed one.
func (t *Tx) boxName(id int64) (string, bool) {
	if name, ok := t.names[id]; ok {
		return name, true
	}
	t.db.namesMu.Lock()
	defer t.db.namesMu.Unlock()
	name, ok := t.db.names[id]
	return name, ok
}

// forgetNames forgets the names PutBox wrote: the rows' names change
// outside PutBox.
func (d *DB) forgetNames() {
	d.namesMu.Lock()
	clear(d.names)
	d.namesMu.Unlock()
}

// putBoxName records that PutBox wrote b's name in its row.
func (t *Tx) putBoxName(b *Box) {
	if t.names == nil {
		t.names = map[int64]string{}
	}
	t.names[b.ID] = b.Name
}

// PutMsg inserts or updates a message's row. A row whose file has
// another base name is a different message: its cache and text index go.
func (t *Tx) PutMsg(box int64, m Msg) error {
	flags := strings.Join(m.Flags, " ")
	res, err := t.tx.Exec(`UPDATE messages SET file = ?, flags = ?, modseq = ?, internaldate = ?, savedate = ?, size = ?
		WHERE mailbox = ? AND uid = ?`, m.File, flags, m.ModSeq, m.InternalDate.UnixNano(), m.SaveDate.UnixNano(),
		m.Size, box, m.UID)
	if err != nil {
		return Err(err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = t.tx.Exec(`INSERT INTO messages (mailbox, uid, file, flags, modseq, internaldate, savedate, size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, box, m.UID, m.File, flags, m.ModSeq, m.InternalDate.UnixNano(),
		m.SaveDate.UnixNano(), m.Size)
	return Err(err)
}

// AddMsg inserts the row of a message new to the mailbox (a save): one
// statement where PutMsg's UPDATE finds nothing first. A row already
// there under its UID (one the index kept of an earlier life of the
// mailbox) is updated, as by PutMsg.
func (t *Tx) AddMsg(box int64, m Msg) error {
	_, err := t.tx.Exec(`INSERT INTO messages (mailbox, uid, file, flags, modseq, internaldate, savedate, size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, box, m.UID, m.File, strings.Join(m.Flags, " "), m.ModSeq,
		m.InternalDate.UnixNano(), m.SaveDate.UnixNano(), m.Size)
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return t.PutMsg(box, m)
	}
	return Err(err)
}

// insertChunk is how many rows one INSERT of InsertMsgs writes: the
// statement's parse and the call through database/sql are paid once per
// chunk instead of once per row (SQLite allows 32,766 parameters).
const insertChunk = 128

// InsertMsgs inserts the rows of messages the index does not have yet
// (a new mailbox row, or a first scan of a Maildir), several to a
// statement.
func (t *Tx) InsertMsgs(box int64, msgs []Msg) error {
	const cols = "(?, ?, ?, ?, ?, ?, ?, ?)"
	var full string
	args := make([]any, 0, 8*min(len(msgs), insertChunk))
	for len(msgs) > 0 {
		n := min(len(msgs), insertChunk)
		q := full
		if n < insertChunk || q == "" {
			q = "INSERT INTO messages (mailbox, uid, file, flags, modseq, internaldate, savedate, size) VALUES " +
				strings.Repeat(cols+", ", n-1) + cols
			if n == insertChunk {
				full = q
			}
		}
		args = args[:0]
		for _, m := range msgs[:n] {
			args = append(args, box, m.UID, m.File, strings.Join(m.Flags, " "), m.ModSeq,
				m.InternalDate.UnixNano(), m.SaveDate.UnixNano(), m.Size)
		}
		if _, err := t.tx.Exec(q, args...); err != nil {
			return Err(err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// SetFlags updates a message's file name, flags and MODSEQ.
func (t *Tx) SetFlags(box int64, uid uint32, file string, flags []string, modseq uint64) error {
	_, err := t.tx.Exec(`UPDATE messages SET file = ?, flags = ?, modseq = ? WHERE mailbox = ? AND uid = ?`,
		file, strings.Join(flags, " "), modseq, box, uid)
	return Err(err)
}

// Expunge removes a message and records it in the expunge history.
func (t *Tx) Expunge(box int64, uid uint32, modseq uint64) error {
	if _, err := t.tx.Exec(`DELETE FROM messages WHERE mailbox = ? AND uid = ?`, box, uid); err != nil {
		return Err(err)
	}
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?, ?, ?)`, box, uid, modseq)
	return Err(err)
}

// TrimHistory drops expunge history at or below modseq.
func (t *Tx) TrimHistory(box int64, modseq uint64) error {
	_, err := t.tx.Exec(`DELETE FROM expunged WHERE mailbox = ? AND modseq <= ?`, box, modseq)
	return Err(err)
}

// DropBoxMessages deletes every message row of a mailbox (its history
// stays), for a mailbox whose UIDVALIDITY changed or that is rebuilt.
func (t *Tx) DropBoxMessages(box int64) error {
	_, err := t.tx.Exec(`DELETE FROM messages WHERE mailbox = ?`, box)
	return Err(err)
}
