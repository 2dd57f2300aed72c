package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cote/admin"
)

// The commands in this file talk to a running master through its admin
// socket (base_dir/admin, package admin). Process-level commands (who,
// kick, reload, stop, log reopen, stats, user) are answered by the master;
// mail commands name a user with -u (or all users with -A) and run inside
// that user's worker, ordered with the user's live sessions.

// Exit statuses, as doveadm's (sysexits.h).
const (
	exitNoUser   = 67 // EX_NOUSER: the user does not exist
	exitNotFound = 68 // EX_NOHOST, doveadm's "not found": mailbox, message, script
	exitTempFail = 75 // EX_TEMPFAIL: server not running, auth or storage failure
	exitNoPerm   = 77 // EX_NOPERM: authentication failed (auth test)
)

// codeExit maps an admin failure code to an exit status.
func codeExit(code string) int {
	switch code {
	case admin.CodeNoUser:
		return exitNoUser
	case admin.CodeNotFound:
		return exitNotFound
	case admin.CodeTempFail:
		return exitTempFail
	}
	return 1
}

// queryHelp is the part of each mail command's help that explains queries.
const queryHelp = "QUERY is an IMAP SEARCH program (RFC 9051 section 6.4.4), one key or argument per word, " +
	"as `doveadm search` takes it: `mailbox INBOX SUBJECT hello SINCE 1-Jan-2026`, " +
	"`OR FROM alice ( SEEN LARGER 10000 )`. `mailbox NAME` (LIST wildcards `*` and `%` allowed, " +
	"repeatable) chooses the mailboxes; without it every mailbox is searched. Dates may also be " +
	"written 2026-01-31, and BEFORE, SINCE and the SAVED and SENT keys take an interval such as `30d` " +
	"(s, m, h, d, w) meaning that long ago. `all` matches every message."

// userHelp is the part of each mail command's help about -u and -A.
const userHelp = "-u USER names the user (a shell pattern such as `*@example.org` runs the command for every " +
	"matching user of the userdb); -A runs it for every user the userdb lists. With more than one user " +
	"the output gets a `username` column, and a failure for one user does not stop the others."

// mailCommand is a command run in a user's worker.
type mailCommand struct {
	name, usage, summary, help string
	// flags adds command flags; prepare turns them and the operands into
	// the request's arguments and input.
	flags   func(fs *flag.FlagSet) func(e *env, operands []string) ([]string, []byte, error)
	minArgs int
}

func (m mailCommand) command() command {
	return command{
		name:    m.name,
		usage:   "-u USER|-A " + m.usage,
		summary: m.summary,
		help:    m.help,
		run:     func(e *env, args []string) error { return runMail(e, m, args) },
	}
}

