package lmtp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"cote/proto"
)

// lookupTimeout bounds one userdb lookup at RCPT.
const lookupTimeout = 30 * time.Second

// Replies of our own. go-smtp prefixes each DATA reply with "<rcpt> ";
// RCPT replies carry the address in the text, as Dovecot's do.
var (
	errInternal = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary internal failure"}
	errClosing  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Server shutting down"}
)

// recipient is one accepted RCPT TO.
type recipient struct {
	addr   string // as go-smtp parsed it: the key for its reply
	rcpt   string // as the client sent it (addr without a bare stand-in domain)
	a      address
	user   string // canonical user from the userdb
	fields []string
}

// session is one LMTP connection (from LHLO on).
type session struct {
	s  *Server
	c  *smtp.Conn
	tc *trackedConn // nil if the connection is not ours (tests)
	// bare is the stand-in domain of RCPT TO:<user> (see bareRcpt); ""
	// when the connection has none.
	bare string
	id   string
	log  *slog.Logger

	mu   sync.Mutex // guards the transaction below; Logout may run concurrently with LMTPData
	from string
	// declaredSize is MAIL FROM's SIZE parameter, 0 when none.
	declaredSize int64
	utf8         bool
	rcpts        []*recipient
	reserved     []string // users counted against UserConcurrencyLimit

	// users caches the session's successful userdb lookups for
	// userCacheTTL, so that an MTA that sends one connection many
	// messages for the same recipients (a list's fan-out, a busy
	// mailbox) does not ask auth again for each. Only Rcpt uses it, one
	// command at a time.
	users map[string]cachedUser
}

// userCacheTTL is how long a session trusts a userdb answer.
const userCacheTTL = 30 * time.Second

type cachedUser struct {
	user   string
	fields []string
	at     time.Time
}

func (s *Server) newSession(c *smtp.Conn) *session {
	tc, _ := c.Conn().(*trackedConn)
	id := newID()
	log := s.log().With("session", id)
	if ra := c.Conn().RemoteAddr(); ra != nil && ra.String() != "" && ra.String() != "@" {
		log = log.With("remote", ra.String())
	}
	ss := &session{s: s, c: c, tc: tc, id: id, log: log}
	if tc != nil && tc.bare != nil {
		ss.bare = tc.bare.domain()
	}
	return ss
}

// newID is a session or transaction id, as in Dovecot's logs and Received
// fields.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// Reset ends the transaction (RSET, after DATA, a new LHLO).
func (ss *session) Reset() {
	ss.mu.Lock()
	reserved := ss.reserved
	ss.from, ss.utf8, ss.rcpts, ss.reserved = "", false, nil, nil
	ss.mu.Unlock()
	for _, u := range reserved {
		ss.s.release(u)
	}
}

// Logout ends the session.
func (ss *session) Logout() error {
	ss.Reset()
	return nil
}

// Mail starts a transaction. RFC 2033 section 4.1 with RFC 5321 section
// 4.1.1.2.
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.Reset()
	ss.mu.Lock()
	ss.from = from
	ss.utf8 = opts != nil && opts.UTF8
	ss.declaredSize = 0
	if opts != nil {
		ss.declaredSize = opts.Size
	}
	ss.mu.Unlock()
	return nil
}

