// Package imaplogin is the IMAP half of the imap-login process: the
// greeting and the commands of the not-authenticated state, up to the
// handoff of an authenticated client to its worker (package login does
// the rest).
//
// RFCs implemented (not-authenticated state only):
//   - RFC 9051 and RFC 3501: greeting (7.1.1), CAPABILITY (6.1.1), NOOP
//     (6.1.2), LOGOUT (6.1.3), STARTTLS (6.2.1), AUTHENTICATE (6.2.2),
//     LOGIN (6.2.3), command syntax (2.2, 4.3, 9).
//   - RFC 4959 SASL-IR: the initial response of AUTHENTICATE.
//   - RFC 2221 LOGIN-REFERRALS: NO [REFERRAL url] when auth sends the
//     user to another server.
//   - RFC 8437 UNAUTHENTICATE: a session given back by its worker goes on
//     here without a new greeting (the command itself runs in the worker).
//   - RFC 7888 LITERAL+: non-synchronising literals.
//   - RFC 2971 ID.
//   - RFC 5530 response codes: AUTHENTICATIONFAILED, AUTHORIZATIONFAILED,
//     UNAVAILABLE, PRIVACYREQUIRED, EXPIRED, CANNOT.
//
// After a successful handoff this package writes nothing more to the
// client: the worker answers the LOGIN or AUTHENTICATE tag.
package imaplogin

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"

	"cote/login"
)

// Options configure the IMAP login protocol.
type Options struct {
	// Greeting is the text of the greeting; "cote ready." if empty.
	Greeting string
	// Capabilities are the pre-login capabilities before the ones that
	// depend on the connection (STARTTLS, LOGINDISABLED, AUTH=); nil
	// means DefaultCapabilities().
	Capabilities []string
	// IDName is the "name" this server gives in its ID reply; "cote" if
	// empty.
	IDName string
}

// DefaultCapabilities are advertised before login: Dovecot's banner.
// LOGIN-REFERRALS (RFC 2221) is always there, as in Dovecot: a passdb
// may send any user elsewhere (auth.go, referralText).
func DefaultCapabilities() []string {
	return []string{"IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+"}
}

// New returns the IMAP login protocol.
func New(o Options) login.Protocol {
	if o.Greeting == "" {
		o.Greeting = "cote ready."
	}
	if o.Capabilities == nil {
		o.Capabilities = DefaultCapabilities()
	}
	if o.IDName == "" {
		o.IDName = "cote"
	}
	return &protocol{o: o}
}

type protocol struct{ o Options }

func (*protocol) Name() string { return "imap" }

// maxBadCommands invalid commands end the connection (Dovecot's limit
// before login).
const maxBadCommands = 3

// session is one client's pre-auth state.
type session struct {
	o   *Options
	c   *login.Client
	ctx context.Context
	p   parser
	w   *bufio.Writer

	bad int
	// afterSTARTTLS is set for the command right after STARTTLS: a
	// CAPABILITY then is required of the client (RFC 9051 section
	// 6.2.1) and says nothing about its handling of response codes.
	afterSTARTTLS bool
	// ignoresCapCode is set when the client asked for CAPABILITY on its
	// own, a sign that it ignores the [CAPABILITY] response code: the
	// worker then sends an untagged CAPABILITY (Dovecot does the same).
	ignoresCapCode bool
}

// Serve runs the greeting and the command loop of RFC 9051 section 3.1
// (not-authenticated state).
func (pr *protocol) Serve(ctx context.Context, c *login.Client) error {
	s := &session{o: &pr.o, c: c, ctx: ctx}
	s.reset()
	// RFC 9051 section 7.1.1: the greeting is an untagged OK (we carry
	// the capabilities, as section 7.1 allows). A session back from its
	// worker after UNAUTHENTICATE (RFC 8437 section 3) had its greeting.
	if !c.Reattached() {
		s.untagged("OK [CAPABILITY " + s.capabilities() + "] " + pr.o.Greeting)
		if err := s.c.Flush(); err != nil {
			return err
		}
	}
	for {
		done, err := s.step()
		if done || err != nil {
			return err
		}
	}
}

// reset points reader and writer at the client's current connection
// (again after STARTTLS).
func (s *session) reset() {
	s.w = s.c.Writer()
	s.p = parser{r: s.c.Reader(), cont: s.continueLiteral}
}

func (s *session) continueLiteral() error {
	s.w.WriteString("+ OK\r\n")
	return s.c.Flush()
}

