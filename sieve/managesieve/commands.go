package managesieve

import (
	"errors"
	"strconv"
	"strings"

	"cote/sieve"
	"cote/sieve/script"
)

// dispatch runs one command; done means the session ends.
func (s *session) dispatch(cmd command) (bool, error) {
	switch cmd.name {
	case "CAPABILITY":
		if s.args(cmd, 0) {
			s.cmdCapability()
		}
	case "HAVESPACE":
		if s.args(cmd, 2) {
			s.cmdHaveSpace(cmd.args)
		}
	case "PUTSCRIPT":
		if s.args(cmd, 2) {
			s.cmdPutScript(cmd.args)
		}
	case "CHECKSCRIPT":
		if s.args(cmd, 1) {
			s.cmdCheckScript(cmd.args)
		}
	case "LISTSCRIPTS":
		if s.args(cmd, 0) {
			s.cmdListScripts()
		}
	case "SETACTIVE":
		if s.args(cmd, 1) {
			s.cmdSetActive(cmd.args)
		}
	case "GETSCRIPT":
		if s.args(cmd, 1) {
			s.cmdGetScript(cmd.args)
		}
	case "DELETESCRIPT":
		if s.args(cmd, 1) {
			s.cmdDeleteScript(cmd.args)
		}
	case "RENAMESCRIPT":
		if s.args(cmd, 2) {
			s.cmdRenameScript(cmd.args)
		}
	case "NOOP":
		s.cmdNoop(cmd)
	case "UNAUTHENTICATE":
		// RFC 5804 section 2.14: only for servers that announce the
		// UNAUTHENTICATE capability, which needs Options.Unauthenticate.
		if s.o.Unauthenticate == nil {
			s.no("", "UNAUTHENTICATE is not supported.")
			break
		}
		return s.cmdUnauthenticate(cmd), nil
	case "LOGOUT":
		// RFC 5804 section 2.3
		if s.args(cmd, 0) {
			s.ok("", "Logout completed.")
			return true, nil
		}
	case "AUTHENTICATE", "STARTTLS":
		s.badCommand("Already authenticated.")
	default:
		s.badCommand("Unknown command.")
	}
	return false, nil
}

// args checks that cmd has n arguments, all strings except HAVESPACE's
// number, and answers the command when it has not.
func (s *session) args(cmd command, n int) bool {
	ok := len(cmd.args) == n
	for i, a := range cmd.args {
		if a.atom != (cmd.name == "HAVESPACE" && i == 1) {
			ok = false
		}
	}
	if !ok {
		s.badCommand(usage[cmd.name])
	}
	return ok
}

// usage is the syntax of each command (RFC 5804 section 4), for the
// answer to a malformed one.
var usage = map[string]string{
	"CAPABILITY":     "CAPABILITY takes no arguments.",
	"HAVESPACE":      "Usage: HAVESPACE <name> <size>.",
	"PUTSCRIPT":      "Usage: PUTSCRIPT <name> <script>.",
	"CHECKSCRIPT":    "Usage: CHECKSCRIPT <script>.",
	"LISTSCRIPTS":    "LISTSCRIPTS takes no arguments.",
	"UNAUTHENTICATE": "UNAUTHENTICATE takes no arguments.",
	"SETACTIVE":      "Usage: SETACTIVE <name>.",
	"GETSCRIPT":      "Usage: GETSCRIPT <name>.",
	"DELETESCRIPT":   "Usage: DELETESCRIPT <name>.",
	"RENAMESCRIPT":   "Usage: RENAMESCRIPT <old name> <new name>.",
	"LOGOUT":         "LOGOUT takes no arguments.",
}

// capabilities returns the capability lines of the authenticated state
// (RFC 5804 section 1.8). SASL and STARTTLS no longer apply; OWNER names
// the logged-in user.
func (s *session) capabilities() [][2]string {
	caps := [][2]string{
		{"IMPLEMENTATION", s.o.Implementation},
		{"SIEVE", s.o.SieveCapability},
	}
	if s.o.NotifyCapability != "" {
		caps = append(caps, [2]string{"NOTIFY", s.o.NotifyCapability})
	}
	caps = append(caps, [2]string{"MAXREDIRECTS", strconv.Itoa(s.o.MaxRedirects)})
	if s.o.User != "" {
		caps = append(caps, [2]string{"OWNER", s.o.User})
	}
	if s.o.Unauthenticate != nil {
		caps = append(caps, [2]string{"UNAUTHENTICATE", ""}) // RFC 5804 section 1.8
	}
	return append(caps, [2]string{"VERSION", "1.0"})
}

// RFC 5804 section 2.4
func (s *session) cmdCapability() {
	for _, c := range s.capabilities() {
		s.w.WriteString(quote(c[0]))
		if c[0] != "UNAUTHENTICATE" {
			s.w.WriteString(" ")
			s.w.WriteString(quote(c[1]))
		}
		s.w.WriteString("\r\n")
	}
	s.ok("", "Capability completed.")
}

// RFC 5804 section 2.5
func (s *session) cmdHaveSpace(args []arg) {
	name := string(args[0].s)
	size, err := strconv.ParseUint(string(args[1].s), 10, 32)
	if err != nil {
		s.badCommand("HAVESPACE needs a size in bytes (a 32-bit number).")
		return
	}
	if max := s.maxScriptSize(); int64(size) > max {
		s.fail(&script.QuotaError{Limit: "maxsize", Msg: "script is larger than " + strconv.FormatInt(max, 10) + " bytes"})
		return
	}
	if err := s.store.HaveSpace(name, int64(size)); err != nil {
		s.fail(err)
		return
	}
	s.ok("", "Putscript would succeed.")
}