func mailCommands() []command {
	query := func(fs *flag.FlagSet) func(*env, []string) ([]string, []byte, error) { return nil }
	var out []command
	for _, m := range []mailCommand{
		{name: "mailbox list", usage: "[MASK...]", summary: "list the user's mailboxes",
			help: "Lists the user's mailboxes with their attributes and whether they are subscribed; " +
				"MASKs (LIST wildcards `*` and `%`) limit the list. " + userHelp},
		{name: "mailbox status", usage: "[FIELDS] MAILBOX...", summary: "show mailboxes' message counts and state",
			help: "Shows a mailbox's counts: FIELDS is one word of space-separated names out of messages, recent, " +
				"unseen, deleted, uidnext, uidvalidity, highestmodseq and vsize, or `all` (the default), as " +
				"`doveadm mailbox status 'messages unseen' INBOX`. MAILBOX may be a LIST pattern. " +
				"A mailbox that does not exist exits 68."},
		{name: "mailbox create", usage: "NAME...", summary: "create mailboxes", minArgs: 1,
			help: "Creates each mailbox, with its parents as needed."},
		{name: "mailbox delete", usage: "NAME...", summary: "delete mailboxes", minArgs: 1,
			help: "Deletes each mailbox and the messages in it. A mailbox that does not exist exits 68."},
		{name: "mailbox rename", usage: "OLD NEW", summary: "rename a mailbox", minArgs: 2,
			help: "Renames a mailbox with its children. Renaming INBOX moves its messages into NEW and leaves INBOX empty, as IMAP RENAME does."},
		{name: "mailbox subscribe", usage: "NAME...", summary: "subscribe to mailboxes", minArgs: 1,
			help: "Adds each mailbox to the user's subscriptions."},
		{name: "mailbox unsubscribe", usage: "NAME...", summary: "unsubscribe from mailboxes", minArgs: 1,
			help: "Removes each mailbox from the user's subscriptions."},
		{name: "fetch", usage: "FIELDS QUERY...", summary: "print fields of the messages a query matches", minArgs: 1,
			help: "Prints the FIELDS (one word, space-separated) of every matching message: mailbox, uid, seq, " +
				"flags, modseq, size (size.virtual, size.physical: the size with CRLF line endings), date " +
				"(date.received: the internal date), date.saved, date.sent (the Date header), hdr (the header), " +
				"hdr.NAME (one header field, unfolded), body, text (the whole message), subject, from. In the " +
				"table format, values with line breaks are printed as `field: value` blocks, one message after " +
				"another separated by a form feed, as doveadm's pager format. " + queryHelp},
		{name: "search", usage: "QUERY...", summary: "list the mailbox and UID of the messages a query matches",
			help: "Prints the mailbox and UID of every matching message. " + queryHelp + " " + userHelp},
		{name: "expunge", usage: "QUERY...", summary: "remove the messages a query matches", minArgs: 1,
			help: "Removes the matching messages at once (no \\Deleted round trip for the user's clients; they see " +
				"EXPUNGE or VANISHED). A query is required; `all` removes every message of the chosen mailboxes. " + queryHelp},
		{name: "flags add", usage: "FLAGS QUERY...", summary: "add flags to the messages a query matches", minArgs: 2,
			help: "FLAGS is one word of space-separated system flags and keywords: `'\\Seen $Important'`. " + queryHelp},
		{name: "flags remove", usage: "FLAGS QUERY...", summary: "remove flags from the messages a query matches", minArgs: 2,
			help: "As flags add, removing the flags."},
		{name: "flags replace", usage: "FLAGS QUERY...", summary: "set the flags of the messages a query matches", minArgs: 2,
			help: "As flags add, replacing all flags and keywords with FLAGS."},
		{name: "copy", usage: "DESTINATION QUERY...", summary: "copy the messages a query matches into a mailbox", minArgs: 2,
			help: "Copies the matching messages, keeping their flags and dates, into DESTINATION, which must exist (exit 68 if not). " + queryHelp},
		{name: "move", usage: "DESTINATION QUERY...", summary: "move the messages a query matches into a mailbox", minArgs: 2,
			help: "As copy, then removes the originals atomically (IMAP MOVE). Messages already in DESTINATION stay."},
		{name: "import", usage: "[-m DEST] maildir:PATH PARENT|mbox:FILE [QUERY...]", summary: "copy messages from a Maildir or an mbox file into the user's mailboxes", minArgs: 1,
			flags: importFlags,
			help: "Reads the Maildir (Maildir++ layout, or add `:LAYOUT=fs`, as in mail_location) at PATH and appends its " +
				"matching messages, with their flags, keywords and received dates, to the user's mailboxes of the same names " +
				"under PARENT (`\"\"` for the same names; created as needed), as `doveadm import`; with -m DEST they all go " +
				"into DEST instead, and PARENT is not given. The Maildir is read as the user, " +
				"with a throw-away index; a dovecot-uidlist is written into it if it has none.\n\n" +
				"From an mbox file (`mbox:FILE`: one written by export, by Dovecot, by mutt or Thunderbird) every message goes " +
				"into DEST (-m, INBOX by default; created as needed), with the flags of its Status, X-Status and X-Keywords " +
				"headers (or Thunderbird's X-Mozilla-Status and X-Mozilla-Keys) and the date of its From_ line as the " +
				"received date; the file is read under a read lock and left as it was. In both paths `~`, `%u`, `%n`, `%d` " +
				"and `%h` are expanded per user, so that -A reads one source per user. " + userHelp},
		{name: "export", usage: "[-m MAILBOX]... maildir:PATH|mbox:FILE [QUERY...]", summary: "write the user's messages to a Maildir or an mbox file", minArgs: 1,
			flags: exportFlags,
			help: "Writes the matching messages, with their flags, keywords (dovecot-keywords) and received dates (file times), " +
				"into a Maildir++ at PATH, one folder per mailbox, that Dovecot and cote open as they are. PATH is written as the user.\n\n" +
				"`mbox:FILE` writes them instead into one new mbox file (an existing FILE is refused), mailbox after mailbox: " +
				"the received date in the From_ line, flags in Status and X-Status, keywords in X-Keywords (and X-IMAPbase, " +
				"for Dovecot), `>From` quoting of body lines that start with `From ` (a body without such lines gets a " +
				"Content-Length instead), so that export and import give back the same bytes, flags and dates, and Dovecot, " +
				"mutt and Thunderbird read it. -m MAILBOX (repeatable; LIST wildcards allowed) is `mailbox MAILBOX` in the " +
				"query. `~` and `%u` in the path are expanded per user, for -A. " + queryHelp},
		{name: "index rebuild", usage: "", summary: "rebuild the user's index from the Maildir",
			help: "Moves the user's index aside and builds it anew from the Maildir, keeping UIDs, UIDVALIDITY, flags and " +
				"keywords (from dovecot-uidlist, dovecot-keywords and the file names); CONDSTORE clients resynchronize. " +
				"The user must have no open session: exit 75 if one is open (coteadm kick first)."},
		{name: "force-resync", usage: "[MAILBOX...]", summary: "rescan mailboxes and reconcile the index with the files",
			help: "Rescans each mailbox (LIST patterns; all when none is given) and brings the index in line with the Maildir: " +
				"files added, removed or renamed behind cote's back are noticed. Prints each mailbox's message count."},
		{name: "quota get", usage: "", summary: "show the user's quota usage and limits",
			help: "Prints STORAGE (bytes) and MESSAGE usage against the limits of quota_rule (`-` when unlimited)."},
		{name: "quota recalc", usage: "", summary: "recount the user's quota usage",
			help: "Rescans every mailbox (as force-resync) so that the usage counts what is on disk, then prints it as quota get."},
		{name: "sieve list", usage: "", summary: "list the user's Sieve scripts",
			help: "Lists the user's scripts (the ones ManageSieve manages, in ~/sieve) and marks the active one."},
		{name: "sieve put", usage: "[-a] NAME [FILE]", summary: "store a Sieve script for the user", minArgs: 1,
			flags: func(fs *flag.FlagSet) func(*env, []string) ([]string, []byte, error) {
				activate := fs.Bool("a", false, "activate the script")
				return func(e *env, ops []string) ([]string, []byte, error) {
					if len(ops) > 2 {
						return nil, nil, usageError("unexpected argument %q", ops[2])
					}
					var src []byte
					var err error
					if len(ops) == 2 && ops[1] != "-" {
						src, err = os.ReadFile(ops[1])
					} else {
						src, err = io.ReadAll(e.stdin)
					}
					if err != nil {
						return nil, nil, err
					}
					args := ops[:1]
					if *activate {
						args = []string{"-a", ops[0]}
					}
					return args, src, nil
				}
			},
			help: "Compiles the script (from FILE, or standard input) as delivery would and stores it as NAME, replacing a " +
				"script of that name; a script that does not compile is refused. -a makes it the active script."},
		{name: "sieve get", usage: "NAME", summary: "print one of the user's Sieve scripts", minArgs: 1,
			help: "Prints the script's source."},
		{name: "sieve activate", usage: "NAME", summary: "make a Sieve script the active one", minArgs: 1,
			help: "Makes NAME the script delivery runs (the ~/.cote.sieve link, or the active= path of plugin { sieve = }). A script that does not exist exits 68."},
		{name: "sieve deactivate", usage: "", summary: "run no Sieve script at delivery",
			help: "Removes the active-script link; mail is kept in INBOX."},
		{name: "sieve delete", usage: "NAME...", summary: "delete Sieve scripts", minArgs: 1,
			help: "Deletes scripts; the active script cannot be deleted."},
	} {
		if m.flags == nil {
			m.flags = query
		}
		out = append(out, m.command())
	}
	return out
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// exportFlags: -m MAILBOX, repeatable, becomes `mailbox MAILBOX` keys of
// the query, after the location.
func exportFlags(fs *flag.FlagSet) func(*env, []string) ([]string, []byte, error) {
	var boxes stringList
	fs.Var(&boxes, "m", "export only `MAILBOX` (repeatable)")
	return func(_ *env, ops []string) ([]string, []byte, error) {
		args := []string{ops[0]}
		for _, b := range boxes {
			args = append(args, "mailbox", b)
		}
		return append(args, ops[1:]...), nil, nil
	}
}

// importFlags: -m DEST is sent first as "-m", DEST. Without it a
// Maildir import needs PARENT.
func importFlags(fs *flag.FlagSet) func(*env, []string) ([]string, []byte, error) {
	dest := fs.String("m", "", "import into `MAILBOX` (an mbox's default: INBOX)")
	return func(_ *env, ops []string) ([]string, []byte, error) {
		if *dest == "" {
			if !strings.HasPrefix(ops[0], "mbox:") && len(ops) < 2 {
				return nil, nil, usageError("a Maildir import needs PARENT (\"\" for the same names) or -m DEST")
			}
			return ops, nil, nil
		}
		return append([]string{"-m", *dest}, ops...), nil, nil
	}
}

// adminSocket is the running instance's admin socket.
func (e *env) adminSocket() (string, error) {
	base, err := e.baseDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, admin.SocketName), nil
}

