package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"cote/config"
)

func migrateDovecotCommand() command {
	return command{
		name:    "migrate dovecot",
		usage:   "[-o FILE] [DOVECOT_CONF | DIR]",
		summary: "translate a Dovecot 2.3 configuration into a cote one",
		help: "Reads a Dovecot 2.3 configuration (default /etc/dovecot/dovecot.conf; a directory means its dovecot.conf) " +
			"with everything it includes — Debian's layout of conf.d/*.conf and *.conf.ext files included — and writes " +
			"the equivalent cote configuration to FILE (default: standard output), one section per source file. " +
			"Setting names are mostly the same and are carried as they are; `$variables` are expanded; " +
			"`<file` values and passdb/userdb arguments keep pointing at the files Dovecot used; the users dovecot " +
			"and dovenull become cote (coteauth for the auth service) and cotenull; the login services " +
			"keep their listeners.\n\n" +
			"Everything that has no cote equivalent — services cote does not have (imap and pop3 run in cote's " +
			"per-user worker), protocols such as submission and lda, local and remote filters, unknown settings — is " +
			"left out and named on standard error as `file:line: not carried: ...`. The result is then checked with " +
			"cote's own parser; lines it refuses are commented out and named the same way. The exit status is 0 when " +
			"the result passes cote's checks, 1 otherwise (the file is written either way).",
		run: runMigrateDovecot,
	}
}

func runMigrateDovecot(e *env, args []string) error {
	c := migrateDovecotCommand()
	fs := e.newFlagSet(c)
	out := fs.String("o", "", "write the cote configuration to `FILE` (default: standard output)")
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	src := "/etc/dovecot/dovecot.conf"
	switch len(operands) {
	case 0:
	case 1:
		src = operands[0]
	default:
		return usageError("more than one Dovecot configuration given")
	}
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		src = filepath.Join(src, "dovecot.conf")
	}
	tree, err := parseDovecotFile(src)
	if err != nil {
		return fmt.Errorf("read Dovecot configuration: %w", err)
	}
	m := newMigrator()
	m.translate(tree)
	text := m.header(src) + m.out.String()
	name := *out
	if name == "" {
		name = "(standard output)"
	}
	text, left := m.check(name, text)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
			return err
		}
	} else if _, err := fmt.Fprint(e.stdout, text); err != nil {
		return err
	}
	for _, n := range m.notes {
		fmt.Fprintln(e.stderr, "coteadm migrate dovecot: "+n)
	}
	if len(left) > 0 {
		fmt.Fprintln(e.stderr, "coteadm migrate dovecot: the result does not pass cote's checks yet:")
		for _, l := range left {
			fmt.Fprintln(e.stderr, "  "+l)
		}
		return silentFailure
	}
	return nil
}

// schema is the set of settings and blocks cote knows in one kind of block,
// read from config's struct tags: a setting name maps to false, a block
// kind to true.
type schema map[string]bool

var kindTypes = map[string]reflect.Type{
	"":              reflect.TypeFor[config.Settings](),
	"service":       reflect.TypeFor[config.Service](),
	"inet_listener": reflect.TypeFor[config.InetListener](),
	"unix_listener": reflect.TypeFor[config.UnixListener](),
	"passdb":        reflect.TypeFor[config.DB](),
	"userdb":        reflect.TypeFor[config.DB](),
	"namespace":     reflect.TypeFor[config.Namespace](),
	"mailbox":       reflect.TypeFor[config.Mailbox](),
}

func schemaOf(kind string) schema {
	t := kindTypes[kind]
	s := schema{}
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("cote")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			continue
		}
		s[name] = strings.Contains(","+opts+",", ",section,")
	}
	return s
}

// Services cote has, and what became of Dovecot's others.
var (
	coteServices     = []string{"auth", "imap-login", "pop3-login", "managesieve-login", "lmtp"}
	workerServices   = []string{"imap", "pop3", "managesieve"}
	coteProtocols    = []string{"imap", "pop3", "lmtp", "sieve"}
	droppedTopLevels = map[string]string{
		"base_dir":  "cote keeps its runtime files in its own base_dir (/run/cote)",
		"state_dir": "cote keeps its state in its own state_dir (/var/lib/cote)",
		"ssl_dh":    "cote offers no finite-field Diffie-Hellman, so it needs no DH parameters",
	}
	droppedServiceKeys = map[string]string{
		"executable": "cote runs every role from its one binary",
		"chroot":     "cote chroots its login processes into an empty directory of its own",
	}
)

