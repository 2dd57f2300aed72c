// Package managesievelogin is the ManageSieve half of the
// managesieve-login process: the greeting and the commands allowed
// before authentication, up to the handoff of an authenticated client to
// its worker (package login does the rest: listeners, TLS, auth, the
// handoff itself). The session after login is package
// cote/sieve/managesieve, in the user's worker.
//
// RFC 5804 (ManageSieve), non-authenticated state:
//   - section 1.8: the capability response, sent as the greeting and
//     for CAPABILITY (section 2.4): IMPLEMENTATION, SIEVE, NOTIFY, SASL,
//     STARTTLS, MAXREDIRECTS, VERSION;
//   - section 1.3: OK/NO/BYE responses with response codes;
//   - section 2.1: AUTHENTICATE, with an initial response and with
//     challenges and responses as quoted strings or literals;
//   - section 2.2: STARTTLS, after which the capabilities are sent
//     again;
//   - section 2.3: LOGOUT; section 2.13: NOOP with its TAG response
//     code;
//   - section 4: the string syntax (quoted strings and literals).
//
// This package does not link the Sieve engine (login processes link no
// sieve code): the SIEVE capability comes in Options. After a
// successful handoff it writes nothing more to the client: the worker
// answers AUTHENTICATE with OK "Logged in.".
package managesievelogin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"

	"cote/login"
)

// Options configure the ManageSieve login protocol.
type Options struct {
	// Greeting is the text of the OK after the capabilities; "cote
	// ready." if empty (login_greeting).
	Greeting string
	// Implementation is the IMPLEMENTATION capability; "cote" if empty
	// (managesieve_implementation_string).
	Implementation string
	// Sieve is the SIEVE capability: the enabled Sieve extensions,
	// space-separated. The caller computes it (sieve.ExtensionSet's
	// Capability, or managesieve_sieve_capability).
	Sieve string
	// Notify is the NOTIFY capability (managesieve_notify_capability).
	// Empty means "mailto" when Sieve lists enotify, and no NOTIFY
	// capability otherwise.
	Notify string
	// MaxRedirects is the MAXREDIRECTS capability (sieve_max_redirects);
	// 0 leaves it out.
	MaxRedirects int
}

// New returns the ManageSieve login protocol.
func New(o Options) login.Protocol {
	if o.Greeting == "" {
		o.Greeting = "cote ready."
	}
	if o.Implementation == "" {
		o.Implementation = "cote"
	}
	if o.Notify == "" && hasWord(o.Sieve, "enotify") {
		o.Notify = "mailto"
	}
	return &protocol{o: o}
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if f == w {
			return true
		}
	}
	return false
}

type protocol struct{ o Options }

// Name is the service name: "sieve", as Dovecot's managesieve-login
// calls itself to auth and as the worker dispatches on.
func (*protocol) Name() string { return "sieve" }

// maxBadCommands invalid commands end the connection (Dovecot's limit
// before login).
const maxBadCommands = 3

// session is one client's non-authenticated state.
type session struct {
	o   *Options
	c   *login.Client
	ctx context.Context
	r   reader
	bad int
}

// Serve sends the greeting (RFC 5804 section 1.8: the capabilities, then
// OK) and runs the command loop until LOGOUT, a fatal error or the
// handoff.
func (pr *protocol) Serve(ctx context.Context, c *login.Client) error {
	s := &session{o: &pr.o, c: c, ctx: ctx, r: reader{r: c.Reader()}}
	// A session back from its worker after UNAUTHENTICATE (RFC 5804
	// section 2.14.1) had its greeting.
	if !c.Reattached() {
		s.capability()
		s.ok("", pr.o.Greeting)
		if err := c.Flush(); err != nil {
			return err
		}
	}
	for {
		done, err := s.step()
		if done || err != nil {
			return err
		}
		if !completeLineBuffered(c.Reader()) {
			if err := c.Flush(); err != nil {
				return err
			}
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

// step reads and runs one command. done means the client is gone,
// logged out or handed off.
func (s *session) step() (done bool, err error) {
	cmd, err := s.r.readCommand()
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return s.badCommand("Error in MANAGESIEVE command: " + se.msg + ".")
		}
		return true, s.readFailed(err)
	}
	defer cmd.wipe()
	switch cmd.name {
	case "CAPABILITY":
		// RFC 5804 section 2.4
		if len(cmd.args) != 0 {
			return s.badCommand("CAPABILITY takes no arguments.")
		}
		s.capability()
		s.ok("", "Capability completed.")
		return false, nil
	case "STARTTLS":
		if len(cmd.args) != 0 {
			return s.badCommand("STARTTLS takes no arguments.")
		}
		return s.cmdStartTLS()
	case "AUTHENTICATE":
		return s.cmdAuthenticate(cmd)
	case "NOOP":
		return s.cmdNoop(cmd)
	case "LOGOUT":
		// RFC 5804 section 2.3
		s.ok("", "Logout completed.")
		return true, s.c.Flush()
	case "HAVESPACE", "PUTSCRIPT", "CHECKSCRIPT", "LISTSCRIPTS", "SETACTIVE",
		"GETSCRIPT", "DELETESCRIPT", "RENAMESCRIPT", "UNAUTHENTICATE":
		return s.badCommand("Authenticate first.")
	}
	return s.badCommand("Unknown command.")
}

// badCommand answers an invalid command and ends the connection after
// maxBadCommands.
func (s *session) badCommand(text string) (bool, error) {
	s.no("", text)
	s.bad++
	if s.bad >= maxBadCommands {
		s.bye("", "Too many invalid commands.")
		s.c.Flush()
		return true, errors.New("too many invalid commands")
	}
	return false, nil
}

// readFailed ends the connection after a read error, saying why when
// the client can still hear it.
func (s *session) readFailed(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.bye("", "Disconnected for inactivity.")
	case errors.Is(err, errLineTooLong):
		s.bye("", "Command too long.")
	case errors.Is(err, errLiteralTooLarge):
		s.bye("", "Literal too large (at most "+strconv.Itoa(MaxCommand)+" bytes before login).")
	default:
		return err
	}
	s.c.Flush()
	return err
}