// Rcpt resolves a recipient. RFC 2033 section 4.2: unlike SMTP, an LMTP
// server must check the recipient now, so that DATA has one reply per
// accepted RCPT.
//
// A recipient without a domain (RFC 2033 allows <user>, as RFC 5321
// section 4.1.1.3 does <Postmaster>) reaches here with bareRcpt's
// stand-in domain; it is looked up as "user", and auth_username_format
// decides what the userdb sees, as for any other.
func (ss *session) Rcpt(addr string, _ *smtp.RcptOptions) error {
	s := ss.s
	a := splitAddress(addr, s.RecipientDelimiter)
	to := addr
	if ss.bare != "" && a.HasDomain && a.Domain == ss.bare {
		a.Domain, a.HasDomain = "", false
		to = strings.TrimSuffix(addr, "@"+ss.bare)
	}
	ctx, cancel := context.WithTimeout(s.base, lookupTimeout)
	defer cancel()
	user, fields, err := ss.lookup(ctx, a.Username())
	switch {
	case errors.Is(err, ErrUnknownUser):
		ss.log.Info("recipient refused: unknown user", "rcpt", to, "lookup", a.Username())
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + "> User doesn't exist"}
	case err != nil:
		ss.log.Error("userdb lookup failed", "rcpt", to, "lookup", a.Username(), "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "<" + to + "> Temporary internal failure"}
	}
	// lmtp_rcpt_check_quota: refuse now a recipient whose quota the
	// message (of the size MAIL FROM declared, if any) would exceed.
	if s.CheckQuota != nil {
		ss.mu.Lock()
		size := ss.declaredSize
		ss.mu.Unlock()
		over, err := s.CheckQuota(ctx, user, size)
		if err != nil {
			ss.log.Warn("quota check at RCPT failed; checking at delivery", "rcpt", to, "err", err)
		} else if over {
			ss.log.Info("recipient refused: over quota", "rcpt", to, "user", user)
			if s.QuotaFullTempfail {
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "<" + to + "> Quota exceeded (mailbox for user is full)"}
			}
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "<" + to + "> Quota exceeded (mailbox for user is full)"}
		}
	}
	if !s.reserve(user) {
		ss.log.Warn("recipient deferred: lmtp_user_concurrency_limit reached", "rcpt", to, "user", user, "limit", s.UserConcurrencyLimit)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "<" + to + "> Too many concurrent deliveries for user"}
	}
	ss.mu.Lock()
	ss.rcpts = append(ss.rcpts, &recipient{addr: addr, rcpt: to, a: a, user: user, fields: fields})
	ss.reserved = append(ss.reserved, user)
	ss.mu.Unlock()
	return nil
}

// lookup asks the userdb, or the session's cache of its answers.
func (ss *session) lookup(ctx context.Context, name string) (string, []string, error) {
	now := time.Now()
	if c, ok := ss.users[name]; ok && now.Sub(c.at) < userCacheTTL {
		return c.user, c.fields, nil
	}
	user, fields, err := ss.s.Userdb.Lookup(ctx, name)
	if err != nil {
		delete(ss.users, name)
		return user, fields, err
	}
	if ss.users == nil {
		ss.users = map[string]cachedUser{}
	}
	if len(ss.users) >= maxCachedUsers {
		clear(ss.users)
	}
	ss.users[name] = cachedUser{user: user, fields: fields, at: now}
	return user, fields, nil
}

// maxCachedUsers bounds a session's cache of userdb answers.
const maxCachedUsers = 1000

// Data is not used: go-smtp calls LMTPData in LMTP mode.
func (ss *session) Data(r io.Reader) error {
	return errors.New("lmtp: Data called in LMTP mode")
}

// LMTPData receives the message and delivers it to every recipient.
// RFC 2033 section 4.2: one reply per successful RCPT, in RCPT order;
// RFC 3030 for BDAT, which go-smtp turns into the same reader.
func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	s := ss.s
	if !s.begin() {
		return errClosing
	}
	defer s.active.Done()
	if ss.tc != nil {
		ss.tc.setBusy(true)
		defer ss.tc.setBusy(false)
	}
	ss.mu.Lock()
	from, utf8 := ss.from, ss.utf8
	rcpts := append([]*recipient(nil), ss.rcpts...)
	ss.mu.Unlock()
	txid := newID()
	log := ss.log.With("txid", txid)

	sp, err := s.spools.newSpool(s.TempDir)
	if err != nil {
		log.Error("spool", "err", err)
		return errInternal
	}
	if !s.NoReceivedHeader {
		sp.Write([]byte(ss.received(txid, from, rcpts, utf8)))
	}
	if err := sp.readFrom(r); err != nil {
		sp.discard()
		var we errSpoolWrite
		if errors.As(err, &we) {
			log.Error("spool", "err", err)
			return errInternal
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			log.Info("message refused", "reply", se.Code, "err", se.Message)
		} else {
			log.Info("message not received", "err", err)
		}
		return err
	}
	size := sp.size
	msg, err := sp.seal()
	if err != nil {
		log.Error("spool", "err", err)
		return errInternal
	}
	defer msg.Close()

	results := ss.deliverAll(log, msg, size, from, txid, rcpts)
	for i, rc := range rcpts {
		status.SetStatus(rc.addr, <-results[i])
	}
	return nil
}