// step reads and runs one command. done means the client is gone or
// handed off.
func (s *session) step() (done bool, err error) {
	cmd, err := s.p.readCommand()
	var se *syntaxError
	switch {
	case errors.As(err, &se):
		return s.badCommand(se.tag, se.msg)
	case err != nil:
		return true, s.readFailed(err)
	case cmd == nil:
		return false, nil // empty line
	}
	after := s.afterSTARTTLS
	s.afterSTARTTLS = false
	done, err = s.dispatch(cmd, after)
	if err == nil && !done {
		err = s.c.Flush()
	}
	return done, err
}

func (s *session) dispatch(cmd *command, afterSTARTTLS bool) (bool, error) {
	switch cmd.name {
	case "CAPABILITY":
		return s.cmdCapability(cmd, afterSTARTTLS)
	case "NOOP":
		return s.cmdNoop(cmd)
	case "LOGOUT":
		return s.cmdLogout(cmd)
	case "ID":
		return s.cmdID(cmd)
	case "STARTTLS":
		return s.cmdStartTLS(cmd)
	case "LOGIN":
		return s.cmdLogin(cmd)
	case "AUTHENTICATE":
		return s.cmdAuthenticate(cmd)
	case "ENABLE":
		// RFC 9051 section 6.3.1, RFC 5161 section 3.1: only valid in
		// the authenticated state.
		return s.badCommand(cmd.tag, "ENABLE is only valid in the authenticated state.")
	}
	if isAuthenticatedCommand(cmd.name) {
		// RFC 9051 section 6.3 and 6.4: not valid before authentication.
		return s.badCommand(cmd.tag, "Command is not valid in the not-authenticated state.")
	}
	return s.badCommand(cmd.tag, "Unknown command.")
}

// isAuthenticatedCommand tells commands of the authenticated and
// selected states from unknown ones, only for a clearer message.
func isAuthenticatedCommand(name string) bool {
	switch name {
	case "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
		"UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE",
		"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE",
		"COPY", "MOVE", "UID", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETACL",
		"SETACL", "MYRIGHTS", "NOTIFY", "GETMETADATA", "SETMETADATA", "SORT",
		"THREAD", "COMPRESS":
		return true
	}
	return false
}

// badCommand answers BAD (tagged when the tag was readable) and ends the
// connection after maxBadCommands.
func (s *session) badCommand(tag, msg string) (bool, error) {
	if tag == "" {
		s.untagged("BAD " + msg)
	} else {
		s.tagged(tag, "BAD "+msg)
	}
	s.bad++
	if s.bad >= maxBadCommands {
		s.untagged("BYE Too many invalid IMAP commands.")
		s.c.Flush()
		return true, errors.New("too many invalid commands")
	}
	return false, s.c.Flush()
}

// readFailed ends the connection after a read error, saying why when
// the client can still hear it.
func (s *session) readFailed(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.untagged("BYE Disconnected for inactivity.")
	case errors.Is(err, errLineTooLong):
		s.untagged("BYE Too long command line.")
	case errors.Is(err, errLiteralTooLarge):
		s.untagged("BYE Literal too large.")
	default:
		return err
	}
	s.c.Flush()
	return err
}

func (s *session) untagged(text string) {
	s.w.WriteString("* ")
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

func (s *session) tagged(tag, text string) {
	s.w.WriteString(tag)
	s.w.WriteByte(' ')
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// loginAllowed reports whether the LOGIN command may be used: plaintext
// auth is allowed and PLAIN, which LOGIN runs on, is offered.
func (s *session) loginAllowed() bool {
	if !s.c.PlaintextAllowed() {
		return false
	}
	_, ok := s.c.Mechanism("PLAIN")
	return ok
}

// capabilities returns the pre-login capability list (reference section
// 6.1): the base list, STARTTLS while TLS can start, LOGINDISABLED when
// LOGIN cannot be used (RFC 9051 section 6.2.3), and AUTH= for each
// mechanism usable now.
func (s *session) capabilities() string {
	caps := append([]string(nil), s.o.Capabilities...)
	if s.c.CanStartTLS() {
		caps = append(caps, "STARTTLS")
	}
	if !s.loginAllowed() {
		caps = append(caps, "LOGINDISABLED")
	}
	for _, m := range s.c.Mechanisms() {
		caps = append(caps, "AUTH="+m.Name)
	}
	return strings.Join(caps, " ")
}
