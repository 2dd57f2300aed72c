package sieve

import (
	"context"
	"io"
	"time"
)

// Envelope is the SMTP/LMTP envelope of the message being delivered
// (RFC 5228 section 5.4).
type Envelope struct {
	From string // reverse-path without brackets; "" for the null sender
	To   string // the recipient this delivery is for
	// OrigTo is the recipient as the MTA gave it before any rewriting,
	// when known (used for vacation's own-address check).
	OrigTo string
	Auth   string // the authenticated submitter, when known
	// Delimiters are the characters that separate user and detail in
	// :user and :detail (RFC 5233), Dovecot's recipient_delimiter. ""
	// means "+".
	Delimiters string
}

// HeaderField is one header field as stored in the message: Name as
// written, Value raw (still folded and RFC 2047-encoded, without the
// trailing CRLF).
type HeaderField struct {
	Name  string
	Value string
}

// Message is the message being filtered.
type Message interface {
	// Header returns the header fields in order. The interpreter does
	// not change the slice.
	Header() []HeaderField
	// Size is the message size in octets (RFC 5228 section 5.9).
	Size() int64
	// Body returns a fresh reader of the body: the octets after the
	// blank line that ends the header.
	Body() (io.Reader, error)
}

// Mailboxes answers the mailbox questions of the mailbox, special-use and
// mailboxid extensions (RFC 5490, RFC 8579, RFC 9042).
type Mailboxes interface {
	MailboxExists(ctx context.Context, name string) (bool, error)
	// SpecialUseExists reports whether a mailbox has every one of the
	// special-use flags; mailbox "" means any mailbox of the user.
	SpecialUseExists(ctx context.Context, mailbox string, flags []string) (bool, error)
	MailboxIDExists(ctx context.Context, id string) (bool, error)
}

// DuplicateStore remembers identifiers for the duplicate extension and
// vacation's reply tracking (RFC 7352, RFC 5230 section 4.2).
type DuplicateStore interface {
	// Seen reports whether id was marked and has not expired.
	Seen(ctx context.Context, id string) (bool, error)
	// Mark remembers id until expires.
	Mark(ctx context.Context, id string, expires time.Time) error
}

// ScoreTest configures where spamtest or virustest finds its score
// (RFC 5235), like Pigeonhole's sieve_spamtest_* settings.
type ScoreTest struct {
	// Header is the header field to read, e.g. "X-Spam-Score". Empty
	// means the test is not configured, and it always yields "0".
	Header string
	// Pattern, when set, is a regular expression whose first group
	// captures the value from the field; otherwise the whole value.
	Pattern string
	// Type is "score" (a number from 0 to Max), "strlen" (the length of
	// the value, e.g. "*****", from 0 to Max) or "text" (Text maps
	// values to scores).
	Type string
	Max  float64
	// Text maps header values to the test's levels ("0" to "10" for
	// spamtest, "0" to "5" for virustest), for Type "text".
	Text map[string]string
}

// Env is what a script sees of the delivery. The lmtp delivery
// implements it; StaticEnv is a ready implementation from fields.
type Env interface {
	Envelope() Envelope
	Message() Message
	// Now is the current time for currentdate and vacation periods; its
	// location is the local zone.
	Now() time.Time
	// Mailboxes may return nil: then no mailbox exists.
	Mailboxes() Mailboxes
	// Duplicates may return nil: then duplicate is always false and
	// vacation replies are not tracked.
	Duplicates() DuplicateStore
	// EnvironmentItem returns an environment item (RFC 5183 section 4),
	// e.g. "remote-ip" or "host". Items it does not know get
	// defaults for "name", "version", "location" and "phase".
	EnvironmentItem(name string) (string, bool)
	// ScoreTest returns the configuration of "spamtest" or "virustest".
	ScoreTest(name string) ScoreTest
}

// StaticEnv is an Env from fields.
type StaticEnv struct {
	Env         Envelope
	Msg         Message
	Time        time.Time // zero means time.Now()
	Boxes       Mailboxes
	Dupes       DuplicateStore
	Items       map[string]string
	Spam, Virus ScoreTest
}

func (e *StaticEnv) Envelope() Envelope         { return e.Env }
func (e *StaticEnv) Message() Message           { return e.Msg }
func (e *StaticEnv) Mailboxes() Mailboxes       { return e.Boxes }
func (e *StaticEnv) Duplicates() DuplicateStore { return e.Dupes }

func (e *StaticEnv) Now() time.Time {
	if e.Time.IsZero() {
		return time.Now()
	}
	return e.Time
}

func (e *StaticEnv) EnvironmentItem(name string) (string, bool) {
	v, ok := e.Items[name]
	return v, ok
}

func (e *StaticEnv) ScoreTest(name string) ScoreTest {
	if name == "virustest" {
		return e.Virus
	}
	return e.Spam
}

// MailboxExistsFunc adapts a plain existence check to Mailboxes; it knows
// no special-use flags or mailbox ids.
type MailboxExistsFunc func(name string) bool

func (f MailboxExistsFunc) MailboxExists(_ context.Context, name string) (bool, error) {
	return f(name), nil
}

func (f MailboxExistsFunc) SpecialUseExists(context.Context, string, []string) (bool, error) {
	return false, nil
}

func (f MailboxExistsFunc) MailboxIDExists(context.Context, string) (bool, error) {
	return false, nil
}