// deliverAll starts each recipient's delivery, at most
// DeliveryConcurrency at a time, and returns a channel per recipient
// that receives its reply.
func (ss *session) deliverAll(log *slog.Logger, msg *os.File, size int64, from, txid string, rcpts []*recipient) []chan error {
	s := ss.s
	conc := s.DeliveryConcurrency
	if conc <= 0 {
		conc = DefaultDeliveryConcurrency
	}
	timeout := s.DeliverTimeout
	if timeout <= 0 {
		timeout = DefaultDeliverTimeout
	}
	remote := ""
	if ra := ss.c.Conn().RemoteAddr(); ra != nil {
		remote = ra.String()
	}
	sem := make(chan struct{}, conc)
	results := make([]chan error, len(rcpts))
	for i, rc := range rcpts {
		results[i] = make(chan error, 1)
		d := &proto.Deliver{
			User:       rc.user,
			Fields:     rc.fields,
			MailFrom:   from,
			RcptTo:     rc.rcpt,
			Detail:     rc.a.Detail,
			Size:       uint64(size),
			RemoteAddr: remote,
			SessionID:  txid,
			Shared:     len(rcpts) > 1,
		}
		if s.SaveToDetailMailbox && rc.a.Detail != "" {
			d.Mailbox = rc.a.Detail
		}
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(s.base, timeout)
			defer cancel()
			start := time.Now()
			reply, err := s.Deliverer.Deliver(ctx, d, msg)
			res := replyError(reply, err)
			// A stored copy is logged once, by the worker that stored
			// it ("saved", with the mailboxes), as Dovecot logs one line
			// per delivery; here only at the debug level.
			level, msg := slog.LevelDebug, "delivered"
			if res.Code >= 400 {
				level, msg = slog.LevelInfo, "not delivered"
			}
			switch {
			case err != nil:
				log.Error("delivery failed", "rcpt", rc.rcpt, "user", rc.user, "err", err)
			case log.Enabled(s.base, level):
				log.Log(s.base, level, msg, "rcpt", rc.rcpt, "user", rc.user, "reply", fmt.Sprintf("%d %s %s", res.Code, enhanced(res.EnhancedCode), res.Message), "duration", time.Since(start).Round(time.Millisecond))
			}
			results[i] <- res
		}()
	}
	return results
}

// replyError turns a worker's answer into the recipient's reply. The
// worker runs as the recipient and is not trusted with the wire: the code
// must be 2xx, 4xx or 5xx, the enhanced code of the same class, and the
// text one line.
func replyError(r *proto.DeliverReply, err error) *smtp.SMTPError {
	if err != nil || r == nil {
		return errInternal
	}
	c := int(r.Code)
	if c < 200 || c > 599 || c/100 == 3 {
		return errInternal
	}
	ec, ok := parseEnhanced(r.Enhanced)
	if !ok || ec[0] != c/100 {
		ec = smtp.EnhancedCode{c / 100, 0, 0}
	}
	msg := sanitizeText(r.Message, 400)
	if msg == "" {
		switch c / 100 {
		case 2:
			msg = "Saved"
		case 4:
			msg = "Temporary failure"
		default:
			msg = "Delivery failed"
		}
	}
	return &smtp.SMTPError{Code: c, EnhancedCode: ec, Message: msg}
}

// parseEnhanced parses an RFC 3463 status code "class.subject.detail".
func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return smtp.EnhancedCode{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return smtp.EnhancedCode{}, false
		}
		ec[i] = n
	}
	if ec[0] != 2 && ec[0] != 4 && ec[0] != 5 {
		return smtp.EnhancedCode{}, false
	}
	return ec, true
}

func enhanced(ec smtp.EnhancedCode) string {
	return fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
}

// sanitizeText keeps printable text of at most max bytes on one line.
func sanitizeText(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			r = ' '
		}
		if b.Len()+len(string(r)) > max {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// received is the Received trace field (RFC 5321 section 4.4), in
// Dovecot's layout; "for" only when there is one recipient, so that one
// recipient's address does not show in another's copy.
func (ss *session) received(txid, from string, rcpts []*recipient, utf8 bool) string {
	helo := sanitizeText(ss.c.Hostname(), 255)
	var b strings.Builder
	b.WriteString("Received: from ")
	if helo == "" {
		helo = "unknown"
	}
	b.WriteString(helo)
	if ra, ok := ss.c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		fmt.Fprintf(&b, " ([%s])", ra.IP)
	}
	with := "LMTP"
	if utf8 {
		with = "UTF8LMTP"
	}
	fmt.Fprintf(&b, "\r\n\tby %s with %s\r\n\tid %s\r\n", sanitizeText(ss.s.Hostname, 255), with, txid)
	fmt.Fprintf(&b, "\t(envelope-from <%s>)", sanitizeText(from, 512))
	if len(rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitizeText(rcpts[0].rcpt, 512))
	}
	fmt.Fprintf(&b, "; %s\r\n", time.Now().Format(time.RFC1123Z))
	return b.String()
}