// unserved are the drivers cote's configuration parser accepts (for
// configurations written ahead) that its auth process does not open yet
// (the switches of auth.NewServer): a block with one is not carried, so
// that the result does not pass the check and then stop the auth process.
var unserved = map[string][]string{
	"passdb": {"static", "passwd", "shadow", "checkpassword"},
	"userdb": {"shadow", "checkpassword"},
}

// migrator translates a Dovecot tree into cote configuration text.
type migrator struct {
	out     bytes.Buffer
	notes   []string
	vars    map[string]string // current values of top-level settings, for $name
	file    string            // source file of the last top-level node written
	schemas map[string]schema
	// dovecotPaths lists settings whose values still name files under
	// /etc/dovecot.
	dovecotPaths []string
	mailLocation config.Pos // where mail_location was last set
	// src maps a line number of out (from 1) to the source line it
	// translates, for notes about lines cote refuses.
	src map[int]config.Pos
	// drivers caches which passdb/userdb drivers cote's parser accepts.
	drivers map[string]bool
}

func newMigrator() *migrator {
	// Debian builds Dovecot with protocols empty by default, so that
	// each protocols.d/*.protocol file adds its own with $protocols.
	vars := map[string]string{"protocols": "", "mail_plugins": ""}
	m := &migrator{vars: vars, schemas: map[string]schema{}, drivers: map[string]bool{}, src: map[int]config.Pos{}}
	for k := range kindTypes {
		m.schemas[k] = schemaOf(k)
	}
	return m
}

func (m *migrator) note(pos config.Pos, format string, args ...any) {
	m.notes = append(m.notes, pos.String()+": "+fmt.Sprintf(format, args...))
}

// headerLines is the number of lines header writes.
const headerLines = 3

func (m *migrator) header(src string) string {
	return "# cote configuration translated from " + src + " by coteadm migrate dovecot.\n" +
		"# What could not be carried over was listed on standard error.\n" +
		"# Check it with `cote -c FILE -n` (or `coteadm config -c FILE`).\n"
}

func (m *migrator) line(depth int, text string) {
	m.out.WriteString(strings.Repeat("  ", depth) + text + "\n")
}

func (m *migrator) translate(tree []*dnode) {
	for _, n := range tree {
		mark := m.out.Len()
		if n.pos.File != m.file {
			m.out.WriteString("\n# from " + n.pos.File + "\n")
		}
		before := m.out.Len()
		m.topLevel(n)
		switch {
		case m.out.Len() == before:
			m.out.Truncate(mark) // nothing written: no header either
		default:
			m.file = n.pos.File
		}
	}
	if strings.HasPrefix(m.vars["mail_location"], "mbox:") {
		m.note(m.mailLocation, "mail_location is mbox, which cote does not serve yet (it serves Maildir): set mail_location = maildir:~/Maildir "+
			"and convert the mail, with `coteadm import -A mbox:/var/mail/%%u` (the INBOXes) and "+
			"`coteadm import -u USER -m NAME mbox:~/mail/NAME` (each folder), or with doveadm sync first")
	}
	if len(m.dovecotPaths) > 0 {
		m.notes = append(m.notes, "these settings still name files under /etc/dovecot, which cote reads where they are; "+
			"copy the files to /etc/cote before removing Dovecot: "+strings.Join(m.dovecotPaths, ", "))
	}
}

func (m *migrator) topLevel(n *dnode) {
	if !n.block {
		m.topSetting(n)
		return
	}
	switch n.key {
	case "service":
		m.service(n)
	case "passdb", "userdb":
		m.db(n)
	case "namespace":
		m.generic(0, "", n, nil)
	case "protocol":
		m.protocol(n)
	case "plugin", "dict":
		m.mapBlock(n)
	case "local", "remote", "local_name":
		m.dropBlock(n, "cote has no %s { } filters; repeat their settings for everyone or leave them out", n.key)
	default:
		m.dropBlock(n, "cote has no %s { } block", n.key)
	}
}

