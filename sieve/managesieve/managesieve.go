// Package managesieve is the ManageSieve engine of the user's worker:
// the authenticated state of a session whose client managesieve-login
// authenticated and handed over. It manages the user's scripts in a
// sieve/script Store and checks every uploaded script with the Sieve
// compiler the delivery uses.
//
// RFC 5804 (ManageSieve), authenticated state:
//   - section 1.3: OK/NO/BYE with the response codes NONEXISTENT,
//     ALREADYEXISTS, ACTIVE, QUOTA, QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE,
//     WARNINGS, TAG and TRYLATER;
//   - section 1.8: capabilities (IMPLEMENTATION, SIEVE, NOTIFY, VERSION,
//     MAXREDIRECTS, OWNER); section 2.4 CAPABILITY;
//   - section 2.1: the OK that ends a successful AUTHENTICATE, sent here
//     as the first response;
//   - sections 2.3 LOGOUT, 2.5 HAVESPACE, 2.6 PUTSCRIPT, 2.7
//     LISTSCRIPTS, 2.8 SETACTIVE, 2.9 GETSCRIPT, 2.10 DELETESCRIPT, 2.11
//     RENAMESCRIPT, 2.12 CHECKSCRIPT, 2.13 NOOP;
//   - section 2.14.1 UNAUTHENTICATE: the connection goes back to
//     managesieve-login through Options.Unauthenticate (without it the
//     command is not offered and gets NO);
//   - section 4: strings (quoted and literal) and numbers.
//
// docs/managesieve.md describes the same for administrators.
package managesieve

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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cote/sieve"
	"cote/sieve/script"
)

// Options configure one post-login ManageSieve session.
type Options struct {
	// Store holds the user's scripts; when nil, script.New(Home) is
	// used (cote's layout without quota).
	Store *script.Store
	Home  string
	// User is the logged-in user, announced as OWNER.
	User string
	// Leftover holds the bytes the client sent after its AUTHENTICATE
	// (pipelined); they are processed before anything read from conn.
	Leftover []byte
	Log      *slog.Logger
	// Unauthenticate gives the connection back to managesieve-login
	// after UNAUTHENTICATE (RFC 5804 section 2.14.1; unauthenticate.go),
	// with the bytes the client sent past the command. nil does not
	// offer the command. On success Serve returns ErrUnauthenticated.
	Unauthenticate func(leftover []byte) error
	// Extensions are the Sieve extensions scripts may use; nil means
	// sieve.DefaultExtensions().
	Extensions sieve.ExtensionSet
	// Limits are the compile limits; Limits.MaxScriptSize (default 1
	// MiB) also bounds an upload.
	Limits sieve.Limits
	// GlobalDir is sieve_global, where ":global" includes are looked up
	// when a script is checked.
	GlobalDir string
	// MaxRedirects is the MAXREDIRECTS capability; 0 means
	// Limits.MaxRedirects, or 4.
	MaxRedirects int
	// Implementation is the IMPLEMENTATION capability; "" means "cote".
	Implementation string
	// SieveCapability replaces the SIEVE capability
	// (managesieve_sieve_capability); "" means Extensions.Capability().
	SieveCapability string
	// NotifyCapability replaces the NOTIFY capability; "" means "mailto"
	// when enotify is enabled.
	NotifyCapability string
	// MaxLine is managesieve_max_line_length: the bytes of a command
	// outside its literals; 0 means DefaultMaxLine.
	MaxLine int
}

// Timeouts and limits of a session.
const (
	// idleTimeout ends a session that sends nothing (Dovecot's 30
	// minutes for authenticated clients).
	idleTimeout = 30 * time.Minute
	// outputTimeout bounds one blocked write to the client.
	outputTimeout = 5 * time.Minute
	// maxBadCommands ends a session that sends this many bad commands in
	// a row.
	maxBadCommands = 20
	// defaultMaxScriptSize is sieve.Limits' default MaxScriptSize.
	defaultMaxScriptSize = 1 << 20
)

// Fixed texts. Detail goes to the log, never to the client.
const (
	textInternal = "Internal error occurred. Refer to server log for more information."
	textShutdown = "Server shutting down."
)

