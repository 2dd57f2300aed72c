// Package pop3 is the POP3 engine of the user's worker: the TRANSACTION
// and UPDATE states of a session whose client pop3-login authenticated
// and handed over.
//
// RFCs implemented:
//   - RFC 1939 POP3: STAT (5), LIST (5), RETR (5), DELE (5), NOOP (5),
//     RSET (5), QUIT in the UPDATE state (6), TOP (7), UIDL (7). APOP,
//     USER and PASS belong to pop3-login.
//   - RFC 2449 CAPA, with the TOP, UIDL, RESP-CODES, PIPELINING,
//     LOGIN-DELAY, EXPIRE and IMPLEMENTATION tags.
//   - RFC 2449 section 8 and RFC 3206 response codes: [IN-USE],
//     [SYS/TEMP], [SYS/PERM].
//
// The maildrop is INBOX. Its messages are numbered at login in
// ascending UID order, and that list does not change for the session:
// new mail shows up in the next one. DELE only marks; the marks are
// carried out at QUIT in one store operation, and a session that ends
// any other way deletes nothing. UIDLs follow Dovecot's
// pop3_uidl_format, so clients that keep mail on the server do not
// download it again after a migration. docs/pop3.md describes the same
// for administrators.
package pop3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"cote/storage"
)

// Options configure one post-login POP3 session.
type Options struct {
	Store storage.Store
	User  string
	// Leftover holds the bytes the client sent after its login command
	// (pipelined); they are processed before anything read from conn.
	Leftover []byte
	Log      *slog.Logger
	// UIDLFormat is pop3_uidl_format; "" means DefaultUIDLFormat.
	UIDLFormat string
	// UIDLDuplicates is pop3_uidl_duplicates: "allow" (the default, "")
	// or "rename", which appends -2, -3, ... to repeated UIDLs.
	UIDLDuplicates string
	// ReuseXUIDL is pop3_reuse_xuidl: a message's X-UIDL header field,
	// when it holds a valid UIDL, is its UIDL.
	ReuseXUIDL bool
	// NoFlagUpdates is pop3_no_flag_updates: RETR does not set \Seen.
	NoFlagUpdates bool
	// DeleteType is pop3_delete_type: "expunge" removes DELE'd messages
	// at QUIT, "flag" adds DeletedFlag to them instead. "" and "default"
	// mean "flag" when DeletedFlag is set, else "expunge" (Dovecot's
	// rule).
	DeleteType string
	// DeletedFlag is pop3_deleted_flag: the keyword "flag" deletion
	// sets. Messages carrying it are hidden from POP3 sessions.
	DeletedFlag string
	// Lock, when set, allows one POP3 session per user at a time; a
	// second one gets -ERR [IN-USE] instead of "+OK Logged in.".
	Lock MaildropLocker
	// LoginDelay and Expire are announced in CAPA (RFC 2449 sections
	// 6.5 and 6.7) when set. Expire is a number of days or "NEVER" and is
	// not enforced. LoginDelay is enforced when LoginStamp names a file
	// (in the user's home) whose modification time records the last
	// login: a login sooner than LoginDelay after it gets -ERR
	// [LOGIN-DELAY] (RFC 3206 section 4 extends RFC 2449's code).
	LoginDelay time.Duration
	LoginStamp string
	Expire     string
}

// ErrLoginDelay is returned when a login came sooner than LoginDelay
// after the previous one.
var ErrLoginDelay = errors.New("pop3: login delay not expired")

// Timeouts and limits of a session.
const (
	// autologoutTimeout is RFC 1939 section 3's minimum of ten minutes
	// (Dovecot's too).
	autologoutTimeout = 10 * time.Minute
	// outputTimeout bounds one blocked write to the client.
	outputTimeout = 5 * time.Minute
	// maxBadCommands ends a session that sends this many bad commands in
	// a row (Dovecot's CLIENT_MAX_BAD_COMMANDS for pop3).
	maxBadCommands = 20
)

// Fixed texts. Detail goes to the log, never to the client.
const (
	textInternal = "[SYS/TEMP] Internal error occurred. Refer to server log for more information."
	textInUse    = "[IN-USE] Mailbox is locked by another POP3 session."
	textShutdown = "[SYS/TEMP] Server shutting down."
)

