// Package storage is the mail store API the protocol engines (imap, pop3,
// lmtp, sieve) work against, and the types they share. Backends live
// below it: storage/maildir (Maildir with a per-user index) and, for
// protocol tests only, storage/memstore.
//
// Every change is an intent the backend carries out atomically (append,
// store flags with UNCHANGEDSINCE, expunge, copy, move) and that returns
// the MODSEQ it produced. Readers take a consistent snapshot and ask for
// the changes since a MODSEQ; notifications are hints to re-read, never the
// data. Protocol code never reads, computes and writes back index state.
package storage

import (
	"errors"
	"io"
	"strings"
	"time"
)

// System flags (RFC 9051 section 2.3.2). Keywords are any other atom.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
	FlagRecent   = `\Recent` // session flag; never stored
)

// Mailbox attributes (RFC 9051 section 7.3.1, RFC 6154).
const (
	AttrNoinferiors   = `\Noinferiors`
	AttrNoselect      = `\Noselect`
	AttrNonExistent   = `\NonExistent`
	AttrHasChildren   = `\HasChildren`
	AttrHasNoChildren = `\HasNoChildren`
	AttrSubscribed    = `\Subscribed`
	AttrAll           = `\All`
	AttrArchive       = `\Archive`
	AttrDrafts        = `\Drafts`
	AttrFlagged       = `\Flagged`
	AttrJunk          = `\Junk`
	AttrSent          = `\Sent`
	AttrTrash         = `\Trash`
)

// Errors a backend returns; protocol engines map them to responses in one
// place. Backends wrap them with detail (fmt.Errorf("...: %w", ErrX)).
var (
	ErrNoSuchMailbox  = errors.New("mailbox does not exist")
	ErrMailboxExists  = errors.New("mailbox already exists")
	ErrInvalidName    = errors.New("invalid mailbox name")
	ErrUseAttr        = errors.New("unsupported special-use attribute") // RFC 6154 [USEATTR]
	ErrInbox          = errors.New("operation not allowed on INBOX")
	ErrHasChildren    = errors.New("mailbox has children")
	ErrNoSuchMessage  = errors.New("no such message")
	ErrReadOnly       = errors.New("mailbox is read-only")
	ErrOverQuota      = errors.New("quota exceeded")
	ErrTooBig         = errors.New("message too large")
	ErrTemporary      = errors.New("temporary storage failure") // disk full, I/O error
	ErrKeywordsFull   = errors.New("too many keywords")
	ErrClosed         = errors.New("store closed")
	ErrLimit          = errors.New("limit exceeded")
	ErrNotImplemented = errors.New("not supported by this backend")
)

// MailboxInfo is one entry of a mailbox listing.
type MailboxInfo struct {
	Name       string   // full name, hierarchy separated by Delimiter, "INBOX" for the inbox
	Attrs      []string // \Noselect, \HasChildren, special-use attributes, ...
	Subscribed bool
}

// Status is a mailbox's counts (RFC 9051 section 6.3.11, RFC 8438, RFC 7162).
type Status struct {
	Messages      uint32
	Recent        uint32
	Unseen        uint32
	Deleted       uint32
	UIDNext       uint32
	UIDValidity   uint32
	HighestModSeq uint64
	Size          int64 // sum of RFC822.SIZE
}

// Message is one message's metadata as of a snapshot.
type Message struct {
	UID          uint32
	Flags        []string // system flags and keywords, without \Recent
	Recent       bool     // \Recent for the session that took the snapshot
	ModSeq       uint64
	InternalDate time.Time
	SaveDate     time.Time
	Size         int64 // RFC822.SIZE: the size with CRLF line endings
}

// AppendOptions are an APPEND's or a delivery's flags and date.
type AppendOptions struct {
	Flags []string
	Date  time.Time // internal date; zero means now
}

// FlagOp says how Store changes flags.
type FlagOp int

const (
	FlagsAdd FlagOp = iota
	FlagsRemove
	FlagsReplace
)

// StoreResult is what a flag change did.
type StoreResult struct {
	// Changed lists the messages whose flags changed, with their new
	// flags and MODSEQ.
	Changed []Message
	// Failed lists UIDs not changed because their MODSEQ was above the
	// UNCHANGEDSINCE value (RFC 7162 section 3.1.3).
	Failed []uint32
}

// CopyResult is what a copy or move produced (RFC 4315 COPYUID).
type CopyResult struct {
	UIDValidity uint32
	SrcUIDs     []uint32
	DstUIDs     []uint32
}

// Changes are what happened in a mailbox since a snapshot.
type Changes struct {
	// Expunged lists removed UIDs, ascending.
	Expunged []uint32
	// Updated lists messages added or whose flags changed, ascending by
	// UID; a UID above the session's known UIDNEXT is a new message.
	Updated       []Message
	UIDNext       uint32
	HighestModSeq uint64
}

