// Command coteadm is cote's administration command line.
//
// Subcommands are rows of one table (commands, below): a name of one or
// more words, a usage line, a summary, and a run function. The dispatcher
// matches the longest name, so "migrate dovecot" and a later "mailbox
// status" sit beside "pw" without special cases. The subcommands here work
// offline, on files; the ones that talk to a running master's admin socket
// are added to the same table when that socket exists.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at link time (-ldflags -X main.version=...).
var version = "0.1.0-dev"

// defaultConfig is where an installed cote keeps its configuration.
const defaultConfig = "/etc/cote/cote.conf"

// command is one subcommand.
type command struct {
	name    string // one or more words: "pw", "migrate dovecot"
	usage   string // arguments after the name, for the usage line
	summary string // one line, for the command list and the man page
	// help is the description in coteadm(1): paragraphs separated by
	// blank lines, no markup except `code`.
	help   string
	hidden bool // left out of the usage list and the man page
	run    func(e *env, args []string) error
}

// commands is the closed set of subcommands, in the order `coteadm help`
// and coteadm(1) list them. It is a function so that the table can refer to
// the run functions without an initialization cycle.
func commands() []command {
	cmds := []command{}
	cmds = append(cmds, authCommands()...)
	cmds = append(cmds, mailCommands()...)
	cmds = append(cmds, processCommands()...)
	cmds = append(cmds, pprofCommand())
	return append(cmds,
		pwCommand(),
		configCommand(),
		migrateDovecotCommand(),
		genManCommand(),
	)
}

// env is what a subcommand runs with: the common flags and the standard
// streams. Tests build their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// isTerminal reports whether stdin is a terminal (for password
	// prompts without echo).
	isTerminal func() bool
	readSecret func(prompt string) (string, error)

	confPath string // -c
	devDir   string // --dev
	format   string // -f: table, json or flow

	base string // base_dir of the instance, once read
}

// exitError carries an exit status other than 1 and a message already
// printed (or none).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a mistake in the command line: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// silentFailure is exit status 1 with everything already said.
var silentFailure = &exitError{code: 1}

func main() {
	os.Exit(run(os.Args[1:], newEnv()))
}

func newEnv() *env {
	return &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		isTerminal: func() bool { return isTerminal(os.Stdin) },
		readSecret: func(prompt string) (string, error) { return readSecretTTY(os.Stdin, os.Stderr, prompt) },
		confPath:   defaultConfig,
		format:     "table",
	}
}

// commonFlags registers -c, --dev and -f on fs, bound to e. Every
// subcommand's flag set has them, so they may come before or after the
// subcommand's name.
func (e *env) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.confPath, "c", e.confPath, "configuration `file`")
	fs.StringVar(&e.devDir, "dev", e.devDir, "use the development instance with its state in `DIR` (as cote --dev DIR)")
	fs.StringVar(&e.format, "f", e.format, "output `format`: table, json or flow")
}

func run(args []string, e *env) int {
	top := flag.NewFlagSet("coteadm", flag.ContinueOnError)
	top.SetOutput(e.stderr)
	e.commonFlags(top)
	showVersion := top.Bool("version", false, "print the version and exit")
	top.Usage = func() { writeUsage(e.stderr, top) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintf(e.stdout, "coteadm %s\n", version)
		return 0
	}
	rest := top.Args()
	if len(rest) == 0 {
		writeUsage(e.stderr, top)
		return 2
	}
	if rest[0] == "help" {
		writeUsage(e.stdout, top)
		return 0
	}
	cmd, cmdArgs := lookup(rest)
	if cmd == nil {
		fmt.Fprintf(e.stderr, "coteadm: unknown command %q (coteadm help lists them)\n", strings.Join(rest, " "))
		return 2
	}
	if err := checkFormat(e.format); err != nil {
		fmt.Fprintln(e.stderr, "coteadm:", err)
		return 2
	}
	err := cmd.run(e, cmdArgs)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(e.stderr, "coteadm %s: %s\n", cmd.name, ee.msg)
		}
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(e.stderr, "coteadm %s: %v\n", cmd.name, err)
		return 1
	}
}

// lookup finds the command whose name is the longest run of leading words
// of args, and returns it with the remaining arguments.
func lookup(args []string) (*command, []string) {
	var best *command
	n := 0
	cmds := commands()
	for i := range cmds {
		words := strings.Fields(cmds[i].name)
		if len(words) <= len(args) && len(words) > n && equalWords(words, args[:len(words)]) {
			best, n = &cmds[i], len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[n:]
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func writeUsage(w io.Writer, top *flag.FlagSet) {
	fmt.Fprintf(w, "usage: coteadm [-c FILE | --dev DIR] [-f table|json|flow] COMMAND [ARGS]\n\ncommands:\n")
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		fmt.Fprintf(w, "  %-40s %s\n", strings.TrimSpace(c.name+" "+c.usage), c.summary)
	}
	fmt.Fprintf(w, "\ncommon flags:\n")
	top.SetOutput(w)
	top.PrintDefaults()
}

// newFlagSet returns the flag set of subcommand c, with the common flags
// and a usage function that prints c's usage line.
func (e *env) newFlagSet(c command) *flag.FlagSet {
	fs := flag.NewFlagSet("coteadm "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	e.commonFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: coteadm %s %s\n%s\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a subcommand's arguments, flags and operands in any
// order (`migrate dovecot DIR -o FILE`), and returns the operands. "--"
// ends the flags. A flag error has already been printed by the flag
// package: it becomes exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: 2}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}
