// Package pop3login is the POP3 half of the pop3-login process: the
// greeting and the commands of the AUTHORIZATION state, up to the
// handoff of an authenticated client to its worker (package login does
// the rest: listeners, TLS, auth, the handoff itself).
//
// RFCs implemented (AUTHORIZATION state only):
//   - RFC 1939: greeting (4), USER and PASS (7), QUIT (5). APOP is not
//     offered: auth has no APOP mechanism yet.
//   - RFC 2449: CAPA (5) with TOP, UIDL, RESP-CODES, PIPELINING, USER,
//     SASL, STLS, LOGIN-DELAY, EXPIRE, IMPLEMENTATION; response codes (8).
//   - RFC 2595 section 4: STLS.
//   - RFC 5034: AUTH, with an initial response.
//   - RFC 3206: [AUTH] and [SYS/TEMP], and AUTH-RESP-CODE.
//
// USER and PASS run SASL PLAIN with auth, as Dovecot does. After a
// successful handoff this package writes nothing more to the client: the
// worker answers PASS or AUTH with "+OK Logged in.".
package pop3login

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	"cote/login"
)

// Options configure the POP3 login protocol.
type Options struct {
	// Greeting is the text after "+OK "; "cote ready." if empty.
	Greeting string
	// LoginDelay and Expire are announced in CAPA when set (RFC 2449
	// sections 6.5 and 6.7; not enforced). Expire is a number of days
	// or "NEVER".
	LoginDelay time.Duration
	Expire     string
}

// New returns the POP3 login protocol.
func New(o Options) login.Protocol {
	if o.Greeting == "" {
		o.Greeting = "cote ready."
	}
	return &protocol{o: o}
}

type protocol struct{ o Options }

func (*protocol) Name() string { return "pop3" }

// maxBadCommands invalid commands end the connection (Dovecot's limit
// before login).
const maxBadCommands = 3

// session is one client's AUTHORIZATION state.
type session struct {
	o   *Options
	c   *login.Client
	ctx context.Context

	user string // from USER, until PASS
	bad  int
}

// Serve sends the greeting (RFC 1939 section 4) and runs the command
// loop of the AUTHORIZATION state.
func (pr *protocol) Serve(ctx context.Context, c *login.Client) error {
	s := &session{o: &pr.o, c: c, ctx: ctx}
	greeting := "+OK " + pr.o.Greeting
	// RFC 1939 section 7: a timestamp in the greeting offers APOP, when
	// auth has the (private) APOP mechanism and it is enabled.
	if ch, ok := c.APOPChallenge(ctx); ok {
		greeting += " " + ch
	}
	s.reply(greeting)
	if err := c.Flush(); err != nil {
		return err
	}
	for {
		done, err := s.step()
		if done || err != nil {
			return err
		}
		// RFC 2449 section 6.6: answer a pipelined batch at once.
		if c.Reader().Buffered() == 0 {
			if err := c.Flush(); err != nil {
				return err
			}
		}
	}
}

// step reads and runs one command. done means the client is gone, logged
// out or handed off.
func (s *session) step() (done bool, err error) {
	line, err := readLine(s.c.Reader(), MaxLine)
	if err != nil {
		return true, s.readFailed(err)
	}
	cmd, err := parseCommand(line)
	if err != nil {
		clear(line)
		return s.badCommand("-ERR Unknown command.")
	}
	return s.dispatch(cmd)
}

func (s *session) dispatch(cmd command) (bool, error) {
	switch cmd.name {
	case "CAPA":
		s.cmdCapa()
		return false, nil
	case "USER":
		return s.cmdUser(cmd)
	case "PASS":
		return s.cmdPass(cmd)
	case "AUTH":
		return s.cmdAuth(cmd)
	case "STLS":
		return s.cmdSTLS()
	case "QUIT":
		// RFC 1939 section 5: QUIT in the AUTHORIZATION state.
		s.reply("+OK Logging out")
		return true, s.c.Flush()
	case "APOP":
		return s.cmdAPOP(cmd)
	}
	clear(cmd.args)
	return s.badCommand("-ERR Unknown command.")
}

// badCommand answers an invalid command and ends the connection after
// maxBadCommands.
func (s *session) badCommand(reply string) (bool, error) {
	s.reply(reply)
	s.bad++
	if s.bad >= maxBadCommands {
		s.reply("-ERR Too many invalid commands.")
		s.c.Flush()
		return true, errors.New("too many invalid commands")
	}
	return false, nil
}

// readFailed ends the connection after a read error, saying why when the
// client can still hear it.
func (s *session) readFailed(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.reply("-ERR Disconnected for inactivity.")
	case errors.Is(err, errLineTooLong):
		s.reply("-ERR Input line too long.")
	default:
		return err
	}
	s.c.Flush()
	return err
}

func (s *session) reply(line string) {
	w := s.c.Writer()
	w.WriteString(line)
	w.WriteString("\r\n")
}

// userAllowed reports whether USER/PASS may be used: plaintext auth is
// allowed and PLAIN, which they run on, is offered.
func (s *session) userAllowed() bool {
	if !s.c.PlaintextAllowed() {
		return false
	}
	_, ok := s.c.Mechanism("PLAIN")
	return ok
}

// capabilities returns the CAPA list of the AUTHORIZATION state
// (reference section 7.1, RFC 2449 section 6).
func (s *session) capabilities() []string {
	caps := []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"}
	if s.c.CanStartTLS() {
		caps = append(caps, "STLS")
	}
	if s.userAllowed() {
		caps = append(caps, "USER")
	}
	if mechs := s.c.Mechanisms(); len(mechs) > 0 {
		sasl := "SASL"
		for _, m := range mechs {
			sasl += " " + m.Name
		}
		caps = append(caps, sasl)
	}
	if s.o.LoginDelay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.FormatInt(int64(s.o.LoginDelay/time.Second), 10))
	}
	if validExpire(s.o.Expire) {
		caps = append(caps, "EXPIRE "+s.o.Expire)
	}
	return append(caps, "IMPLEMENTATION cote")
}

// validExpire reports whether s is an RFC 2449 section 6.7 policy: a
// number of days or NEVER.
func validExpire(s string) bool {
	if s == "NEVER" {
		return true
	}
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RFC 2449 section 5
func (s *session) cmdCapa() {
	s.reply("+OK")
	for _, c := range s.capabilities() {
		s.reply(c)
	}
	s.reply(".")
}

// RFC 2595 section 4. Whatever the client sent after STLS is discarded by
// Client.StartTLS (section 3.1's command injection defence), and USER is
// forgotten.
func (s *session) cmdSTLS() (bool, error) {
	switch {
	case s.c.TLS():
		s.reply("-ERR TLS is already active.")
		return false, nil
	case !s.c.CanStartTLS():
		s.reply("-ERR TLS support isn't enabled.")
		return false, nil
	}
	s.reply("+OK Begin TLS negotiation now.")
	if err := s.c.StartTLS(s.ctx); err != nil {
		return true, err
	}
	s.user = ""
	return false, nil
}