func (m *migrator) topSetting(n *dnode) {
	val, literal := m.expand(n.value)
	if n.key == "protocols" && literal {
		var keep []string
		for _, p := range strings.Fields(strings.ReplaceAll(val, ",", " ")) {
			switch {
			case slices.Contains(keep, p):
			case slices.Contains(coteProtocols, p) || p == "none":
				keep = append(keep, p)
			default:
				m.note(n.pos, "not carried: protocol %s (cote serves imap, pop3, lmtp and sieve)", p)
			}
		}
		val = strings.Join(keep, " ")
		if val == "" {
			val = "none"
		}
	}
	m.vars[n.key] = val
	if why, ok := droppedTopLevels[n.key]; ok {
		m.note(n.pos, "not carried: %s (%s)", n.key, why)
		return
	}
	if isSection, ok := m.schemas[""][n.key]; !ok || isSection {
		m.note(n.pos, "not carried: %s = %s (cote has no such setting)", n.key, n.value)
		return
	}
	switch n.key {
	case "default_internal_user", "default_internal_group", "default_login_user", "mail_uid", "mail_gid":
		val = mapUser(val, "")
	case "mail_location":
		m.mailLocation = n.pos
	}
	m.setting(0, n, val, literal)
}

// setting writes `key = value`, quoting what cote would read differently.
func (m *migrator) setting(depth int, n *dnode, val string, literal bool) {
	m.src[bytes.Count(m.out.Bytes(), []byte("\n"))+1] = n.pos
	if strings.Contains(n.value, "/etc/dovecot") {
		m.dovecotPaths = append(m.dovecotPaths, n.key+" ("+filepath.Base(n.pos.File)+":"+strconv.Itoa(n.pos.Line)+")")
	}
	if !literal {
		m.line(depth, n.key+" = "+val) // `<file`, kept as it is
		return
	}
	m.line(depth, n.key+" ="+coteValue(val))
}

// expand evaluates a Dovecot value: a quoted value is taken as it is,
// `<file` is kept (with a relative path made absolute), and each word $name
// is replaced by the current value of that setting. literal is false for
// `<file`.
func (m *migrator) expand(raw string) (string, bool) {
	switch {
	case raw == "":
		return "", true
	case raw[0] == '"' || raw[0] == '\'':
		if u, ok := unquoteDovecot(raw); ok {
			return u, true
		}
		return raw, true
	case raw[0] == '<':
		return raw, false
	}
	words := strings.Fields(raw)
	for i, w := range words {
		if len(w) > 1 && w[0] == '$' {
			if v, ok := m.vars[w[1:]]; ok {
				words[i] = v
			} else if _, known := m.schemas[""][w[1:]]; !known {
				words[i] = "" // Dovecot's default for it, in all cases we know, is empty
			}
		}
	}
	return strings.Join(strings.Fields(strings.Join(words, " ")), " "), true
}

