// Package deliver stores one recipient's copy of a message: it runs in
// the recipient's worker, as the recipient, when the master hands the
// worker a proto.Deliver from the lmtp process. It adds the per-recipient
// header fields, runs the user's filter (Sieve), carries out its actions
// against the user's storage.Store and answers with the recipient's LMTP
// reply, which is 250 only once every copy it reports is durable.
//
// RFCs: 2033 (LMTP replies), 3463 (enhanced status codes), 5228 (Sieve
// actions keep, fileinto, redirect, discard), 5232 (imap4flags), 5429
// (reject), 5490 (fileinto :create), 5321 section 4.4 (Return-Path).
package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"cote/proto"
	"cote/storage"
)

// Options configure deliveries; the worker builds them from its settings
// and its user's store.
type Options struct {
	Store storage.Store
	Log   *slog.Logger
	// Filter is the user's Sieve; nil means keep.
	Filter Filter
	// Sender sends redirects; nil means a redirect is logged and the
	// message kept instead, so that nothing is lost.
	Sender Sender
	// Autocreate is lda_mailbox_autocreate: fileinto (and the detail
	// mailbox) create a missing mailbox instead of falling back to
	// INBOX. Autosubscribe is lda_mailbox_autosubscribe.
	Autocreate    bool
	Autosubscribe bool
	// QuotaFullTempfail is quota_full_tempfail: over quota is 452 4.2.2
	// (the MTA retries) instead of 552 5.2.2 (it bounces).
	QuotaFullTempfail bool
	// RejectWithReply answers every Sieve reject with 550 5.7.1 and the
	// reason, as ereject. Otherwise a reject sends a rejection message to
	// the envelope sender (RFC 5429 section 2.1) through Sender and the
	// message is not stored.
	RejectWithReply bool
	// PostmasterAddress is the From of rejection messages; "" means
	// postmaster@ the recipient's domain.
	PostmasterAddress string
	// HdrDeliveryAddress is lmtp_hdr_delivery_address: "final" (the
	// default, also for ""), "original" (the same here: there is no
	// ORCPT), or "none" for no Delivered-To field.
	HdrDeliveryAddress string
	// Hostname names this server in messages it makes.
	Hostname string
}

// Deliver stores req's copy of msg (a sealed memfd or read-only file of
// req.Size bytes, read with ReadAt only: other workers share its offset)
// and returns the reply for the lmtp process, with req.Seq. The caller
// keeps msg.
func Deliver(ctx context.Context, o Options, req *proto.Deliver, msg *os.File) *proto.DeliverReply {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("user", req.User, "session", req.SessionID, "rcpt", req.RcptTo)
	d := &delivery{o: o, req: req, log: log}
	return d.run(ctx, msg)
}

// delivery is one recipient's delivery.
type delivery struct {
	o   Options
	req *proto.Deliver
	log *slog.Logger

	header []byte
	body   *io.SectionReader
	// edited is set when the filter replaced the header (editheader):
	// header is then the whole header section and body the body.
	edited bool
	stored []string // mailboxes a copy went to
}

func (d *delivery) reply(code uint32, enhanced, msg string) *proto.DeliverReply {
	return &proto.DeliverReply{Seq: d.req.Seq, Code: code, Enhanced: enhanced, Message: msg}
}

func (d *delivery) internal() *proto.DeliverReply {
	return d.reply(451, "4.3.0", "Temporary internal failure")
}

func (d *delivery) saved() *proto.DeliverReply {
	if d.req.SessionID != "" {
		return d.reply(250, "2.0.0", d.req.SessionID+" Saved")
	}
	return d.reply(250, "2.0.0", "Saved")
}

