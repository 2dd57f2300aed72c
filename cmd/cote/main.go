// Command cote is the cote mail server: the master process and, as hidden
// subcommands the master executes, every other role.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"cote/child"
	"cote/config"
	"cote/master"
	"cote/proto"
)

var version = "0.1.0-dev"

func main() {
	if len(os.Args) == 2 && os.Args[1] == child.IdentityFlag {
		// What a cote-worker built with this binary prints too
		// (master/workerexe.go).
		fmt.Println(child.Identity())
		return
	}
	if len(os.Args) > 1 {
		if run, ok := roles[os.Args[1]]; ok {
			os.Exit(child.Run(os.Args[1], run))
		}
	}
	os.Exit(runMaster())
}

func runMaster() int {
	fs := flag.NewFlagSet("cote", flag.ContinueOnError)
	confPath := fs.String("c", "/etc/cote/cote.conf", "configuration `file`")
	devDir := fs.String("dev", "", "run the embedded development default with all state under `DIR`")
	printNonDefault := fs.Bool("n", false, "print the non-default configuration and exit")
	printAll := fs.Bool("a", false, "print the whole configuration and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cote [-c FILE | --dev DIR] [-n | -a | --version]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cote: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Printf("cote %s (control protocol %d)\n", version, proto.Version)
		return 0
	}
	load := func() (*config.Settings, error) { return config.ParseFile(*confPath) }
	if *devDir != "" {
		dir, err := filepath.Abs(*devDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cote:", err)
			return 1
		}
		ids, err := master.SetupDev(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cote: prepare development directory:", err)
			return 1
		}
		text := config.DevText(dir, ids)
		load = func() (*config.Settings, error) { return config.ParseString("(development default)", text) }
		if !*printAll && !*printNonDefault {
			devBanner(dir, ids)
		}
	}
	if *printAll || *printNonDefault {
		s, err := load()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if *printAll {
			err = s.WriteAll(os.Stdout)
		} else {
			err = s.WriteNonDefault(os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cote:", err)
			return 1
		}
		return 0
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cote: find own executable:", err)
		return 1
	}
	master.Version = version
	if err := master.Run(context.Background(), master.Options{Load: load, Exe: exe, Dev: *devDir != ""}); err != nil {
		fmt.Fprintln(os.Stderr, "cote:", err)
		return 1
	}
	return 0
}

func devBanner(dir string, ids config.DevIDs) {
	mode := "as root: every role under its own numeric uid (50001-50100), login processes chrooted"
	if !ids.Root {
		mode = fmt.Sprintf("as uid %d: every role runs under this uid, without privilege separation", ids.UID)
	}
	fmt.Fprintf(os.Stderr, `cote development server, state in %s
  running %s
  IMAP   127.0.0.1:10143 (STARTTLS)   IMAPS 127.0.0.1:10993
  POP3   127.0.0.1:10110 (STLS)       POP3S 127.0.0.1:10995
  LMTP   127.0.0.1:10024 and %s/run/lmtp   ManageSieve 127.0.0.1:14190
  metrics http://127.0.0.1:10090/metrics   admin: coteadm --dev %s who
  user demo, password demo; self-signed certificate in %s/ssl
  try:   python3 -c "import imaplib; c=imaplib.IMAP4('127.0.0.1',10143); print(c.login('demo','demo')); print(c.list())"
     or: openssl s_client -quiet -connect 127.0.0.1:10993
  stop with Ctrl-C
`, dir, mode, dir, dir, dir)
}