// coteValue renders a value after `key =` so that cote reads it back as
// itself.
func coteValue(v string) string {
	if v == "" {
		return ""
	}
	needs := v != strings.TrimSpace(v) || strings.ContainsAny(v, "\"'\n") || v[0] == '<' || strings.Contains(v, " #")
	for _, w := range strings.Fields(v) {
		if len(w) > 1 && w[0] == '$' && w[1] >= 'a' && w[1] <= 'z' {
			needs = true
		}
	}
	if !needs {
		return " " + v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return ` "` + r.Replace(v) + `"`
}

// mapUser turns Dovecot's system users into cote's.
func mapUser(v, service string) string {
	switch v {
	case "dovecot":
		if service == "auth" || service == "auth-worker" {
			return "coteauth"
		}
		return "cote"
	case "dovenull":
		return "cotenull"
	}
	return v
}

// empty reports whether a block holds no settings at any depth.
func empty(n *dnode) bool {
	for _, c := range n.children {
		if !c.block || !empty(c) {
			return false
		}
	}
	return true
}

func (m *migrator) dropBlock(n *dnode, format string, args ...any) {
	if empty(n) {
		return
	}
	what := n.key
	if n.name != "" {
		what += " " + n.name
	}
	m.note(n.pos, "not carried: %s { } (%s)", what, fmt.Sprintf(format, args...))
}

func blockHead(kind, name string) string {
	if name == "" {
		return kind + " {"
	}
	if strings.ContainsAny(name, " \t\"'{}#\\") {
		return kind + ` "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `" {`
	}
	return kind + " " + name + " {"
}

// generic translates a block whose settings and sub-blocks cote has under
// the same names (namespace, mailbox, listeners). service names the
// enclosing service, for user names; fix may rewrite a value.
func (m *migrator) generic(depth int, service string, n *dnode, fix func(c *dnode, val string) (string, bool)) {
	if empty(n) {
		return
	}
	sch := m.schemas[n.key]
	m.line(depth, blockHead(n.key, n.name))
	for _, c := range n.children {
		isSection, ok := sch[c.key]
		switch {
		case c.block && n.key == "service" && (c.key == "inet_listener" || c.key == "unix_listener") && c.name == "":
			if !empty(c) {
				m.note(c.pos, "not carried: %s without a name in service %s (cote names every listener)", c.key, service)
			}
		case c.block && ok && isSection:
			m.generic(depth+1, service, c, fix)
		case c.block:
			m.dropBlock(c, "cote has no %s block inside %s", c.key, n.key)
		case !ok || isSection:
			m.note(c.pos, "not carried: %s = %s in %s (cote has no such setting there)", c.key, c.value, n.key)
		default:
			val, literal := m.expand(c.value)
			if c.key == "user" || c.key == "group" {
				val = mapUser(val, service)
			}
			if fix != nil {
				var keep bool
				if val, keep = fix(c, val); !keep {
					continue
				}
			}
			m.setting(depth+1, c, val, literal)
		}
	}
	m.line(depth, "}")
}

func (m *migrator) service(n *dnode) {
	switch {
	case slices.Contains(coteServices, n.name):
		m.generic(0, n.name, n, func(c *dnode, val string) (string, bool) {
			if why, ok := droppedServiceKeys[c.key]; ok {
				m.note(c.pos, "not carried: %s in service %s (%s)", c.key, n.name, why)
				return "", false
			}
			return val, true
		})
	case slices.Contains(workerServices, n.name):
		m.dropBlock(n, "cote runs %s sessions in its per-user worker; set limits in service worker { }", n.name)
	case n.name == "auth-worker":
		m.dropBlock(n, "cote's auth process runs its blocking lookups itself (auth_worker_max_count)")
	default:
		m.dropBlock(n, "cote has no service %s", n.name)
	}
}

// driverKnown asks cote's parser whether it accepts a passdb or userdb
// driver.
func (m *migrator) driverKnown(kind, driver string) bool {
	key := kind + " " + driver
	if ok, seen := m.drivers[key]; seen {
		return ok
	}
	_, err := config.ParseString("probe", "ssl = no\n"+kind+" {\n  driver ="+coteValue(driver)+"\n}\n")
	ok := true
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			if e.Pos.Line == 3 {
				ok = false
			}
		}
	}
	m.drivers[key] = ok
	return ok
}

func (m *migrator) db(n *dnode) {
	driver := ""
	for _, c := range n.children {
		if c.key == "driver" && !c.block {
			driver, _ = m.expand(c.value)
		}
	}
	if !m.driverKnown(n.key, driver) {
		m.dropBlock(n, "cote has no %s driver %q", n.key, driver)
		return
	}
	if slices.Contains(unserved[n.key], driver) {
		m.dropBlock(n, "cote's configuration knows the %s driver %s but its auth process does not serve it yet, "+
			"and would not start with it; see docs/admin/auth.md", n.key, driver)
		return
	}
	switch driver {
	case "passwd-file", "static", "passwd":
	case "pam":
		if n.key == "passdb" {
			n = m.pamService(n)
		}
	default:
		m.note(n.pos, "%s driver %s is carried; see docs/admin/auth.md for how cote reads its args", n.key, driver)
	}
	m.generic(0, "", n, nil)
}

