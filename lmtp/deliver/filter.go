package deliver

import (
	"context"
	"io"
	"log/slog"
)

// Filter decides what happens to a message at delivery: the Sieve
// interpreter (package sieve) implements it. It must not store anything
// itself; it returns the actions and Deliver carries them out.
type Filter interface {
	Filter(ctx context.Context, env FilterEnv) (Actions, error)
}

// FilterEnv is what a filter sees of one delivery.
type FilterEnv struct {
	User     string // canonical user name
	MailFrom string // envelope sender, "" for the null sender
	RcptTo   string // envelope recipient as given in RCPT TO
	Detail   string // the +detail of RcptTo, "" when none
	// Mailbox is the default mailbox for keep: INBOX, or the detail
	// mailbox with lmtp_save_to_detail_mailbox.
	Mailbox string
	// Message is the message as it will be stored, Return-Path and
	// Delivered-To included; Size is its length.
	Message io.ReaderAt
	Size    int64
	// MailboxExists reports whether a mailbox exists (RFC 5490
	// mailboxexists).
	MailboxExists func(name string) bool
	// Log is the delivery's logger (user, session and rcpt set).
	Log *slog.Logger
}

// Actions is a filter's verdict. The zero value (no action at all) is
// taken as keep: only an explicit Discard drops a message.
type Actions struct {
	// Keep stores the message in the default mailbox (explicit or
	// implicit keep), with KeepFlags (RFC 5232).
	Keep      bool
	KeepFlags []string
	// FileInto stores a copy in each mailbox listed (RFC 5228 section
	// 4.1).
	FileInto []FileInto
	// Redirect sends the message on to each address (RFC 5228 section
	// 4.2), through Options.Sender.
	Redirect []string
	// Reject refuses the message with this reason (RFC 5429). Over LMTP
	// the rejection is a message to the sender, not a protocol reply,
	// unless Options.RejectWithReply is set.
	Reject string
	// Ereject asks for the reject as a protocol reply (RFC 5429 section
	// 2.2): 550 5.7.1 to the MTA, and no rejection message.
	Ereject bool
	// Discard drops the message silently (RFC 5228 section 4.4), unless
	// another action stores or sends it.
	Discard bool
	// Header, when set, is the header section (fields and the empty
	// line after them) the filter left: RFC 5293 editheader. It replaces
	// the header of FilterEnv.Message, which ends at BodyOffset, in every
	// copy stored and every redirect.
	Header     []byte
	BodyOffset int64
	// Messages are sent through Options.Sender once the delivery
	// succeeded: vacation replies and notifications.
	Messages []Outgoing
	// Done, when set, is called after the delivery with whether it
	// succeeded; a filter commits its duplicate tracking there (RFC 7352
	// section 3.1).
	Done func(ctx context.Context, delivered bool)
}

// Outgoing is a message a filter wants sent.
type Outgoing struct {
	Kind string   // what it is, for the log: "vacation", "notify"
	From string   // envelope sender, "" for the null sender
	To   []string // envelope recipients
	Data []byte   // the message
}

// FileInto is one fileinto action.
type FileInto struct {
	Mailbox string
	Flags   []string // RFC 5232 :flags
	Create  bool     // RFC 5490 :create
}

// Sender sends a message out (redirects, rejections, vacation replies and
// notifications), through submission_host or sendmail_path.
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg io.Reader) error
}