// RFC 5804 section 1.3: OK, NO and BYE with an optional response code
// and a human-readable string.
func (s *session) respond(kind, code, text string) {
	w := s.c.Writer()
	w.WriteString(kind)
	if code != "" {
		w.WriteString(" (")
		w.WriteString(code)
		w.WriteString(")")
	}
	if text != "" {
		w.WriteString(" ")
		w.WriteString(quote(text))
	}
	w.WriteString("\r\n")
}

func (s *session) ok(code, text string)  { s.respond("OK", code, text) }
func (s *session) no(code, text string)  { s.respond("NO", code, text) }
func (s *session) bye(code, text string) { s.respond("BYE", code, text) }

// capabilities returns the capability lines of the non-authenticated
// state (RFC 5804 section 1.8), in Pigeonhole's order.
func (s *session) capabilities() [][2]string {
	var mechs []string
	for _, m := range s.c.Mechanisms() {
		mechs = append(mechs, m.Name)
	}
	caps := [][2]string{
		{"IMPLEMENTATION", s.o.Implementation},
		{"SIEVE", s.o.Sieve},
	}
	if s.o.Notify != "" {
		caps = append(caps, [2]string{"NOTIFY", s.o.Notify})
	}
	// Mechanisms not usable now (plaintext ones on an insecure
	// connection when plaintext auth is disabled) are left out; the
	// list may then be empty, which section 1.8 allows when STARTTLS is
	// offered.
	caps = append(caps, [2]string{"SASL", strings.Join(mechs, " ")})
	if s.c.CanStartTLS() {
		caps = append(caps, [2]string{"STARTTLS"})
	}
	if s.o.MaxRedirects > 0 {
		caps = append(caps, [2]string{"MAXREDIRECTS", strconv.Itoa(s.o.MaxRedirects)})
	}
	return append(caps, [2]string{"VERSION", "1.0"})
}

// capability writes the capability lines (without the final OK).
func (s *session) capability() {
	w := s.c.Writer()
	for _, c := range s.capabilities() {
		w.WriteString(quote(c[0]))
		if c[0] != "STARTTLS" {
			w.WriteString(" ")
			w.WriteString(quote(c[1]))
		}
		w.WriteString("\r\n")
	}
}

// RFC 5804 section 2.2. Whatever the client pipelined after STARTTLS is
// discarded by Client.StartTLS; after the handshake the server sends
// its capabilities again, which now include the mechanisms TLS allows
// and no STARTTLS.
func (s *session) cmdStartTLS() (bool, error) {
	switch {
	case s.c.TLS():
		s.no("", "TLS is already active.")
		return false, nil
	case !s.c.CanStartTLS():
		s.no("", "TLS support isn't enabled.")
		return false, nil
	}
	s.ok("", "Begin TLS negotiation now.")
	if err := s.c.StartTLS(s.ctx); err != nil {
		return true, err
	}
	s.capability()
	s.ok("", "TLS negotiation successful.")
	return false, nil
}

// RFC 5804 section 2.13: NOOP [tag]; the tag comes back in the TAG
// response code, so that a client can resynchronise.
func (s *session) cmdNoop(cmd command) (bool, error) {
	switch {
	case len(cmd.args) == 0:
		s.ok("", "NOOP completed.")
	case len(cmd.args) == 1 && !cmd.args[0].atom:
		s.ok("TAG "+quote(string(cmd.args[0].s)), "Done")
	default:
		return s.badCommand("NOOP takes one optional string.")
	}
	return false, nil
}