// baseDir reads the configuration for base_dir, where the sockets are.
// A configuration that parsed but does not validate still names them
// (the running master may have started from an older one): coteadm
// warns and goes on.
func (e *env) baseDir() (string, error) {
	if e.base != "" {
		return e.base, nil
	}
	name, s, err := e.loadConfig()
	if s == nil || s.BaseDir == "" {
		if err == nil {
			err = errors.New("no base_dir")
		}
		return "", err
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "coteadm: warning: %s has errors (coteadm config lists them); using base_dir %s\n", name, s.BaseDir)
	}
	e.base = s.BaseDir
	return e.base, nil
}

// call sends one request to the admin socket.
func (e *env) call(req *admin.Request) (*admin.Response, error) {
	sock, err := e.adminSocket()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	resp, err := admin.Do(ctx, sock, req)
	if err != nil {
		return nil, adminError(err)
	}
	return resp, nil
}

// adminError is the exit error for a failed admin socket exchange: the
// server not running is a temporary failure.
func adminError(err error) error {
	code := 1
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		code = exitTempFail
	}
	return &exitError{code: code, msg: err.Error()}
}

// respError turns a failed response into an exit error.
func respError(resp *admin.Response) error {
	return &exitError{code: codeExit(resp.Code), msg: resp.Error}
}

