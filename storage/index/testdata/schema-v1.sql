CREATE TABLE IF NOT EXISTS mailboxes (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	uidvalidity   INTEGER NOT NULL,
	uidnext       INTEGER NOT NULL,
	highestmodseq INTEGER NOT NULL,
	historyfrom   INTEGER NOT NULL,
	recentfrom    INTEGER NOT NULL,
	specialuse    TEXT NOT NULL DEFAULT '',
	subscribed    INTEGER NOT NULL DEFAULT 0
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
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
	hdr, body, tokenize = 'trigram', content = '', contentless_delete = 1
);
-- FTS5 keeps up to hashsize bytes of pending terms in memory before it
-- writes a segment; its default of 1 MiB is a segment every few dozen
-- messages, each followed by merges.
INSERT INTO fts (fts, rank) VALUES ('hashsize', 33554432);
CREATE TABLE IF NOT EXISTS usage (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	bytes    INTEGER NOT NULL,
	messages INTEGER NOT NULL
);
INSERT OR IGNORE INTO usage VALUES (1, 0, 0);
CREATE TRIGGER IF NOT EXISTS messages_ins AFTER INSERT ON messages BEGIN
	UPDATE usage SET bytes = bytes + NEW.size, messages = messages + 1;
END;
CREATE TRIGGER IF NOT EXISTS messages_del AFTER DELETE ON messages BEGIN
	UPDATE usage SET bytes = bytes - OLD.size, messages = messages - 1;
	DELETE FROM fts WHERE rowid = OLD.id AND OLD.indexed = 1;
END;
CREATE TRIGGER IF NOT EXISTS messages_size AFTER UPDATE OF size ON messages BEGIN
	UPDATE usage SET bytes = bytes - OLD.size + NEW.size;
END;