// Unavailable is the response a worker writes on a handed-over
// ManageSieve connection when it cannot start the session (the login
// counterpart of IMAP's NO [UNAVAILABLE]).
const Unavailable = `NO (TRYLATER) "` + textInternal + `"` + "\r\n"

// session is one client's authenticated state. Everything but the
// fields under mu belongs to the goroutine running Serve.
type session struct {
	o      Options
	ctx    context.Context
	conn   net.Conn
	log    *slog.Logger
	store  *script.Store
	r      reader
	w      *bufio.Writer
	in     countingReader
	out    countingWriter
	bad    int  // invalid commands in a row
	wasBad bool // the command being run was invalid
	// pre is Options.Leftover, which r reads first.
	pre *bytes.Reader
	// unauthenticated is set by UNAUTHENTICATE: the session ends by
	// handing the connection to Options.Unauthenticate.
	unauthenticated bool

	mu       sync.Mutex // guards shutdown
	shutdown bool       // ctx is done: reads are being interrupted
}

// Serve runs one post-login ManageSieve session on conn: it answers the
// login with OK "Logged in." (RFC 5804 section 2.1) and serves commands
// until LOGOUT, a disconnect, or ctx's end (server shutdown: the client
// gets BYE (TRYLATER)). It closes conn before it returns.
func Serve(ctx context.Context, conn net.Conn, o Options) (err error) {
	defer conn.Close()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &session{ctx: ctx, conn: conn, log: o.Log}
	s.out = countingWriter{w: deadlineWriter{conn}}
	s.w = bufio.NewWriterSize(&s.out, 32<<10)
	s.store = o.Store
	if s.store == nil {
		if o.Home == "" {
			s.log.Error("managesieve session not started: no home directory and no script store")
			s.respond("NO", "TRYLATER", textInternal)
			s.w.Flush()
			return errors.New("managesieve: Options needs Store or Home")
		}
		s.store = script.New(o.Home)
	}
	if o.Extensions == nil {
		o.Extensions = sieve.DefaultExtensions()
	}
	if o.Implementation == "" {
		o.Implementation = "cote"
	}
	if o.SieveCapability == "" {
		o.SieveCapability = o.Extensions.Capability()
	}
	if o.NotifyCapability == "" && o.Extensions["enotify"] {
		o.NotifyCapability = "mailto"
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = o.Limits.MaxRedirects
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 4
	}
	if o.Limits.MaxScriptSize <= 0 {
		o.Limits.MaxScriptSize = defaultMaxScriptSize
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	s.o = o
	var in io.Reader = conn
	if len(o.Leftover) > 0 {
		s.pre = bytes.NewReader(o.Leftover)
		in = io.MultiReader(s.pre, conn)
	}
	s.in = countingReader{r: in}
	s.r = reader{r: bufio.NewReaderSize(&s.in, 32<<10), maxLine: o.MaxLine, maxLiteral: s.maxLiteral}

	stop := context.AfterFunc(ctx, s.interrupt)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in ManageSieve session", "panic", r, "stack", string(debug.Stack()))
			s.respond("BYE", "TRYLATER", textInternal)
			s.w.Flush()
			err = fmt.Errorf("managesieve session panic: %v", r)
		}
	}()
	defer func() {
		s.log.Info("managesieve session ended", "user", o.User, "in", s.in.n.Load(), "out", s.out.n.Load())
	}()
	s.ok("", "Logged in.")
	return s.run()
}

// maxLiteral is the largest literal a command takes: a script for
// PUTSCRIPT and CHECKSCRIPT, a line's worth for everything else.
func (s *session) maxLiteral(cmd string) int64 {
	switch cmd {
	case "PUTSCRIPT", "CHECKSCRIPT":
		return s.maxScriptSize()
	}
	return int64(s.o.MaxLine)
}

// maxScriptSize is the smaller of the compile limit and the store's
// per-script quota.
func (s *session) maxScriptSize() int64 {
	n := int64(s.o.Limits.MaxScriptSize)
	if s.store.MaxSize > 0 && s.store.MaxSize < n {
		n = s.store.MaxSize
	}
	return n
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
	s.conn.SetReadDeadline(time.Now().Add(idleTimeout))
	return true
}