// RFC 5804 section 2.6. A script that does not compile is not stored;
// its literal was bounded by maxLiteral, so an oversized one never gets
// here.
func (s *session) cmdPutScript(args []arg) {
	name, src := string(args[0].s), args[1].s
	if err := script.ValidName(name); err != nil {
		s.fail(err)
		return
	}
	warnings, err := s.check(name, src)
	if err != nil {
		s.fail(err)
		return
	}
	if err := s.store.Put(name, src); err != nil {
		s.fail(err)
		return
	}
	s.log.Info("script stored", "script", name, "bytes", len(src))
	s.okWarnings(warnings, "PUTSCRIPT completed.")
}

// RFC 5804 section 2.12
func (s *session) cmdCheckScript(args []arg) {
	warnings, err := s.check("", args[0].s)
	if err != nil {
		s.fail(err)
		return
	}
	s.okWarnings(warnings, "Script is valid.")
}

// okWarnings answers OK, with the WARNINGS response code and the
// warnings as text when there are some (RFC 5804 section 1.3).
func (s *session) okWarnings(warnings []string, text string) {
	if len(warnings) == 0 {
		s.ok("", text)
		return
	}
	s.ok("WARNINGS", strings.Join(warnings, "\r\n"))
}

// RFC 5804 section 2.7
func (s *session) cmdListScripts() {
	list, err := s.store.List()
	if err != nil {
		s.fail(err)
		return
	}
	for _, i := range list {
		s.w.WriteString(quote(i.Name))
		if i.Active {
			s.w.WriteString(" ACTIVE")
		}
		s.w.WriteString("\r\n")
	}
	s.ok("", "Listscripts completed.")
}

// RFC 5804 section 2.8. An empty name deactivates. The script must
// compile: a broken script (uploaded by other means) is not activated.
func (s *session) cmdSetActive(args []arg) {
	name := string(args[0].s)
	if name != "" {
		src, err := s.store.Get(name)
		if err != nil {
			s.fail(err)
			return
		}
		if _, err := s.check(name, src); err != nil {
			s.fail(err)
			return
		}
	}
	if err := s.store.SetActive(name); err != nil {
		s.fail(err)
		return
	}
	s.log.Info("active script set", "script", name)
	s.ok("", "Setactive completed.")
}

// RFC 5804 section 2.9: the script is always sent as a literal.
func (s *session) cmdGetScript(args []arg) {
	src, err := s.store.Get(string(args[0].s))
	if err != nil {
		s.fail(err)
		return
	}
	s.w.WriteString(literal(string(src)))
	s.w.WriteString("\r\n")
	s.ok("", "Getscript completed.")
}

// RFC 5804 section 2.10: the active script cannot be deleted.
func (s *session) cmdDeleteScript(args []arg) {
	name := string(args[0].s)
	if err := s.store.Delete(name); err != nil {
		s.fail(err)
		return
	}
	s.log.Info("script deleted", "script", name)
	s.ok("", "Deletescript completed.")
}

// RFC 5804 section 2.11: an active script stays active under its new
// name.
func (s *session) cmdRenameScript(args []arg) {
	from, to := string(args[0].s), string(args[1].s)
	if err := s.store.Rename(from, to); err != nil {
		s.fail(err)
		return
	}
	s.log.Info("script renamed", "script", from, "to", to)
	s.ok("", "Renamescript completed.")
}

// RFC 5804 section 2.13: NOOP [tag]; the tag comes back in the TAG
// response code.
func (s *session) cmdNoop(cmd command) {
	switch {
	case len(cmd.args) == 0:
		s.ok("", "NOOP completed.")
	case len(cmd.args) == 1 && !cmd.args[0].atom:
		s.ok("TAG "+quote(string(cmd.args[0].s)), "Done")
	default:
		s.badCommand("NOOP takes one optional string.")
	}
}

// fail maps an error of the store or the compiler to its response (RFC
// 5804 section 1.3). This is the one place that does; anything it does
// not know is logged and the client gets the fixed internal error text.
func (s *session) fail(err error) {
	var qe *script.QuotaError
	var se *sieve.Error
	switch {
	case errors.Is(err, script.ErrNotFound):
		s.no("NONEXISTENT", "Script does not exist.")
	case errors.Is(err, script.ErrExists):
		s.no("ALREADYEXISTS", "A script with that name already exists.")
	case errors.Is(err, script.ErrActive):
		s.no("ACTIVE", "Cannot delete the active script.")
	case errors.Is(err, script.ErrInvalidName):
		s.no("", "Invalid script name.")
	case errors.As(err, &qe):
		code := "QUOTA"
		switch qe.Limit {
		case "maxscripts":
			code = "QUOTA/MAXSCRIPTS"
		case "maxsize":
			code = "QUOTA/MAXSIZE"
		}
		s.no(code, "Quota exceeded: "+qe.Msg)
	case errors.As(err, &se):
		s.no("", se.Error())
	default:
		s.log.Error("managesieve command failed", "err", err)
		s.no("TRYLATER", textInternal)
	}
}
