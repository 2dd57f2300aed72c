package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// loginLog is what a successful login's log line says, by Dovecot's
// variable names: the short ones of login_log_format_elements and
// their %{long} forms.
type loginLog struct {
	user, mech, service string
	rip, lip            string
	rport, lport        string
	pid, mpid           int
	session             string
	tls, secured        bool
}

func (l *loginLog) vars() map[string]string {
	user, domain := l.user, ""
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		user, domain = l.user[:i], l.user[i+1:]
	}
	secured := ""
	switch {
	case l.tls:
		secured = "TLS"
	case l.secured:
		secured = "secured"
	}
	mpid := ""
	if l.mpid > 0 {
		mpid = strconv.Itoa(l.mpid)
	}
	return map[string]string{
		"u": l.user, "user": l.user,
		"n": user, "username": user,
		"d": domain, "domain": domain,
		"s": l.service, "service": l.service,
		"m": l.mech, "mech": l.mech,
		"r": l.rip, "rip": l.rip,
		"l": l.lip, "lip": l.lip,
		"b": l.rport, "rport": l.rport,
		"a": l.lport, "lport": l.lport,
		"p": strconv.Itoa(l.pid), "pid": strconv.Itoa(l.pid),
		"e": mpid, "mpid": mpid,
		"c": secured, "secured": secured,
		"session": l.session,
	}
}

// expandVars expands %x and %{name} in s from vars; %% is a percent.
// Unknown variables expand to nothing. It reports whether s used a
// variable and whether every one it used was empty.
func expandVars(s string, vars map[string]string) (out string, used, allEmpty bool) {
	var b strings.Builder
	allEmpty = true
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		var name string
		switch {
		case s[i] == '%':
			b.WriteByte('%')
			continue
		case s[i] == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				b.WriteString(s[i-1:])
				return b.String(), used, allEmpty
			}
			name = s[i+1 : i+j]
			i += j
		default:
			name = s[i : i+1]
		}
		used = true
		v := vars[name]
		if v != "" {
			allEmpty = false
		}
		b.WriteString(v)
	}
	return b.String(), used, allEmpty
}

// formatLogin is Dovecot's login log line: each of the space-separated
// elements expanded, those whose variables are all empty left out (but
// the user's, kept as "user=<>" before a login, as Dovecot does), the rest
// joined by ", " as %s of format, in which %$ is msg.
func formatLogin(format, elements, msg string, l *loginLog) string {
	vars := l.vars()
	var parts []string
	for _, e := range strings.Fields(elements) {
		v, used, empty := expandVars(e, vars)
		if used && empty && !namesUser(e) {
			continue
		}
		parts = append(parts, v)
	}
	vars["s"] = strings.Join(parts, ", ")
	vars["$"] = msg
	line, _, _ := expandVars(format, vars)
	return line
}

// logLogin logs a successful login: as Dovecot's login_log_format when
// format is set, else as structured attributes.
func logLogin(log *slog.Logger, format, elements string, l *loginLog) {
	if format == "" {
		log.Info("login", "user", l.user, "method", l.mech, "mpid", l.mpid, "secured", l.secured, "tls", l.tls)
		return
	}
	log.Info(formatLogin(format, elements, "Login", l))
}

// namesUser reports an element with the user's name (%u, %n).
func namesUser(e string) bool {
	for _, v := range []string{"%u", "%n", "%{user}", "%{username}"} {
		if strings.Contains(e, v) {
			return true
		}
	}
	return false
}

// logVars is what a log line about c says: the user and mechanism of
// its last authentication attempt, if any.
func (c *Client) logVars() *loginLog {
	l := &loginLog{user: c.lastUser, mech: c.lastMech, service: c.srv.Protocol.Name(), pid: os.Getpid(),
		session: c.sessionID, tls: c.TLS(), secured: c.Secured()}
	l.rip, l.rport = hostPort(c.raddr)
	l.lip, l.lport = hostPort(c.laddr)
	return l
}

// logEvent logs a line about the client. Like Dovecot's login
// processes, with login_log_format set every such line is that format
// (msg as %$, the elements as %s); attrs follow as attributes either way.
func (c *Client) logEvent(level slog.Level, msg string, attrs ...any) {
	if f := c.srv.LogFormat; f != "" {
		msg = formatLogin(f, c.srv.LogFormatElements, msg, c.logVars())
	}
	c.log.Log(context.Background(), level, msg, attrs...)
}

// disconnectReason is Dovecot's account of a client that leaves before
// logging in: "Disconnected: Logged out (auth failed, 2 attempts in 9
// secs)".
func (c *Client) disconnectReason(err error) string {
	var why string
	switch {
	case err == nil:
		why = "Logged out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		why = "Connection closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		why = "Inactivity"
	default:
		why = err.Error()
		if why != "" {
			why = strings.ToUpper(why[:1]) + why[1:]
		}
	}
	secs := int(time.Since(c.start).Seconds())
	extra := fmt.Sprintf("(no auth attempts in %d secs)", secs)
	if c.authAttempts > 0 {
		extra = fmt.Sprintf("(auth failed, %d attempts in %d secs)", c.authAttempts, secs)
	}
	return "Disconnected: " + why + " " + extra
}

// hostPort splits an address for the log; a non-IP address is kept whole.
func hostPort(a net.Addr) (host, port string) {
	if a == nil {
		return "", ""
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), ""
	}
	return h, p
}