// Store is one user's mail, opened by the user's worker. It is safe for
// concurrent use by the worker's sessions.
type Store interface {
	// Delimiter is the hierarchy separator.
	Delimiter() rune
	// List returns every mailbox, INBOX included, in name order.
	List() ([]MailboxInfo, error)
	Create(name string, specialUse []string) error
	Delete(name string) error
	Rename(oldName, newName string) error
	SetSubscribed(name string, subscribed bool) error
	Status(name string) (Status, error)
	// Append stores a message and returns its UIDVALIDITY and UID; it
	// returns only after the message is durable.
	Append(name string, r io.Reader, opts AppendOptions) (uidValidity, uid uint32, err error)
	// Open opens a mailbox for a session. readOnly is EXAMINE.
	Open(name string, readOnly bool) (Mailbox, error)
	// Watch returns a channel that receives a value (a hint, coalesced)
	// whenever anything in the user's mailboxes may have changed, and a
	// function that stops it.
	Watch() (<-chan struct{}, func())
	Close() error
}

// Mailbox is a mailbox opened by one session. A session works on its own
// snapshot and asks for changes with Poll; changes by other sessions are
// seen only through Poll.
type Mailbox interface {
	Name() string
	ReadOnly() bool
	Status() (Status, error)
	// Messages returns the session's current snapshot, ascending by UID,
	// in a slice the caller owns (it may keep and change it).
	Messages() []Message
	// Poll rescans (noticing external changes to the files), moves the
	// snapshot forward and returns what changed since the last Poll or
	// since Open.
	Poll() (Changes, error)
	// PermanentFlags lists the flags and keywords the mailbox can store,
	// `\*` included when new keywords can be made.
	PermanentFlags() []string
	// Flags lists the flags and keywords defined in the mailbox. The
	// caller must not modify the slice: a store may return the same one
	// until the keywords change.
	Flags() []string
	// Read returns the message with CRLF line endings.
	Read(uid uint32) (io.ReadCloser, error)
	// Store changes flags. unchangedSince 0 means no condition.
	Store(uids []uint32, op FlagOp, flags []string, unchangedSince uint64) (StoreResult, error)
	// Expunge removes the given messages if they have \Deleted set (all
	// such messages when uids is nil) and returns the UIDs removed.
	Expunge(uids []uint32) ([]uint32, error)
	// Copy copies messages to another mailbox, keeping flags and dates.
	Copy(uids []uint32, dest string) (CopyResult, error)
	// Move moves messages to another mailbox atomically.
	Move(uids []uint32, dest string) (CopyResult, error)
	// ChangesSince returns the changes after modseq (RFC 7162 QRESYNC);
	// ok is false when the history no longer reaches back that far.
	ChangesSince(modseq uint64) (c Changes, ok bool, err error)
	Close() error
}

// Optional interfaces. A Mailbox or Store may implement them; engines
// check for them once (as go-imap's SessionMove) and fall back to reading
// messages when they are absent.

// Part is one MIME entity of a message as the index caches it at save
// time (RFC 2045, RFC 2046): byte offsets into the message as Mailbox.Read
// returns it (CRLF line endings), and the entity's header reduced to the
// fields CachedField accepts.
type Part struct {
	Start     int64 // first byte of the entity's header
	BodyStart int64 // first byte after the header's blank line
	End       int64 // end of the body
	// Lines is the number of lines of the body (RFC 3501 body-fld-lines).
	Lines int64
	// Header holds the entity's header fields for which CachedField is
	// true, as they appear in the message (CRLF, folding kept).
	Header []byte
	// Children are the body parts of a multipart entity; empty for other
	// types. A multipart without a usable boundary has none.
	Children []Part
	// Message is the encapsulated message of a message/rfc822 or
	// message/global entity.
	Message *Part
}

// Cached is what the index keeps of one message so that FETCH ENVELOPE,
// BODYSTRUCTURE and common header fields need not read the file. Its
// root Part is the whole message.
type Cached struct {
	Part
	// Wire is an engine's encoding of Part that the index keeps beside
	// it (CacheEncodeMailbox); its first byte is the encoding's version.
	// nil when the index has none.
	Wire []byte
}

// CachedField reports whether Cached keeps a header field with this name
// (case-insensitive); an engine serving HEADER.FIELDS for a name it
// rejects reads the message instead.
// Besides every Content-* field these are the ENVELOPE fields (RFC 9051
// section 7.5.2) and the fields mail clients ask for in message lists.
func CachedField(name string) bool {
	// Lower case on the stack: FETCH asks this for each field of a
	// HEADER.FIELDS section of each message.
	var buf [32]byte
	if len(name) > len(buf) {
		return strings.HasPrefix(strings.ToLower(name), "content-")
	}
	b := buf[:len(name)]
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b) {
	case "date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
		"in-reply-to", "message-id", "references", "mime-version", "priority",
		"x-priority", "importance", "list-id", "list-post", "list-unsubscribe",
		"newsgroups", "x-mailer", "user-agent", "return-path", "delivered-to",
		"x-spam-flag", "x-spam-status", "autocrypt":
		return true
	}
	return len(b) >= 8 && string(b[:8]) == "content-"
}

