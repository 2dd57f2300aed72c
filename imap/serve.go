package imap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"cote/metrics"
	"cote/storage"
)

// Options configure one post-login session.
type Options struct {
	Store storage.Store
	User  string
	// Tag is the tag of the login command the session answers with
	// "<tag> OK [CAPABILITY ...] Logged in". Empty sends no tagged reply.
	Tag string
	// SendCapability sends "* CAPABILITY ..." first and a plain
	// "<tag> OK Logged in", for clients that asked for it pre-login.
	SendCapability bool
	// Leftover holds bytes the client sent after the login command
	// (pipelined); they are processed before anything read from conn.
	Leftover []byte
	Log      *slog.Logger
	// MaxLineLength bounds a command line; longer lines get "BAD line too
	// long". Default DefaultMaxLineLength.
	MaxLineLength int
	// MaxLiteral bounds an APPEND literal (APPENDLIMIT, RFC 7889).
	// Default DefaultMaxLiteral.
	MaxLiteral int64
	// IdleNotify is the interval of "* OK Still here" during IDLE
	// (imap_idle_notify_interval); 0 means 2 minutes, negative disables.
	IdleNotify time.Duration
	// Secured says the connection is TLS or loopback.
	Secured bool
	// LiteralMinus advertises LITERAL- instead of LITERAL+ (RFC 7888,
	// Dovecot's imap_literal_minus): non-synchronising literals over
	// 4096 bytes are refused.
	LiteralMinus bool
	// NoCompress hides COMPRESS=DEFLATE (RFC 4978).
	NoCompress bool
	// AutoMailboxes are created (and subscribed when asked) at login
	// when missing, as Dovecot's namespace "mailbox { auto = ... }"
	// blocks do; nil means DefaultAutoMailboxes. NoAutoMailboxes turns
	// the feature off.
	AutoMailboxes   []AutoMailbox
	NoAutoMailboxes bool
	// SpecialUse gives mailboxes by name the RFC 6154 attributes LIST
	// shows when the mailbox has none of its own (Dovecot's
	// "mailbox NAME { special_use = \Sent }" without auto).
	SpecialUse map[string][]string
	// HibernateAfter is imap_hibernate_timeout: a session in IDLE this
	// long with nothing to send is handed to Hibernate. 0 disables.
	HibernateAfter time.Duration
	// Hibernate takes the session out of the process (see hibernate.go):
	// it hands the connection, state (to give to Resume) and notify (a
	// descriptor that becomes readable when the selected mailbox may
	// have changed) to imap-hibernate. It closes notify in every case.
	// On success Serve returns ErrHibernated without writing another
	// byte; on error the session stays in IDLE.
	Hibernate func(state []byte, notify *os.File) error
	// Unauthenticate gives the connection back to a login process after
	// UNAUTHENTICATE (RFC 8437; unauthenticate.go), with the bytes the
	// client sent past the command. nil does not offer the command. On
	// success Serve returns ErrUnauthenticated.
	Unauthenticate func(leftover []byte) error
	// Metrics observes imap_command_seconds{command} per command; nil
	// counts nothing.
	Metrics *metrics.Registry
	// URLAuthFetch fetches a URLAUTH-authorized URL that another user
	// owns (URLFETCH, RFC 4467 section 7.3; see urlauth.go): it runs
	// FetchURLAuth on that user's store. nil makes such URLs fetch NIL.
	URLAuthFetch func(ctx context.Context, req URLAuthRequest) (URLAuthResult, error)
}

// Timeouts of a session.
const (
	// autologoutTimeout is RFC 3501 section 5.4's minimum: 30 minutes.
	autologoutTimeout = 30 * time.Minute
	// outputTimeout bounds a blocked write (Dovecot: 5 minutes).
	outputTimeout = 5 * time.Minute
	// maxBadCommands closes a session that sends this many BAD commands
	// in a row (Dovecot: 20).
	maxBadCommands = 20
	// defaultIdleNotify is imap_idle_notify_interval's default.
	defaultIdleNotify = 2 * time.Minute
)