// run is the command loop. Responses are flushed when no pipelined
// command is waiting.
func (s *session) run() error {
	for {
		if !completeLineBuffered(s.r.r) {
			if err := s.w.Flush(); err != nil {
				return err
			}
		}
		if !s.armRead() {
			return s.fatal("TRYLATER", textShutdown, context.Canceled)
		}
		cmd, err := s.r.readCommand()
		if err != nil {
			var se *syntaxError
			var le *literalError
			switch {
			case errors.As(err, &se):
				if s.badCommand("Error in MANAGESIEVE command: " + se.msg + ".") {
					return s.fatal("", "Too many invalid commands.", errors.New("too many invalid commands"))
				}
				continue
			case errors.As(err, &le) && le.Skipped:
				s.literalTooLarge(le)
				continue
			}
			return s.readFailed(err)
		}
		s.wasBad = false
		done, err := s.dispatch(cmd)
		if !s.wasBad {
			s.bad = 0
		} else if s.bad >= maxBadCommands {
			return s.fatal("", "Too many invalid commands.", errors.New("too many invalid commands"))
		}
		if done || err != nil {
			if ferr := s.w.Flush(); err == nil {
				err = ferr
			}
			if err == nil && s.unauthenticated {
				return s.handBack()
			}
			return err
		}
	}
}

// completeLineBuffered reports whether a whole line of pipelined input
// is waiting, so that the responses so far need not be flushed before
// the next read.
func completeLineBuffered(r *bufio.Reader) bool {
	b, _ := r.Peek(r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// literalTooLarge answers a command whose literal was over its limit
// and skipped. An oversized script is a quota matter (RFC 5804 section
// 1.3, QUOTA/MAXSIZE).
func (s *session) literalTooLarge(le *literalError) {
	switch le.Cmd {
	case "PUTSCRIPT", "CHECKSCRIPT":
		s.no("QUOTA/MAXSIZE", fmt.Sprintf("Script is too large (%d bytes, at most %d).", le.Size, le.Limit))
	default:
		s.no("", fmt.Sprintf("Literal too large (%d bytes, at most %d for %s).", le.Size, le.Limit, le.Cmd))
	}
}

// badCommand answers an invalid command; it reports whether the session
// has had too many in a row.
func (s *session) badCommand(text string) bool {
	s.no("", text)
	s.bad++
	s.wasBad = true
	return s.bad >= maxBadCommands
}

// readFailed ends the session after a read error, saying why when the
// client can still hear it.
func (s *session) readFailed(err error) error {
	var le *literalError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if s.shuttingDown() {
			return s.fatal("TRYLATER", textShutdown, context.Canceled)
		}
		return s.fatal("", "Disconnected for inactivity.", err)
	case errors.Is(err, errLineTooLong):
		return s.fatal("", "Command line too long (at most "+strconv.Itoa(s.o.MaxLine)+" bytes outside literals).", err)
	case errors.As(err, &le):
		return s.fatal("", fmt.Sprintf("Literal too large (%d bytes).", le.Size), err)
	case errors.Is(err, io.EOF):
		return nil // the client went away
	}
	return err
}

// fatal sends BYE and returns err.
func (s *session) fatal(code, text string, err error) error {
	s.respond("BYE", code, text)
	s.w.Flush()
	return err
}

// respond writes OK, NO or BYE with an optional response code and text
// (RFC 5804 section 1.3).
func (s *session) respond(kind, code, text string) {
	s.w.WriteString(kind)
	if code != "" {
		s.w.WriteString(" (")
		s.w.WriteString(code)
		s.w.WriteString(")")
	}
	if text != "" {
		s.w.WriteString(" ")
		s.w.WriteString(quote(text))
	}
	s.w.WriteString("\r\n")
}

func (s *session) ok(code, text string) { s.respond("OK", code, text) }
func (s *session) no(code, text string) { s.respond("NO", code, text) }

// deadlineWriter bounds every write to the client.
type deadlineWriter struct{ c net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(outputTimeout))
	return d.c.Write(p)
}

// countingReader and countingWriter count the session's bytes for the
// log line at its end.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