func (d *delivery) run(ctx context.Context, msg *os.File) *proto.DeliverReply {
	if d.o.Store == nil {
		d.log.Error("delivery without a store")
		return d.internal()
	}
	if err := checkSpool(msg, int64(d.req.Size)); err != nil {
		d.log.Error("refusing message descriptor", "err", err)
		return d.internal()
	}
	d.header = d.headers()
	d.body = io.NewSectionReader(msg, 0, int64(d.req.Size))
	def := d.defaultMailbox()

	acts := Actions{Keep: true}
	if d.o.Filter != nil {
		a, err := d.o.Filter.Filter(ctx, FilterEnv{
			User: d.req.User, MailFrom: d.req.MailFrom, RcptTo: d.req.RcptTo, Detail: d.req.Detail,
			Mailbox: def, Message: d.message(), Size: d.size(), MailboxExists: d.exists, Log: d.log,
		})
		if err != nil {
			d.log.Warn("filter failed, keeping the message", "err", err)
		} else {
			acts = a
			d.editHeader(a.Header, a.BodyOffset)
		}
	}
	if !acts.Keep && len(acts.FileInto) == 0 && len(acts.Redirect) == 0 && acts.Reject == "" && !acts.Discard {
		acts.Keep = true // nothing at all is an implicit keep
	}
	delivered := false
	if acts.Done != nil {
		defer func() { acts.Done(ctx, delivered) }()
	}
	if acts.Reject != "" {
		if acts.Ereject || d.o.RejectWithReply {
			d.log.Info("rejected by filter", "reason", acts.Reject)
			return d.reply(550, "5.7.1", oneLine(acts.Reject))
		}
		if err := d.reject(ctx, acts.Reject); err != nil {
			d.log.Warn("rejection message not sent, keeping the message", "reason", acts.Reject, "err", err)
			acts = Actions{Keep: true, Done: acts.Done}
		} else {
			delivered = true
			return d.saved()
		}
	}
	for _, to := range acts.Redirect {
		if err := d.redirect(ctx, to); err != nil {
			d.log.Warn("redirect failed, keeping the message", "to", to, "err", err)
			acts.Keep = true
		} else {
			d.log.Info("redirected", "to", to)
		}
	}
	targets := acts.FileInto
	if acts.Keep {
		targets = append([]FileInto{{Mailbox: def, Flags: acts.KeepFlags}}, targets...)
	}
	if len(targets) == 0 {
		d.log.Info("discarded by filter")
		delivered = true
		d.send(ctx, acts.Messages)
		return d.saved()
	}
	var firstErr error
	for _, t := range merge(targets) {
		if err := d.store(t); err != nil {
			d.log.Error("store failed", "mailbox", t.Mailbox, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if len(d.stored) == 0 {
		return d.storeError(firstErr)
	}
	if firstErr != nil {
		// A copy is durable: answering 4xx would make the MTA send it
		// again into the mailboxes that have it.
		d.log.Warn("delivered to some mailboxes only", "mailboxes", d.stored)
	}
	d.log.Info("saved", "mailboxes", d.stored, "size", d.size())
	delivered = true
	d.send(ctx, acts.Messages)
	return d.saved()
}

// editHeader makes header (a whole header section, RFC 5293) the
// header of every copy stored or redirected from now on; the body is
// what follows bodyOff in the message the filter saw.
func (d *delivery) editHeader(header []byte, bodyOff int64) {
	if header == nil {
		return
	}
	size := d.size()
	if bodyOff < 0 || bodyOff > size || !strings.HasSuffix(string(header), "\r\n\r\n") && string(header) != "\r\n" {
		d.log.Error("filter returned an edited header that does not fit the message; header edits ignored", "body_offset", bodyOff, "size", size)
		return
	}
	d.body = io.NewSectionReader(d.message(), bodyOff, size-bodyOff)
	d.header = header
	d.edited = true
}

// send sends the filter's messages once the delivery succeeded; a
// failure is logged only, the delivery stands.
func (d *delivery) send(ctx context.Context, msgs []Outgoing) {
	for _, m := range msgs {
		if d.o.Sender == nil {
			d.log.Warn("no sendmail_path or submission_host: message not sent", "kind", m.Kind, "to", m.To)
			continue
		}
		if err := d.o.Sender.Send(ctx, m.From, m.To, strings.NewReader(string(m.Data))); err != nil {
			d.log.Warn("sending failed", "kind", m.Kind, "to", m.To, "err", err)
			continue
		}
		d.log.Info("sent", "kind", m.Kind, "to", m.To)
	}
}

// headers are the per-recipient fields: Return-Path (RFC 5321 section
// 4.4) and Delivered-To, the latter only when the recipient is the
// transaction's only one (lmtp_hdr_delivery_address acts as "none"
// otherwise, as in Dovecot).
func (d *delivery) headers() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", oneLine(d.req.MailFrom))
	if d.o.HdrDeliveryAddress != "none" && !d.req.Shared {
		fmt.Fprintf(&b, "Delivered-To: %s\r\n", oneLine(d.req.RcptTo))
	}
	return []byte(b.String())
}

func (d *delivery) size() int64 { return int64(len(d.header)) + d.body.Size() }

// message is the message as stored.
func (d *delivery) message() *io.SectionReader {
	return io.NewSectionReader(prefixReaderAt{d.header, d.body}, 0, d.size())
}

// defaultMailbox is where keep stores: the detail mailbox when the lmtp
// process asked for one and it exists (or may be created), else INBOX.
func (d *delivery) defaultMailbox() string {
	mb := d.req.Mailbox
	if mb == "" || strings.EqualFold(mb, "INBOX") {
		return "INBOX"
	}
	if d.exists(mb) {
		return mb
	}
	if d.o.Autocreate && d.create(mb) == nil {
		return mb
	}
	d.log.Info("detail mailbox does not exist, using INBOX", "mailbox", mb)
	return "INBOX"
}

func (d *delivery) exists(name string) bool {
	if strings.EqualFold(name, "INBOX") {
		return true
	}
	_, err := d.o.Store.Status(name)
	return err == nil
}

func (d *delivery) create(name string) error {
	err := d.o.Store.Create(name, nil)
	if errors.Is(err, storage.ErrMailboxExists) {
		return nil
	}
	if err != nil {
		d.log.Warn("create mailbox", "mailbox", name, "err", err)
		return err
	}
	d.log.Info("mailbox created", "mailbox", name)
	if d.o.Autosubscribe {
		if err := d.o.Store.SetSubscribed(name, true); err != nil {
			d.log.Warn("subscribe mailbox", "mailbox", name, "err", err)
		}
	}
	return nil
}

// store saves one copy into t.Mailbox, or into INBOX when that mailbox
// is missing (and may not be created) or refuses the name.
func (d *delivery) store(t FileInto) error {
	name := t.Mailbox
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	if name != "INBOX" && !d.exists(name) {
		if !(t.Create || d.o.Autocreate) || d.create(name) != nil {
			d.log.Info("mailbox does not exist, using INBOX", "mailbox", name)
			name = "INBOX"
		}
	}
	if d.has(name) {
		return nil // a fallback to a mailbox that has its copy
	}
	_, _, err := d.o.Store.Append(name, d.message(), storage.AppendOptions{Flags: t.Flags})
	if name != "INBOX" && (errors.Is(err, storage.ErrNoSuchMailbox) || errors.Is(err, storage.ErrInvalidName) || errors.Is(err, storage.ErrReadOnly)) {
		d.log.Info("cannot save to mailbox, using INBOX", "mailbox", name, "err", err)
		name = "INBOX"
		if d.has(name) {
			return nil
		}
		_, _, err = d.o.Store.Append(name, d.message(), storage.AppendOptions{Flags: t.Flags})
	}
	if err != nil {
		return err
	}
	d.stored = append(d.stored, name)
	return nil
}

func (d *delivery) has(name string) bool {
	for _, s := range d.stored {
		if s == name {
			return true
		}
	}
	return false
}

// redirect sends the message on, with Delivered-To but without our
// Return-Path (a field of final delivery only, RFC 5321 section 4.4).
func (d *delivery) redirect(ctx context.Context, to string) error {
	if d.o.Sender == nil {
		return errors.New("no sendmail_path or submission_host to redirect through")
	}
	var hdr []byte
	switch {
	case d.edited:
		// The header the user's script left (RFC 5293), Delivered-To
		// included, Return-Path not.
		hdr = withoutField(d.header, "Return-Path")
	case d.o.HdrDeliveryAddress != "none":
		hdr = fmt.Appendf(nil, "Delivered-To: %s\r\n", oneLine(d.req.RcptTo))
	}
	body := io.NewSectionReader(d.body, 0, d.body.Size())
	return d.o.Sender.Send(ctx, d.req.MailFrom, []string{to}, io.MultiReader(strings.NewReader(string(hdr)), body))
}

// storeError maps a storage failure to the recipient's reply (RFC 3463).
func (d *delivery) storeError(err error) *proto.DeliverReply {
	switch {
	case errors.Is(err, storage.ErrOverQuota):
		if d.o.QuotaFullTempfail {
			return d.reply(452, "4.2.2", "Quota exceeded (mailbox for user is full)")
		}
		return d.reply(552, "5.2.2", "Quota exceeded (mailbox for user is full)")
	case errors.Is(err, storage.ErrTooBig):
		return d.reply(552, "5.2.3", "Message too large for mailbox")
	case errors.Is(err, syscall.ENOSPC):
		return d.reply(452, "4.3.1", "Insufficient system storage")
	case errors.Is(err, storage.ErrTemporary):
		return d.reply(451, "4.2.0", "Temporary failure storing the message")
	}
	return d.internal()
}

// merge folds targets naming the same mailbox into one copy with the
// union of their flags (RFC 5228 section 2.10.3: a message is filed into a
// mailbox at most once).
func merge(targets []FileInto) []FileInto {
	var out []FileInto
	idx := map[string]int{}
	for _, t := range targets {
		key := t.Mailbox
		if strings.EqualFold(key, "INBOX") {
			key = "INBOX"
		}
		if i, ok := idx[key]; ok {
			for _, f := range t.Flags {
				if !containsFold(out[i].Flags, f) {
					out[i].Flags = append(out[i].Flags, f)
				}
			}
			out[i].Create = out[i].Create || t.Create
			continue
		}
		idx[key] = len(out)
		t.Flags = append([]string(nil), t.Flags...)
		out = append(out, t)
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// oneLine drops line breaks and other control characters from text that
// goes into a header field or a reply.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// checkSpool checks that the message descriptor is what the lmtp process
// promised: a regular file of size bytes that nobody can change any more
// (a memfd sealed against writes and resizes, or read-only).
func checkSpool(f *os.File, size int64) error {
	if f == nil {
		return errors.New("no descriptor")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if err := unix.Fstat(int(fd), &st); err != nil {
			cerr = fmt.Errorf("fstat: %w", err)
			return
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			cerr = fmt.Errorf("not a regular file (mode %o)", st.Mode)
			return
		}
		if st.Size != size {
			cerr = fmt.Errorf("size %d, announced %d", st.Size, size)
			return
		}
		const need = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK
		if seals, err := unix.FcntlInt(fd, unix.F_GET_SEALS, 0); err == nil && seals&need == need {
			return
		}
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			cerr = fmt.Errorf("fcntl: %w", err)
			return
		}
		if fl&unix.O_ACCMODE != unix.O_RDONLY {
			cerr = errors.New("descriptor is writable and not sealed")
		}
	})
	if err != nil {
		return err
	}
	return cerr
}

// withoutField returns a header section without the fields called name
// (and their continuation lines).
func withoutField(header []byte, name string) []byte {
	var out []byte
	skip := false
	for line := range strings.Lines(string(header)) {
		if line[0] != ' ' && line[0] != '\t' {
			n, _, ok := strings.Cut(line, ":")
			skip = ok && strings.EqualFold(strings.TrimRight(n, " \t"), name)
		}
		if !skip {
			out = append(out, line...)
		}
	}
	return out
}

// prefixReaderAt reads prefix followed by rest.
type prefixReaderAt struct {
	prefix []byte
	rest   io.ReaderAt
}

func (p prefixReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(p.prefix)) {
		n = copy(b, p.prefix[off:])
		if n == len(b) {
			return n, nil
		}
		off = int64(len(p.prefix))
	}
	m, err := p.rest.ReadAt(b[n:], off-int64(len(p.prefix)))
	return n + m, err
}