func (o *Options) setDefaults() {
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.MaxLiteral <= 0 {
		o.MaxLiteral = DefaultMaxLiteral
	}
	if o.IdleNotify == 0 {
		o.IdleNotify = defaultIdleNotify
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// session is one client's post-login state. Everything but the fields
// under mu belongs to the goroutine running Serve.
type session struct {
	o    Options
	ctx  context.Context
	conn net.Conn
	log  *slog.Logger
	cr   *commandReader
	w    *bufio.Writer
	// heldSince is when output was first held back for a pipelined
	// command (pipelined); zero after a flush.
	heldSince time.Time

	mu       sync.Mutex // guards shutdown
	shutdown bool       // ctx is done: reads are being interrupted

	mbox storage.Mailbox // selected mailbox, nil when not selected
	view *view           // the client's view of mbox
	bad  int             // consecutive BAD responses
	mode modes           // what the client enabled
	// fw compresses output after COMPRESS DEFLATE (RFC 4978); nil before.
	fw *flate.Writer
	// readers counts goroutines reading the connection besides Serve's
	// (IDLE's DONE reader); Serve waits for them after closing conn.
	readers sync.WaitGroup
	// hibernated is set once Options.Hibernate took the connection.
	hibernated bool
	// notify is what NOTIFY SET asked for (notify.go); nil for NOTIFY
	// NONE.
	notify *notifyState
	// unauthenticated is set by UNAUTHENTICATE: the session ends by
	// handing the connection to Options.Unauthenticate.
	unauthenticated bool
	// pre is Options.Leftover, which the command reader reads first.
	pre *bytes.Reader
	// listRE is the last LIST pattern compiled (cmd_list.go): clients
	// repeat the same LIST, and compiling it was most of LIST's CPU.
	listRE struct {
		key string
		re  *regexp.Regexp
	}
}

// command is one parsed command head with the rest of its arguments.
type command struct {
	tag  string
	name string // upper case, without "UID "
	uid  bool
	p    *parser
	// okCode and okText override the tagged OK.
	okCode, okText string
	// logout ends the session after the tagged reply.
	logout bool
	// abort ends the session without a tagged reply (the connection
	// is gone or the server shuts down).
	abort bool
	// okModSeq puts [HIGHESTMODSEQ n] in the tagged OK, computed after
	// the command's mailbox sync (RFC 7162 section 3.2.10).
	okModSeq bool
	// after runs once the tagged reply is flushed (COMPRESS).
	after func() error
}

// modes are the extensions a client enabled (RFC 5161) or turned on by
// using them (RFC 7162 section 3.1 "CONDSTORE enabling commands").
type modes struct {
	condstore bool // MODSEQ in untagged FETCH, HIGHESTMODSEQ
	qresync   bool // VANISHED instead of EXPUNGE
	utf8      bool // UTF8=ACCEPT: mailbox names and strings in UTF-8
	rev2      bool // IMAP4rev2: no \Recent, ESEARCH for SEARCH
}

func (c *command) ok(code, text string) { c.okCode, c.okText = code, text }

// Serve runs one post-login session on conn until the client logs out or
// disconnects, or ctx is done (server shutdown: the client gets "* BYE
// Server shutting down"). It closes conn before it returns.
func Serve(ctx context.Context, conn net.Conn, o Options) (err error) {
	return serve(ctx, conn, o, (*session).run)
}

// serve runs a session with body: run for a new session, resume for one
// back from hibernation.
func serve(ctx context.Context, conn net.Conn, o Options, body func(*session) error) (err error) {
	o.setDefaults()
	s := &session{
		o:    o,
		ctx:  ctx,
		conn: conn,
		log:  o.Log.With("user", o.User),
		w:    bufio.NewWriterSize(conn, 32*1024),
	}
	var in io.Reader = conn
	if len(o.Leftover) > 0 {
		s.pre = bytes.NewReader(o.Leftover)
		in = io.MultiReader(s.pre, conn)
	}
	s.cr = &commandReader{
		src:          in,
		r:            newCommandBuffer(in, o.MaxLineLength),
		maxLine:      o.MaxLineLength,
		maxLiteral:   o.MaxLiteral,
		literalMinus: o.LiteralMinus,
		continuation: func() error {
			s.writeLine("+ Ready for literal data")
			return s.flush()
		},
	}
	defer func() {
		s.stopNotify()
		if s.mbox != nil {
			s.mbox.Close()
		}
		conn.Close()
		s.readers.Wait()
	}()
	stop := context.AfterFunc(ctx, s.interrupt)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in IMAP session", "panic", r, "stack", string(debug.Stack()))
			s.writeLine("* BYE " + internalErrorText)
			s.flush()
			err = fmt.Errorf("imap session panic: %v", r)
		}
	}()
	return body(s)
}

