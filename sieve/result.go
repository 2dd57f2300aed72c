package sieve

import (
	"context"
	"io"
	"strings"
	"time"
)

// Action is one action of a Result. The concrete types are Keep,
// FileInto, Redirect, Reject, Discard, Vacation and Notify.
type Action interface{ action() }

// Keep stores the message in the default mailbox (RFC 5228 section 4.3).
type Keep struct {
	Flags    []string // imap4flags (RFC 5232): flags to set, nil when the script set none
	Implicit bool     // the implicit keep (RFC 5228 section 2.10.2)
}

// FileInto stores the message in Mailbox (RFC 5228 section 4.1).
type FileInto struct {
	Mailbox    string
	Flags      []string // imap4flags; nil when the script set none
	Copy       bool     // RFC 3894: did not cancel the implicit keep
	Create     bool     // RFC 5490: create the mailbox when missing
	SpecialUse string   // RFC 8579: prefer the mailbox with this use
	MailboxID  string   // RFC 9042: prefer the mailbox with this id
}

// Redirect sends the message on to Address (RFC 5228 section 4.2).
type Redirect struct {
	Address string
	Copy    bool
}

// Reject refuses the message with Reason (RFC 5429): Extended is ereject,
// which should be a protocol-level refusal where the delivery can still
// give one (an LMTP 550 reply), otherwise a DSN.
type Reject struct {
	Reason   string
	Extended bool
}

// Discard is the explicit discard (RFC 5228 section 4.4); the message is
// silently dropped when nothing else keeps it.
type Discard struct{}

// Vacation is an auto-reply to send (RFC 5230, RFC 6131). Run has checked
// the reply rules and the duplicate-reply store already: a Vacation in a
// Result is to be sent.
type Vacation struct {
	To        string // the envelope sender the reply goes to
	From      string // the From address of the reply
	Subject   string
	Reason    string // the reply body, or a MIME entity when MIME
	MIME      bool
	Handle    string
	Period    time.Duration
	InReplyTo string // the original Message-ID
	// References is the original References plus its Message-ID.
	References string
}

// Notify is an enotify notification to send (RFC 5435); Method is a
// mailto: URI (RFC 5436).
type Notify struct {
	Method     string
	From       string
	Importance string // "1" high, "2" normal, "3" low
	Options    []string
	Message    string
}

func (Keep) action()     {}
func (FileInto) action() {}
func (Redirect) action() {}
func (Reject) action()   {}
func (Discard) action()  {}
func (Vacation) action() {}
func (Notify) action()   {}

// DuplicateMark is an identifier the delivery must remember once it has
// delivered the message (RFC 7352 section 3; vacation's replies).
type DuplicateMark struct {
	ID      string
	Expires time.Time
}

// Result is what a script decided, per RFC 5228 section 2.10.
type Result struct {
	// Actions in the order the script took them. When the implicit keep
	// was not cancelled, it is the last one, a Keep with Implicit set.
	Actions []Action
	// ImplicitKeep reports whether the implicit keep stayed in force.
	ImplicitKeep bool
	// Header is the message header after editheader, and HeaderChanged
	// tells whether the script changed it. When it did, the stored and
	// redirected message must carry this header (RFC 5293 section 6);
	// WriteMessage writes it.
	Header        []HeaderField
	HeaderChanged bool
	// Marks are the duplicate-tracking identifiers to remember after a
	// successful delivery; Commit does that.
	Marks []DuplicateMark
	// Log holds notes on what the script did that a user may want in
	// their .sieve.log (suppressed vacation replies, ignored protected
	// header edits).
	Log []string
}

// Commit remembers the Result's duplicate marks in store. Call it after
// the delivery succeeded (RFC 7352 section 3.1).
func (r *Result) Commit(ctx context.Context, store DuplicateStore) error {
	if store == nil {
		return nil
	}
	for _, m := range r.Marks {
		if err := store.Mark(ctx, m.ID, m.Expires); err != nil {
			return err
		}
	}
	return nil
}

// WriteMessage writes msg with the Result's header to w: the edited
// header when the script changed it, then the original body.
func (r *Result) WriteMessage(w io.Writer, msg Message) error {
	h := msg.Header()
	if r.HeaderChanged {
		h = r.Header
	}
	if _, err := w.Write(HeaderBytes(h)); err != nil {
		return err
	}
	body, err := msg.Body()
	if err != nil {
		return err
	}
	_, err = io.Copy(w, body)
	return err
}

// HeaderBytes is the header section of fields: each field as
// "Name: value" with CRLF (folded values keep their folds), then the
// empty line that ends the header.
func HeaderBytes(fields []HeaderField) []byte {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Edited returns msg as the script left it: with the edited header when
// the script changed it (RFC 5293 section 6), else msg itself. The next
// script of a sequence (sieve_before, the user's, sieve_after) runs on
// it.
func (r *Result) Edited(msg Message) Message {
	if !r.HeaderChanged {
		return msg
	}
	return editedMessage{Message: msg, header: r.Header}
}

// editedMessage is a message with another header and the same body.
type editedMessage struct {
	Message
	header []HeaderField
}

func (m editedMessage) Header() []HeaderField { return m.header }

// Size is the size of the message as it would be written: the edited
// header and the body.
func (m editedMessage) Size() int64 {
	return int64(len(HeaderBytes(m.header))) + bodySize(m.Message)
}

func bodySize(m Message) int64 {
	switch m := m.(type) {
	case *RawMessage:
		return m.size - min(m.bodyOff, m.size)
	case editedMessage:
		return bodySize(m.Message)
	}
	body, err := m.Body()
	if err != nil {
		return 0
	}
	n, _ := io.Copy(io.Discard, body)
	return n
}
