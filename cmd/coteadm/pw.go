package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"strings"

	"cote/auth/scheme"
)

func pwCommand() command {
	return command{
		name:    "pw",
		usage:   "[-s SCHEME] [-p PASSWORD] [-t HASH] [-l]",
		summary: "hash a password, or verify one against a hash",
		help: "Hashes a password in one of the schemes cote verifies and prints it as `{SCHEME}data`, " +
			"the form a passwd-file, LDAP or SQL passdb stores. The default scheme is CRYPT " +
			"(bcrypt, as Dovecot 2.3 writes it). Without -p, the password is asked for twice " +
			"on a terminal without echo, or read as one line from standard input.\n\n" +
			"With -t HASH, checks the password against HASH instead: prints `HASH (verified)` and exits 0 " +
			"when it matches, and exits 1 when it does not. A HASH without a `{SCHEME}` prefix " +
			"is taken to be in the -s scheme. -l lists the schemes. The output is the same as `doveadm pw`'s, " +
			"and hashes made by either verify with the other.",
		run: runPW,
	}
}

func runPW(e *env, args []string) error {
	c := pwCommand()
	fs := e.newFlagSet(c)
	schemeName := fs.String("s", "CRYPT", "password `scheme`")
	password := fs.String("p", "", "the `password` (default: ask, or read a line from standard input)")
	test := fs.String("t", "", "verify the password against `HASH` instead of hashing it")
	list := fs.Bool("l", false, "list the supported schemes")
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(operands) > 0 {
		return usageError("unexpected argument %q", operands[0])
	}
	if *list {
		t := &table{fields: []string{"scheme"}}
		for _, n := range scheme.Names() {
			t.rows = append(t.rows, []string{n})
		}
		if e.format == "table" {
			// One line, as doveadm pw -l prints them.
			_, err := fmt.Fprintln(e.stdout, strings.Join(scheme.Names(), " "))
			return err
		}
		return t.write(e.stdout, e.format)
	}
	if !scheme.Known(*schemeName) {
		return usageError("unknown scheme %q (coteadm pw -l lists them)", *schemeName)
	}
	pass := *password
	if !flagSet(fs, "p") {
		if pass, err = askPassword(e, *test == ""); err != nil {
			return err
		}
	}
	if *test != "" {
		ok, err := scheme.Verify(*test, pass, *schemeName)
		if err != nil {
			return err
		}
		if !ok {
			return &exitError{code: 1, msg: "password mismatch"}
		}
		t := &table{fields: []string{"hash", "result"}, rows: [][]string{{*test, "verified"}}}
		if e.format == "table" {
			_, err := fmt.Fprintln(e.stdout, *test+" (verified)")
			return err
		}
		return t.write(e.stdout, e.format)
	}
	h, err := scheme.Generate(*schemeName, pass)
	if err != nil {
		return err
	}
	t := &table{fields: []string{"hash"}, rows: [][]string{{h}}}
	return t.write(e.stdout, e.format)
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// askPassword reads the password: twice without echo on a terminal (when
// confirm), else one line of standard input.
func askPassword(e *env, confirm bool) (string, error) {
	if e.isTerminal() {
		p, err := e.readSecret("Enter password: ")
		if err != nil {
			return "", err
		}
		if confirm {
			again, err := e.readSecret("Retype password: ")
			if err != nil {
				return "", err
			}
			if again != p {
				return "", errors.New("the passwords do not match")
			}
		}
		if p == "" {
			return "", errors.New("empty password")
		}
		return p, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