// interrupt makes a blocked read return, for shutdown.
func (s *session) interrupt() {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.conn.SetReadDeadline(time.Now())
}

// armRead sets the read deadline for the next read unless shutting down.
func (s *session) armRead(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conn.SetReadDeadline(time.Now().Add(d))
	return true
}

func (s *session) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

func (s *session) run() error {
	s.autoCreate()
	s.greet()
	if err := s.flush(); err != nil {
		return err
	}
	return s.loop()
}

// loop reads and executes commands until the session ends.
func (s *session) loop() error {
	for {
		if !s.armRead(autologoutTimeout) {
			return s.bye("Server shutting down.")
		}
		s.notifyWait()
		buf, err := s.cr.readCommand()
		if err != nil {
			done, rerr := s.readFailed(buf, err)
			if done {
				return rerr
			}
		} else if s.execute(buf) {
			if s.hibernated {
				return ErrHibernated
			}
			if s.unauthenticated {
				return s.handBack()
			}
			return s.flush()
		}
		if !s.pipelined() {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if s.bad >= maxBadCommands {
			return s.bye("Too many invalid IMAP commands.")
		}
	}
}

// pipelineMax is how much output the session holds back while the
// client's next command is already in hand, and pipelineWait for how
// long.
const (
	pipelineMax  = 16 << 10
	pipelineWait = 20 * time.Millisecond
)

// pipelined reports whether the responses written so far can wait for
// the next command's: the client sent it already (its line is buffered),
// it is one that answers from memory without waiting for a disk
// (quickCommand), and they are less than pipelineMax and pipelineWait
// old. A client that pipelines gets the responses to a run of such
// commands in one write rather than one a command, as Dovecot's corked
// output does; a response never waits behind a save, a flag change or
// an expunge, whose fsyncs and index commits would hold it (and the
// client's next commands) back. A command that makes the client wait
// for the server (a synchronising literal's continuation, IDLE)
// flushes what was held back with its own.
func (s *session) pipelined() bool {
	if s.w.Buffered() >= pipelineMax {
		return false
	}
	line := s.cr.nextLine()
	if line == nil {
		return false
	}
	p := &parser{b: line}
	if _, name, _ := p.commandHead(); p.err != nil || !quickCommand(name) {
		return false
	}
	now := time.Now()
	if s.heldSince.IsZero() {
		s.heldSince = now
	}
	return now.Sub(s.heldSince) < pipelineWait
}

// quickCommand reports whether a command (its name, after any UID) is
// one output may be held back for (pipelined).
func quickCommand(name string) bool {
	switch name {
	case "NOOP", "CHECK", "CAPABILITY", "NAMESPACE", "LIST", "LSUB", "STATUS", "FETCH":
		return true
	}
	return false
}

// greet answers the login command (the login process sent the greeting
// and read LOGIN/AUTHENTICATE; RFC 3501 section 6.2.3).
func (s *session) greet() {
	caps := strings.Join(Capabilities(s.o), " ")
	if s.o.SendCapability {
		s.writeLine("* CAPABILITY " + caps)
		if s.o.Tag != "" {
			s.writeLine(s.o.Tag + " OK Logged in")
		}
		return
	}
	if s.o.Tag != "" {
		s.writeLine(s.o.Tag + " OK [CAPABILITY " + caps + "] Logged in")
	}
}

// readFailed handles a read error; done reports the session's end.
func (s *session) readFailed(head []byte, err error) (done bool, _ error) {
	if s.shuttingDown() {
		return true, s.bye("Server shutting down.")
	}
	var le *literalError
	switch {
	case errors.Is(err, errLineTooLong):
		s.bad++
		s.writeLine(headTag(head) + " BAD Line too long.")
		return false, nil
	case errors.As(err, &le):
		if le.nonSync {
			s.writeLine(headTag(le.head) + " BAD " + capitalize(le.msg) + ".")
			return true, s.bye("Non-synchronizing literal too large, closing.")
		}
		if le.tooBig {
			s.writeLine(headTag(le.head) + " NO [TOOBIG] " + capitalize(le.msg) + ".")
		} else {
			s.bad++
			s.writeLine(headTag(le.head) + " BAD " + capitalize(le.msg) + ".")
		}
		return false, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		s.log.Debug("client disconnected")
		return true, nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true, s.bye("Disconnected for inactivity.")
	}
	s.log.Debug("read failed", "err", err)
	return true, nil
}

// headTag returns the tag of a partly read command, or "*".
func headTag(head []byte) string {
	p := &parser{b: head}
	tag := p.tag()
	if p.err != nil || !p.trySP() {
		return "*"
	}
	return tag
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// bye sends an untagged BYE and ends the session. A client that is
// already gone does not make the session fail.
func (s *session) bye(text string) error {
	s.writeLine("* BYE " + text)
	if err := s.flush(); err != nil {
		s.log.Debug("send BYE", "err", err)
	}
	return nil
}

// execute runs one command; it reports whether the session ends.
func (s *session) execute(buf []byte) (logout bool) {
	p := &parser{b: buf, utf8: s.mode.utf8 || s.mode.rev2}
	tag, name, uid := p.commandHead()
	if p.err != nil {
		s.bad++
		switch {
		case errors.Is(p.err, errEmptyCommand):
			s.writeLine("* BAD Empty command.")
		case tag == "":
			s.writeLine("* BAD Invalid tag.")
		default:
			s.writeLine(tag + " BAD Invalid command.")
		}
		return false
	}
	c := &command{tag: tag, name: name, uid: uid, p: p}
	if s.mbox != nil {
		switch name {
		case "FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE", "SORT", "THREAD":
			// Start from fresh flags and messages; EXPUNGE
			// responses would renumber the client's sequence set.
			s.sync(uid || name == "EXPUNGE")
		}
	}
	start := time.Now()
	s.notifyBefore(c)
	err := s.dispatch(c)
	s.notifyAfter(c)
	s.o.Metrics.Histogram("imap_command_seconds", metrics.DefaultBuckets, "command", metricName(c)).Since(start)
	return s.complete(c, err)
}

// metricName is a command's label in imap_command_seconds: the known
// commands by name ("UID FETCH" for the UID forms), anything else as
// "unknown" so clients cannot grow the label set.
func metricName(c *command) string {
	t, ok := commandTexts[c.name]
	switch {
	case !ok, c.uid && t.uidMetric == "":
		return "unknown"
	case c.uid:
		return t.uidMetric
	}
	return t.metric
}

// complete answers a command its handler ran (or, after a resume, the
// IDLE the session was in); it reports whether the session ends.
func (s *session) complete(c *command, err error) (logout bool) {
	name, tag := c.name, c.tag
	if c.abort {
		return true
	}
	if s.mbox != nil && !c.logout {
		// RFC 3501 section 7.4.1: no EXPUNGE while answering FETCH,
		// STORE or SEARCH (the UID forms may send them).
		s.sync(c.uid || !noExpungeResponses(name))
	}
	if err != nil {
		r := mapError(err, s.log, name)
		if r.kind == "BAD" {
			s.bad++
		} else {
			s.bad = 0
		}
		s.writeTagged(tag, r)
		return c.logout
	}
	s.bad = 0
	text := c.okText
	if text == "" {
		text = completedText(c)
	}
	code := c.okCode
	if c.okModSeq && code == "" && s.mode.condstore && s.view != nil {
		code = "HIGHESTMODSEQ " + strconv.FormatUint(s.view.highestModSeq, 10)
	}
	s.writeTagged(tag, response{"OK", code, text})
	if c.after != nil {
		if err := c.after(); err != nil {
			s.log.Debug("after command", "command", name, "err", err)
			return true
		}
	}
	return c.logout
}

// noExpungeResponses reports commands during which EXPUNGE responses
// are not allowed (RFC 9051 section 7.5.1), unless given as UID commands.
func noExpungeResponses(name string) bool {
	switch name {
	case "FETCH", "STORE", "SEARCH", "SORT", "THREAD":
		return true
	}
	return false
}

// plainCommands are the commands known by name without a UID form,
// uidCommands those with one.
var (
	plainCommands = []string{"CAPABILITY", "NOOP", "LOGOUT", "ID", "ENABLE", "LIST", "LSUB", "NAMESPACE",
		"CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "APPEND",
		"SELECT", "EXAMINE", "CHECK", "CLOSE", "UNSELECT", "IDLE",
		"GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "COMPRESS", "LOGIN", "AUTHENTICATE", "STARTTLS",
		"UNAUTHENTICATE", "NOTIFY", "CANCELUPDATE"}
	uidCommands = []string{"EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "SORT", "THREAD"}
)

// commandText is what a known command's metric label and OK text are,
// in its plain and UID forms ("" where it has none).
type commandText struct{ metric, uidMetric, completed, uidCompleted string }

// commandTexts holds the known commands' texts, made once: every
// command is counted and answered, and making them each time cost an
// allocation or two.
var commandTexts = func() map[string]commandText {
	m := make(map[string]commandText)
	for _, name := range plainCommands {
		m[name] = commandText{metric: name, completed: commandName(&command{name: name}) + " completed."}
	}
	for _, name := range uidCommands {
		m[name] = commandText{
			metric: name, uidMetric: "UID " + name,
			completed:    commandName(&command{name: name}) + " completed.",
			uidCompleted: commandName(&command{name: name, uid: true}) + " completed.",
		}
	}
	return m
}()

// completedText is a command's OK text.
func completedText(c *command) string {
	t := commandTexts[c.name]
	text := t.completed
	if c.uid {
		text = t.uidCompleted
	}
	if text != "" {
		return text
	}
	return commandName(c) + " completed."
}

func commandName(c *command) string {
	n := c.name[:1] + strings.ToLower(c.name[1:])
	if c.uid {
		return "UID " + n
	}
	return n
}

func (s *session) writeTagged(tag string, r response) {
	// Piece by piece into the buffered writer: every command ends here.
	s.w.WriteString(tag)
	s.w.WriteByte(' ')
	s.w.WriteString(r.kind)
	s.w.WriteByte(' ')
	if r.code != "" {
		s.w.WriteByte('[')
		s.w.WriteString(r.code)
		s.w.WriteString("] ")
	}
	s.writeLine(r.text)
}

// dispatch runs a command's handler. Handlers for the selected state are
// refused when no mailbox is selected (RFC 3501 section 3.3).
func (s *session) dispatch(c *command) error {
	if c.uid {
		switch c.name {
		case "FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE", "SORT", "THREAD":
		default:
			return errBad("Unknown UID command %s.", truncate(c.name, 20))
		}
	}
	switch c.name {
	case "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE",
		"SORT", "THREAD":
		if s.mbox == nil {
			return errBad("No mailbox selected.")
		}
	}
	switch c.name {
	case "CAPABILITY":
		return s.cmdCapability(c)
	case "NOOP":
		return s.cmdNoop(c)
	case "LOGOUT":
		return s.cmdLogout(c)
	case "ID":
		return s.cmdID(c)
	case "ENABLE":
		return s.cmdEnable(c)
	case "LIST":
		return s.cmdList(c)
	case "LSUB":
		return s.cmdLsub(c)
	case "NAMESPACE":
		return s.cmdNamespace(c)
	case "CREATE":
		return s.cmdCreate(c)
	case "DELETE":
		return s.cmdDelete(c)
	case "RENAME":
		return s.cmdRename(c)
	case "SUBSCRIBE", "UNSUBSCRIBE":
		return s.cmdSubscribe(c)
	case "STATUS":
		return s.cmdStatus(c)
	case "APPEND":
		return s.cmdAppend(c)
	case "SELECT", "EXAMINE":
		return s.cmdSelect(c)
	case "CHECK":
		return s.cmdNoop(c)
	case "CLOSE", "UNSELECT":
		return s.cmdClose(c)
	case "EXPUNGE":
		return s.cmdExpunge(c)
	case "SEARCH":
		return s.cmdSearch(c)
	case "FETCH":
		return s.cmdFetch(c)
	case "STORE":
		return s.cmdStore(c)
	case "COPY", "MOVE":
		return s.cmdCopy(c)
	case "IDLE":
		return s.cmdIdle(c)
	case "SORT":
		return s.cmdSort(c)
	case "THREAD":
		return s.cmdThread(c)
	case "GETQUOTA", "GETQUOTAROOT", "SETQUOTA":
		if !quotaSupported(s.o.Store) {
			break
		}
		return s.cmdQuota(c)
	case "COMPRESS":
		if s.o.NoCompress {
			break
		}
		return s.cmdCompress(c)
	case "NOTIFY":
		return s.cmdNotify(c)
	case "CANCELUPDATE":
		return s.cmdCancelUpdate(c)
	case "UNAUTHENTICATE":
		if s.o.Unauthenticate == nil {
			break
		}
		return s.cmdUnauthenticate(c)
	case "GENURLAUTH", "RESETKEY", "URLFETCH":
		if urlAuthStore(s.o.Store) == nil {
			break
		}
		return s.cmdURLAuth(c)
	case "LOGIN", "AUTHENTICATE":
		return errBad("Already logged in.")
	case "STARTTLS":
		return errBad("TLS is already active or not available after login.")
	}
	return errBad("Unknown command %s.", truncate(c.name, 20))
}

// writeLine writes one response line; write errors show at flush.
func (s *session) writeLine(line string) {
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
}

// writeEnc writes a response built with enc.
func (s *session) writeEnc(e *enc) {
	at := 0
	for _, r := range e.refs {
		s.w.Write(e.b[at:r.at])
		s.w.Write(r.b)
		at = r.at
	}
	s.w.Write(e.b[at:])
	s.w.WriteString("\r\n")
}

func (s *session) flush() error {
	s.heldSince = time.Time{}
	s.conn.SetWriteDeadline(time.Now().Add(outputTimeout))
	if err := s.w.Flush(); err != nil {
		return err
	}
	if s.fw != nil {
		return s.fw.Flush()
	}
	return nil
}

// untagged starts an untagged response.
func untagged() *enc { return &enc{b: []byte("* ")} }

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func i64(n int64) string { return strconv.FormatInt(n, 10) }