// runMail parses -u/-A and the command's flags, and runs the command for
// each user.
func runMail(e *env, m mailCommand, args []string) error {
	c := m.command()
	fs := e.newFlagSet(c)
	user := fs.String("u", "", "the `user` (a shell pattern for several)")
	all := fs.Bool("A", false, "every user of the userdb")
	prepare := m.flags(fs)
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(operands) < m.minArgs {
		return usageError("usage: coteadm %s %s", c.name, c.usage)
	}
	reqArgs, input := operands, []byte(nil)
	if prepare != nil {
		if reqArgs, input, err = prepare(e, operands); err != nil {
			return err
		}
	}
	users, multi, err := e.targetUsers(*user, *all)
	if err != nil {
		return err
	}
	return e.forUsers(users, multi, func(u string) (*admin.Response, error) {
		return e.call(&admin.Request{Command: m.name, User: u, Args: reqArgs, Input: input})
	})
}

// targetUsers resolves -u and -A: one user, or the userdb's users
// (matching -u's pattern) from the auth-master LIST.
func (e *env) targetUsers(user string, all bool) ([]string, bool, error) {
	switch {
	case all && user != "":
		return nil, false, usageError("-u and -A exclude each other")
	case all:
		users, err := e.listUsers("")
		return users, true, err
	case user == "":
		return nil, false, usageError("a user is required: -u USER or -A")
	case strings.ContainsAny(user, "*?["):
		users, err := e.listUsers(user)
		return users, true, err
	}
	return []string{user}, false, nil
}

