package login

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cote/proto"
)

// serverLine is one line the auth server sent on an auth-client
// connection (reference section 2.2): a handshake line (VERSION, MECH,
// SPID, CUID, COOKIE, DONE) or a reply to a request (CONT, OK, FAIL).
type serverLine struct {
	cmd string
	// id is the request id of CONT, OK and FAIL; 0 for handshake lines.
	id uint32
	// args are the unescaped fields after the command, or after the id
	// for replies.
	args []string
}

var errAuthSyntax = errors.New("login: malformed auth server line")

// parseServerLine parses one line from the auth server, without its LF.
// Handshake lines are returned with their fields unchecked; the
// handshake validates them. Replies must carry a non-zero 32-bit id, and
// CONT exactly one data field (possibly empty).
func parseServerLine(line string) (serverLine, error) {
	fields, err := proto.ParseAuthLine(line)
	if err != nil {
		return serverLine{}, fmt.Errorf("%w: %v", errAuthSyntax, err)
	}
	l := serverLine{cmd: fields[0], args: fields[1:]}
	switch l.cmd {
	case "CONT", "OK", "FAIL":
	case "":
		return serverLine{}, fmt.Errorf("%w: empty command", errAuthSyntax)
	default:
		return l, nil
	}
	if len(l.args) == 0 {
		return serverLine{}, fmt.Errorf("%w: %s without id", errAuthSyntax, l.cmd)
	}
	id, err := strconv.ParseUint(l.args[0], 10, 32)
	if err != nil || id == 0 || l.args[0][0] == '+' {
		return serverLine{}, fmt.Errorf("%w: %s with bad id", errAuthSyntax, l.cmd)
	}
	l.id = uint32(id)
	l.args = l.args[1:]
	if l.cmd == "CONT" {
		switch len(l.args) {
		case 0:
			l.args = []string{""}
		case 1:
		default:
			return serverLine{}, fmt.Errorf("%w: CONT with %d fields", errAuthSyntax, len(l.args))
		}
	}
	return l, nil
}

// handshake collects what the auth server announces before DONE.
type handshake struct {
	major, minor int
	mechs        []Mech
	spid         uint32
	cuid         string
	cookie       string
	done         bool
}

// add applies one handshake line. Unknown lines are ignored, as newer
// servers may announce more.
func (h *handshake) add(l serverLine) error {
	switch l.cmd {
	case "VERSION":
		if len(l.args) < 2 {
			return fmt.Errorf("%w: VERSION with %d fields", errAuthSyntax, len(l.args))
		}
		major, err1 := strconv.Atoi(l.args[0])
		minor, err2 := strconv.Atoi(l.args[1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%w: VERSION %q", errAuthSyntax, strings.Join(l.args, "."))
		}
		if major != 1 {
			return fmt.Errorf("login: auth server speaks protocol version %d, want 1", major)
		}
		h.major, h.minor = major, minor
	case "MECH":
		if len(l.args) < 1 || l.args[0] == "" {
			return fmt.Errorf("%w: MECH without name", errAuthSyntax)
		}
		m := Mech{Name: strings.ToUpper(l.args[0])}
		for _, f := range l.args[1:] {
			switch f {
			case "plaintext":
				m.Plaintext = true
			case "private":
				m.Private = true
			case "channel-binding":
				m.ChannelBinding = true
			}
		}
		h.mechs = append(h.mechs, m)
	case "SPID":
		if len(l.args) != 1 {
			return fmt.Errorf("%w: SPID", errAuthSyntax)
		}
		pid, err := strconv.ParseUint(l.args[0], 10, 32)
		if err != nil || pid == 0 {
			return fmt.Errorf("%w: SPID %q", errAuthSyntax, l.args[0])
		}
		h.spid = uint32(pid)
	case "CUID":
		if len(l.args) != 1 {
			return fmt.Errorf("%w: CUID", errAuthSyntax)
		}
		h.cuid = l.args[0]
	case "COOKIE":
		if len(l.args) != 1 || !isHex(l.args[0]) || len(l.args[0]) != 32 {
			return fmt.Errorf("%w: COOKIE", errAuthSyntax)
		}
		h.cookie = l.args[0]
	case "DONE":
		if h.major == 0 {
			return fmt.Errorf("%w: DONE before VERSION", errAuthSyntax)
		}
		if h.spid == 0 || h.cookie == "" {
			return fmt.Errorf("%w: DONE without SPID or COOKIE (not a login socket?)", errAuthSyntax)
		}
		h.done = true
	case "CONT", "OK", "FAIL":
		return fmt.Errorf("%w: %s during handshake", errAuthSyntax, l.cmd)
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}