// pamService keeps a PAM passdb on Dovecot's PAM service: without a
// service name in its args Dovecot uses "dovecot" (/etc/pam.d/dovecot)
// and cote "cote", so the name is written out. It returns n, or a copy
// of it with the args changed.
func (m *migrator) pamService(n *dnode) *dnode {
	c := *n
	c.children = slices.Clone(n.children)
	i := slices.IndexFunc(c.children, func(x *dnode) bool { return x.key == "args" && !x.block })
	args := ""
	if i >= 0 {
		args, _ = m.expand(c.children[i].value)
		for _, w := range strings.Fields(args) {
			if !strings.Contains(w, "=") {
				return n // a service is named
			}
		}
	}
	at := n.pos
	arg := &dnode{pos: at, key: "args", value: strings.TrimSpace(args + " dovecot")}
	if i >= 0 {
		arg.pos = c.children[i].pos
		c.children[i] = arg
	} else {
		c.children = append(c.children, arg)
	}
	m.note(arg.pos, "passdb pam: args name the PAM service dovecot, Dovecot's default (/etc/pam.d/dovecot); cote's default would be cote")
	return &c
}

func (m *migrator) protocol(n *dnode) {
	if !slices.Contains(coteProtocols, n.name) {
		m.dropBlock(n, "cote has no protocol %s", n.name)
		return
	}
	if empty(n) {
		return
	}
	m.line(0, blockHead("protocol", n.name))
	for _, c := range n.children {
		switch isSection, ok := m.schemas[""][c.key]; {
		case c.block:
			m.dropBlock(c, "cote allows only settings inside a protocol block")
		case !ok || isSection:
			m.note(c.pos, "not carried: %s = %s in protocol %s (cote has no such setting)", c.key, c.value, n.name)
		default:
			val, literal := m.expand(c.value)
			m.setting(1, c, val, literal)
		}
	}
	m.line(0, "}")
}

// mapBlock carries plugin { } and dict { } entries as they are.
func (m *migrator) mapBlock(n *dnode) {
	if empty(n) {
		return
	}
	m.line(0, n.key+" {")
	for _, c := range n.children {
		if c.block {
			m.dropBlock(c, "blocks inside %s { } are not carried", n.key)
			continue
		}
		val, literal := m.expand(c.value)
		m.setting(1, c, val, literal)
	}
	m.line(0, "}")
}

// check parses the translated text with cote's parser and comments out
// each line it refuses, up to a few rounds (commenting one line out can
// reveal another). Lines with `<file` values are kept: the file may just
// not be readable by whoever runs the migration. It returns the final text
// and the problems that remain.
func (m *migrator) check(name, text string) (string, []string) {
	for round := 0; ; round++ {
		_, err := config.ParseString(name, text)
		if err == nil {
			return text, nil
		}
		var list config.ErrorList
		if !errors.As(err, &list) {
			return text, []string{err.Error()}
		}
		lines := strings.Split(text, "\n")
		var left []string
		changed := false
		for _, e := range list {
			i := e.Pos.Line - 1
			if e.Pos.File != name || i < 0 || i >= len(lines) || round >= 4 ||
				strings.Contains(lines[i], "= <") || strings.HasSuffix(strings.TrimSpace(lines[i]), "{") ||
				strings.TrimSpace(lines[i]) == "}" || strings.HasPrefix(strings.TrimSpace(lines[i]), "#") {
				left = append(left, e.Error())
				continue
			}
			where := ""
			if pos, ok := m.src[e.Pos.Line-headerLines]; ok {
				where = pos.String() + ": "
			}
			m.notes = append(m.notes, fmt.Sprintf("%snot carried: %s (cote refuses it: %s)", where, strings.TrimSpace(lines[i]), e.Msg))
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
			lines[i] = indent + "# " + strings.TrimSpace(lines[i]) + "  # refused by cote: " + strings.ReplaceAll(e.Msg, "\n", " ")
			changed = true
		}
		text = strings.Join(lines, "\n")
		if !changed {
			return text, left
		}
	}
}