// forUsers runs f for each user and prints the results as one table;
// with multi a username column comes first. A failure is reported and
// the next user runs; the exit status is that of the last failure.
func (e *env) forUsers(users []string, multi bool, f func(user string) (*admin.Response, error)) error {
	out := &table{}
	var last error
	for _, u := range users {
		resp, err := f(u)
		if err == nil && !resp.OK {
			err = respError(resp)
		}
		if err != nil {
			if !multi {
				return err
			}
			var ee *exitError
			code := 1
			if errors.As(err, &ee) {
				code = ee.code
			}
			fmt.Fprintf(e.stderr, "coteadm: user %s: %v\n", u, err)
			last = &exitError{code: code}
			continue
		}
		if resp.Columns == nil {
			continue
		}
		if out.fields == nil {
			out.fields = resp.Columns
			if multi {
				out.fields = append([]string{"username"}, resp.Columns...)
			}
		}
		for _, r := range resp.Rows {
			if multi {
				r = append([]string{u}, r...)
			}
			out.rows = append(out.rows, r)
		}
	}
	if out.fields != nil {
		if err := out.write(e.stdout, e.format); err != nil {
			return err
		}
	}
	return last
}

// printResponse prints a response's table, if it has one.
func (e *env) printResponse(resp *admin.Response) error {
	if !resp.OK {
		return respError(resp)
	}
	if resp.Columns == nil {
		return nil
	}
	t := &table{fields: resp.Columns, rows: resp.Rows}
	return t.write(e.stdout, e.format)
}

// masterCommand is a command the master answers itself.
func masterCommand(name, usage, summary, help string, maxArgs int) command {
	c := command{name: name, usage: usage, summary: summary, help: help}
	c.run = func(e *env, args []string) error {
		fs := e.newFlagSet(c)
		operands, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if maxArgs >= 0 && len(operands) > maxArgs {
			return usageError("unexpected argument %q", operands[maxArgs])
		}
		resp, err := e.call(&admin.Request{Command: name, Args: operands})
		if err != nil {
			return err
		}
		if name == "stop" && resp.OK {
			return e.waitStopped(resp)
		}
		return e.printResponse(resp)
	}
	return c
}

func processCommands() []command {
	kick := masterCommand("kick", "USER...", "end every session of users", "Ends every session of each USER "+
		"(a shell pattern matches several): the user's worker closes its connections and exits, as `doveadm kick`. "+
		"Prints the users kicked with their worker's pid and session count.", -1)
	kickRun := kick.run
	kick.run = func(e *env, args []string) error {
		if len(args) == 0 {
			return usageError("usage: coteadm kick USER...")
		}
		return kickRun(e, args)
	}
	return []command{
		masterCommand("who", "[USER...]", "list the users with a worker and their session counts",
			"Lists each user that has a worker process, with its pid and number of open sessions; USER patterns limit the list.", -1),
		kick,
		masterCommand("reload", "", "reread the configuration (as SIGHUP)",
			"Tells the master to reread and check its configuration and restart the services with it; "+
				"a configuration with errors is refused and the old one stays. Prints the new generation number.", 0),
		masterCommand("stop", "", "stop the server and wait for it to exit",
			"Tells the master to stop (as SIGTERM): sessions get BYE, then every process exits. "+
				"Waits up to a minute for the master to be gone.", 0),
		masterCommand("log reopen", "", "reopen the log files (as SIGUSR1)",
			"Reopens log_path, info_log_path and debug_log_path, for logrotate.", 0),
		masterCommand("stats", "", "show processes and restarts per role",
			"Prints, per process role, how many processes run and how often one was restarted.", 0),
	}
}

// waitStopped waits until the master that answered stop is gone.
func (e *env) waitStopped(resp *admin.Response) error {
	base, err := e.baseDir()
	if err != nil {
		return err
	}
	pidfile := filepath.Join(base, "master.pid")
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(pidfile); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := ""
	if len(resp.Rows) > 0 && len(resp.Rows[0]) > 0 {
		pid = resp.Rows[0][0]
	}
	return &exitError{code: exitTempFail, msg: fmt.Sprintf("the master (pid %s) is still running after a minute", pid)}
}
