// Command cote-bench is a load generator for IMAP, POP3 and LMTP servers,
// cote or any other, on loopback. Each scenario is bounded in time and in
// count; results print as a table and, with -json, as JSON that
// `cote-bench report` turns into the side-by-side page docs/benchmarks.md
// (see bench/run.sh, which `make bench` runs).
//
//	cote-bench [flags] all|login|lmtp|append|fetch|search|pop3|idle
//	cote-bench gen-maildir -n N [-first I] -dir DIR [-uid U -gid G]
//	cote-bench gen-mbox -n N -o FILE
//	cote-bench imaptest -bin PATH [flags] [-- imaptest args]
//	cote-bench report -o FILE RUN.json ...
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

var scenarios = []struct {
	name string
	run  func(*options) []Result
}{
	{"login", runLogin},
	{"lmtp", runLMTP},
	{"append", runAppend},
	{"fetch", runFetch},
	{"search", runSearch},
	{"pop3", runPOP3},
	{"idle", runIdle},
}

func usage(fs *flag.FlagSet) func() {
	return func() {
		fmt.Fprintf(os.Stderr, `usage: cote-bench [flags] SCENARIO...
scenarios: all, login, lmtp, append, fetch, search, pop3, idle
other commands: gen-maildir, gen-mbox, imaptest, report (each takes -h)

flags:
`)
		fs.PrintDefaults()
	}
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "gen-maildir":
			exit(cmdGenMaildir(os.Args[2:]))
		case "gen-mbox":
			exit(cmdGenMbox(os.Args[2:]))
		case "imaptest":
			exit(cmdImaptest(os.Args[2:]))
		case "report":
			exit(cmdReport(os.Args[2:]))
		}
	}
	exit(cmdRun(os.Args[1:]))
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "cote-bench:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// raiseNoFile lifts the open-file limit to its hard maximum: the idle
// scenario holds thousands of connections.
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("cote-bench", flag.ExitOnError)
	o := &options{}
	var label, jsonPath, fetchUsers string
	fs.StringVar(&label, "label", "server", "name of the server under test in the report")
	fs.StringVar(&jsonPath, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&o.imapAddr, "imap", "127.0.0.1:143", "IMAP address")
	fs.StringVar(&o.pop3Addr, "pop3", "127.0.0.1:110", "POP3 address")
	fs.StringVar(&o.lmtpAddr, "lmtp", "127.0.0.1:24", "LMTP address (TCP)")
	fs.StringVar(&o.userFmt, "user", "bench%d", "user name, with %d for the user's number")
	fs.IntVar(&o.users, "users", 100, "number of users (user 0 .. users-1)")
	fs.StringVar(&o.pass, "pass", "pass", "password of every user")
	fs.StringVar(&o.domain, "domain", "bench.example", "domain of LMTP recipient addresses")
	fs.IntVar(&o.srv.pid, "pid", 0, "server's master pid: CPU and PSS are summed over its process tree")
	fs.StringVar(&o.srv.cgroup, "cgroup", "", "server's cgroup directory, instead of -pid")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of a connect, greeting or login")
	fs.DurationVar(&o.opTimeout, "op-timeout", 3*time.Minute, "timeout of one SELECT, FETCH, SEARCH, the RETR run, opening the IDLE sessions")
	fs.IntVar(&o.loginClients, "login-clients", 20, "login: concurrent clients")
	fs.DurationVar(&o.loginDur, "login-time", 10*time.Second, "login: duration")
	fs.IntVar(&o.loginCount, "login-count", 0, "login: stop after this many (0: time only)")
	fs.IntVar(&o.lmtpSessions, "lmtp-sessions", 8, "lmtp: concurrent sessions")
	fs.DurationVar(&o.lmtpDur, "lmtp-time", 10*time.Second, "lmtp: duration")
	fs.IntVar(&o.lmtpCount, "lmtp-count", 0, "lmtp: stop after this many messages (0: time only)")
	fs.IntVar(&o.lmtpMulti, "lmtp-multi", 20, "lmtp: percent of messages with 2-3 recipients")
	fs.IntVar(&o.appendClients, "append-clients", 8, "append: concurrent clients, one user each")
	fs.DurationVar(&o.appendDur, "append-time", 10*time.Second, "append: duration")
	fs.IntVar(&o.appendCount, "append-count", 0, "append: stop after this many (0: time only)")
	fs.StringVar(&fetchUsers, "fetch-users", "big20k,big100k", "fetch, search: users whose INBOX is the big mailbox")
	fs.IntVar(&o.repeat, "repeat", 2, "fetch, search: repetitions after the first")
	fs.StringVar(&o.searchText, "search-text", rareWord, "search: the rare word for UID SEARCH TEXT")
	fs.StringVar(&o.searchSubject, "search-subject", subjectWord, "search: the word for SEARCH SUBJECT")
	fs.DurationVar(&o.searchSettle, "search-settle", 5*time.Minute, "search: wait at most this long for the server's CPU to be quiet, then search the text again (0: not)")
	fs.StringVar(&o.pop3User, "pop3-user", "pop1k", "pop3: user whose messages are retrieved")
	fs.IntVar(&o.pop3Count, "pop3-count", 1000, "pop3: messages to RETR")
	fs.IntVar(&o.idleConns, "idle-conns", 1000, "idle: IDLE connections to open")
	fs.IntVar(&o.idlePerUser, "idle-per-user", 3, "idle: connections per user")
	fs.DurationVar(&o.idleSettle, "idle-settle", 5*time.Second, "idle: wait after the last IDLE before measuring")
	fs.StringVar(&o.idleName, "idle-name", "idle", "idle: the scenario's name in the report (to tell two runs of it apart)")
	fs.DurationVar(&o.settle, "settle", 2*time.Minute, "before each scenario, wait at most this long for the server to be quiet (needs -pid or -cgroup)")
	fs.DurationVar(&o.settleQuiet, "settle-quiet", 12*time.Second, "quiet: under 5% of a CPU in each second of this long (longer than cote's worker linger)")
	fs.Usage = usage(fs)
	fs.Parse(args)
	o.fetchUsers = strings.FieldsFunc(fetchUsers, func(r rune) bool { return r == ',' || r == ' ' })
	o.idlePerUser = max(o.idlePerUser, 1)
	names := fs.Args()
	if len(names) == 0 {
		fs.Usage()
		return fmt.Errorf("no scenario given")
	}
	if len(names) == 1 && names[0] == "all" {
		names = nil
		for _, s := range scenarios {
			names = append(names, s.name)
		}
	}
	raiseNoFile()
	run := &Run{Label: label, Started: time.Now().UTC(), Args: os.Args[1:], Machine: machine()}
	run.Load[0] = loadAverage()
	if c, err := dialIMAP(o.imapAddr, o.timeout); err == nil {
		run.Server = strings.TrimSpace(strings.TrimPrefix(c.caps, "* OK"))
		c.Close()
	}
	for _, name := range names {
		found := false
		for _, s := range scenarios {
			if s.name != name {
				continue
			}
			found = true
			waited, busy, used := o.srv.settle(o.settle, o.settleQuiet)
			if waited > o.settleQuiet {
				fmt.Fprintf(os.Stderr, "cote-bench: %s: waited %.0f s for the server to settle (%.0f%% of a CPU at the end)\n",
					label, waited.Seconds(), 100*busy)
			}
			t := time.Now()
			fmt.Fprintf(os.Stderr, "cote-bench: %s: %s ...\n", label, name)
			res := s.run(o)
			if used >= time.Second && len(res) > 0 {
				// Background work the previous scenarios left (an
				// index filled after its sessions ended) is part of
				// what this one found.
				res[0].Detail = strings.TrimPrefix(fmt.Sprintf("%s; before it the server worked on for %.0f s (%.1f s of CPU) until quiet",
					res[0].Detail, (waited-o.settleQuiet).Seconds(), used.Seconds()), "; ")
			}
			for _, r := range res {
				if r.Skipped != "" {
					fmt.Fprintf(os.Stderr, "cote-bench: %s: %s: skipped: %s\n", label, r.Scenario, r.Skipped)
				}
			}
			fmt.Fprintf(os.Stderr, "cote-bench: %s: %s done in %.1f s\n", label, name, time.Since(t).Seconds())
			run.Results = append(run.Results, res...)
		}
		if !found {
			return fmt.Errorf("unknown scenario %q", name)
		}
	}
	run.Seconds = time.Since(run.Started).Seconds()
	run.Load[1] = loadAverage()
	if err := writeTable(os.Stdout, run); err != nil {
		return err
	}
	if jsonPath != "" {
		return writeJSON(jsonPath, run)
	}
	return nil
}

func cmdGenMaildir(args []string) error {
	fs := flag.NewFlagSet("gen-maildir", flag.ExitOnError)
	n := fs.Int("n", 1000, "messages")
	first := fs.Int("first", 0, "number of the first message (messages of the same number are the same bytes)")
	dir := fs.String("dir", "", "Maildir to create (its cur/ gets the messages)")
	uid := fs.Int("uid", -1, "owner of the files (-1: leave as is)")
	gid := fs.Int("gid", -1, "group of the files (-1: the uid)")
	to := fs.String("to", "user@bench.example", "To: address")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("gen-maildir: -dir is required")
	}
	if *gid < 0 {
		*gid = *uid
	}
	return genMaildir(*dir, *first, *n, *uid, *gid, *to)
}

func cmdGenMbox(args []string) error {
	fs := flag.NewFlagSet("gen-mbox", flag.ExitOnError)
	n := fs.Int("n", 1000, "messages")
	out := fs.String("o", "", "mbox file to write")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("gen-mbox: -o is required")
	}
	return genMbox(*out, *n)
}