// ErrInUse is what Serve returns when another POP3 session holds the
// user's maildrop.
var ErrInUse = errors.New("pop3: maildrop in use by another session")

func (o *Options) setDefaults() error {
	if o.UIDLFormat == "" {
		o.UIDLFormat = DefaultUIDLFormat
	}
	switch o.DeleteType {
	case "", "default":
		o.DeleteType = "expunge"
		if o.DeletedFlag != "" {
			o.DeleteType = "flag"
		}
	case "expunge":
	case "flag":
		if o.DeletedFlag == "" {
			return errors.New("pop3_delete_type=flag needs pop3_deleted_flag")
		}
	default:
		return fmt.Errorf("invalid pop3_delete_type %q", o.DeleteType)
	}
	switch o.UIDLDuplicates {
	case "", "allow", "rename":
	default:
		return fmt.Errorf("invalid pop3_uidl_duplicates %q", o.UIDLDuplicates)
	}
	if o.Store == nil {
		return errors.New("pop3: Options.Store is nil")
	}
	return nil
}

// session is one client's TRANSACTION state. Everything but the fields
// under mu belongs to the goroutine running Serve.
type session struct {
	o    Options
	ctx  context.Context
	conn net.Conn
	log  *slog.Logger
	r    *bufio.Reader
	w    *bufio.Writer

	mu       sync.Mutex // guards shutdown
	shutdown bool       // ctx is done: reads are being interrupted

	mbox        storage.Mailbox
	uidValidity uint32
	// msgs is the maildrop as of login, ascending by UID; message
	// number n is msgs[n-1].
	msgs     []storage.Message
	sizes    []int64 // the size LIST reports, per message
	deleted  []bool  // marked by DELE
	nDeleted int
	delSize  int64
	total    int64
	seen     []bool // RETR'd messages without \Seen, to flag
	uidls    []string
	bad      int
	lastGone int    // highest message number found expunged on RETR/TOP
	copyBuf  []byte // RETR's copy buffer, kept for the session's RETRs
	// unlock releases the maildrop lock (once); nil without one.
	unlock func()
}

// Serve runs one post-login POP3 session on conn: it takes the maildrop
// lock, answers the login with "+OK Logged in.", and serves commands
// until QUIT, a disconnect, or ctx's end (server shutdown: the client
// gets -ERR [SYS/TEMP] and nothing is deleted). It closes conn before it
// returns.
func Serve(ctx context.Context, conn net.Conn, o Options) (err error) {
	defer conn.Close()
	s := &session{
		ctx:  ctx,
		conn: conn,
		w:    bufio.NewWriterSize(deadlineWriter{conn}, 32<<10),
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s.log = o.Log
	if err := o.setDefaults(); err != nil {
		s.log.Error("pop3 session not started", "err", err)
		s.reply("-ERR " + textInternal)
		s.w.Flush()
		return err
	}
	s.o = o
	var in io.Reader = conn
	if len(o.Leftover) > 0 {
		in = io.MultiReader(bytes.NewReader(o.Leftover), conn)
	}
	s.r = bufio.NewReaderSize(in, MaxLine+2)

	if o.Lock != nil {
		unlock, ok := o.Lock.TryLock(o.User)
		if !ok {
			s.reply("-ERR " + textInUse)
			s.w.Flush()
			return ErrInUse
		}
		s.unlock = sync.OnceFunc(unlock)
		defer s.unlock()
	}
	if o.LoginDelay > 0 && o.LoginStamp != "" {
		now := time.Now()
		if st, err := os.Stat(o.LoginStamp); err == nil && now.Sub(st.ModTime()) < o.LoginDelay {
			s.reply("-ERR [LOGIN-DELAY] Login delay not yet expired.")
			s.w.Flush()
			return ErrLoginDelay
		}
		if f, err := os.OpenFile(o.LoginStamp, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
			os.Chtimes(o.LoginStamp, now, now)
		}
	}
	if err := s.open(); err != nil {
		s.log.Error("open maildrop", "err", err)
		s.reply("-ERR " + textInternal)
		s.w.Flush()
		return err
	}
	defer s.mbox.Close()
	stop := context.AfterFunc(ctx, s.interrupt)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in POP3 session", "panic", r, "stack", string(debug.Stack()))
			s.reply("-ERR " + textInternal)
			s.w.Flush()
			err = fmt.Errorf("pop3 session panic: %v", r)
		}
	}()
	// A session that ends without QUIT deletes nothing, but the \Seen
	// flags of what was retrieved are kept (as Dovecot does).
	defer s.flagSeen()
	s.reply("+OK Logged in.")
	return s.run()
}