// CacheMailbox is a Mailbox that returns the cached structure of its
// messages. ok is false when the backend has no cache for the message
// (for example a message too large to parse); err is for I/O errors and
// messages not in the session's snapshot (ErrNoSuchMessage).
type CacheMailbox interface {
	Cached(uid uint32) (c Cached, ok bool, err error)
}

// CachedResult is one message's entry in CacheBatchMailbox.CachedBatch.
type CachedResult struct {
	UID    uint32
	Cached Cached
	// OK is false when the backend has no cache for the message (as
	// CacheMailbox.Cached's ok).
	OK bool
}

// CacheBatchMailbox is a CacheMailbox that returns the cached structure
// of many messages at once: one index query for a range of UIDs rather
// than one per message, for FETCH ENVELOPE or BODYSTRUCTURE over a
// message set.
type CacheBatchMailbox interface {
	// CachedBatch returns one result per distinct UID of uids that is
	// in the session's snapshot, ascending by UID; UIDs not in the
	// snapshot are left out. err is for I/O errors.
	CachedBatch(uids []uint32) ([]CachedResult, error)
}

// CacheEncodeMailbox is a CacheBatchMailbox whose index also keeps an
// engine's encoding of each cached structure (for IMAP: ENVELOPE and
// BODYSTRUCTURE on the wire, as Dovecot's cache keeps imap.envelope and
// imap.bodystructure), so that a repeated FETCH copies bytes.
type CacheEncodeMailbox interface {
	// CachedBatchEncoded is CachedBatch where an OK result's
	// Cached.Wire is the kept encoding when its first byte is version.
	// The store calls encode for the structures without one (all, or
	// only when there are enough of them to be worth a write) and keeps
	// its results; the caller encodes the others itself. encode's
	// result starts with version; it is called from several goroutines
	// at once and must not use the mailbox.
	CachedBatchEncoded(uids []uint32, version byte, encode func(*Part) []byte) ([]CachedResult, error)
}

// CacheWireMailbox is a CacheEncodeMailbox for a caller that needs only
// the kept encodings (FETCH ENVELOPE BODYSTRUCTURE): the store reads no
// more of each record than the encoding.
type CacheWireMailbox interface {
	// CachedBatchWire is CachedBatchEncoded except that an OK result
	// whose Cached.Wire starts with version has no Part (its zero
	// value); the others have their Part as CachedBatchEncoded gives.
	CachedBatchWire(uids []uint32, version byte, encode func(*Part) []byte) ([]CachedResult, error)
}

// TextSearchMailbox is a Mailbox with a full-text index for SEARCH BODY
// and TEXT (RFC 9051 section 6.4.4: case-insensitive substring match).
type TextSearchMailbox interface {
	// SearchText returns the UIDs of the session's snapshot whose text
	// may contain query: the body text when body is true (SEARCH BODY),
	// header and body when false (SEARCH TEXT). exact is true when the
	// result is exactly the matching set; when it is false the result is
	// a superset the engine must check message by message (a query under
	// three characters, messages the index could not read).
	SearchText(query string, body bool) (uids []uint32, exact bool, err error)
}

// HeaderSearchMailbox is a Mailbox whose index can narrow SEARCH SUBJECT
// and HEADER (RFC 9051 section 6.4.4) to candidates, so that the engine
// checks a few messages' header fields instead of every message's.
type HeaderSearchMailbox interface {
	// SearchHeader returns the UIDs of the session's snapshot whose
	// header may contain query: a superset of the messages with a
	// header field whose value, RFC 2047 encoded-words decoded, contains
	// query under i;unicode-casemap. The engine checks each one.
	SearchHeader(query string) ([]uint32, error)
}

// Quota is a user's usage and limits (RFC 9208 STORAGE and MESSAGE
// resources). A limit of 0 means none.
type Quota struct {
	StorageUsed  int64 // bytes: the sum of RFC822.SIZE over all mailboxes
	StorageLimit int64
	MessagesUsed int64
	MessageLimit int64
}

// QuotaStore is a Store that counts quota. Append and Copy fail with
// ErrOverQuota when they would go over a limit.
type QuotaStore interface {
	Quota() (Quota, error)
}

// QuotaCounter is an optional interface of a QuotaStore that tells,
// without counting usage, whether Quota can answer (it returns
// ErrNotImplemented when the backend counts no quota). Engines ask it on
// every greeting to decide whether to advertise QUOTA.
type QuotaCounter interface {
	CountsQuota() bool
}