// open opens INBOX and numbers its messages.
func (s *session) open() error {
	mb, err := s.o.Store.Open("INBOX", false)
	if err != nil {
		return fmt.Errorf("open INBOX: %w", err)
	}
	st, err := mb.Status()
	if err != nil {
		mb.Close()
		return fmt.Errorf("status of INBOX: %w", err)
	}
	s.mbox = mb
	s.uidValidity = st.UIDValidity
	for _, m := range mb.Messages() {
		if s.o.DeletedFlag != "" && hasFlag(m.Flags, s.o.DeletedFlag) {
			continue // deleted by an earlier session with "flag" deletion
		}
		s.msgs = append(s.msgs, m)
		s.sizes = append(s.sizes, m.Size)
		s.total += m.Size
	}
	s.deleted = make([]bool, len(s.msgs))
	s.seen = make([]bool, len(s.msgs))
	return nil
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if len(x) == len(f) && equalFoldASCII(x, f) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// interrupt makes a blocked read return, for shutdown.
func (s *session) interrupt() {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.conn.SetReadDeadline(time.Now())
}

func (s *session) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// armRead sets the read deadline for the next command unless shutting
// down.
func (s *session) armRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conn.SetReadDeadline(time.Now().Add(autologoutTimeout))
	return true
}

// run is the command loop. Replies are flushed when no pipelined command
// is waiting (RFC 2449 section 6.6).
func (s *session) run() error {
	for {
		if s.r.Buffered() == 0 {
			if err := s.w.Flush(); err != nil {
				return err
			}
		}
		if !s.armRead() {
			return s.fatal(textShutdown)
		}
		line, err := readLine(s.r, MaxLine)
		switch {
		case errors.Is(err, errLineTooLong):
			s.reply("-ERR Input line too long.")
			if s.badCommand() {
				return s.fatal("Too many bad commands.")
			}
			continue
		case err != nil:
			return s.readFailed(err)
		}
		cmd, err := parseCommand(line)
		if err != nil {
			if len(bytes.TrimSpace(line)) == 0 {
				s.reply("-ERR Empty command.")
			} else {
				s.reply("-ERR Invalid command.")
			}
			if s.badCommand() {
				return s.fatal("Too many bad commands.")
			}
			continue
		}
		done, ok, err := s.execute(cmd)
		if err != nil || done {
			if ferr := s.w.Flush(); err == nil {
				err = ferr
			}
			return err
		}
		if ok {
			s.bad = 0
		} else if s.badCommand() {
			return s.fatal("Too many bad commands.")
		}
	}
}

// badCommand counts a failed command and reports whether the session
// must end.
func (s *session) badCommand() bool {
	s.bad++
	return s.bad >= maxBadCommands
}

// fatal ends the session with an -ERR line.
func (s *session) fatal(text string) error {
	s.reply("-ERR " + text)
	s.w.Flush()
	return errors.New("pop3: " + text)
}

// readFailed ends the session after a read error.
func (s *session) readFailed(err error) error {
	if s.shuttingDown() {
		return s.fatal(textShutdown)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.fatal("Disconnected for inactivity.")
		return err
	}
	if errors.Is(err, io.EOF) {
		return nil // the client went away; nothing is deleted
	}
	return err
}

// reply writes one response line.
func (s *session) reply(line string) {
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
}

// deadlineWriter bounds every write to the client by outputTimeout, so a
// client that stops reading cannot hold the session, while a long RETR
// that makes progress is not cut off.
type deadlineWriter struct{ c net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(outputTimeout))
	return d.c.Write(p)
}
