package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// imaptestNames are the column heads of imaptest's summary.
var imaptestNames = map[string]string{
	"Logi": "LOGIN", "List": "LIST", "Stat": "STATUS", "Sele": "SELECT", "Fetc": "FETCH",
	"Fet2": "FETCH2", "Stor": "STORE", "Dele": "DELETE", "Expu": "EXPUNGE", "Appe": "APPEND",
	"Logo": "LOGOUT", "Noop": "NOOP", "Chec": "CHECK", "Sear": "SEARCH", "Copy": "COPY",
}

// imaptestTotals parses imaptest's output: the column heads and counts
// after "Totals:", and the "ms/cmd avg" line before it. Columns that
// never ran (count 0 and a 0% share) are left out.
func imaptestTotals(out io.Reader) (heads []string, counts, avgMs []float64, err error) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), " "))
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, err
	}
	tot := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "Totals:" {
			tot = i
		}
	}
	if tot < 0 || tot+1 >= len(lines) {
		return nil, nil, nil, fmt.Errorf("imaptest: no Totals in its output")
	}
	heads = strings.Fields(lines[tot+1])
	nums := func(l string) []float64 {
		f := strings.Fields(l)
		if len(f) < len(heads) {
			return nil
		}
		out := make([]float64, len(heads))
		for i := range heads {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil
			}
			out[i] = v
		}
		return out
	}
	for _, l := range lines[tot+2:] {
		if strings.Contains(l, "%") {
			continue
		}
		if n := nums(l); n != nil {
			counts = n
		}
	}
	if counts == nil {
		return nil, nil, nil, fmt.Errorf("imaptest: no counts after Totals")
	}
	for _, l := range lines[:tot] {
		if strings.HasSuffix(l, "ms/cmd avg") {
			avgMs = nums(l)
		}
	}
	return heads, counts, avgMs, nil
}

func cmdImaptest(args []string) error {
	fs := flag.NewFlagSet("imaptest", flag.ExitOnError)
	bin := fs.String("bin", "", "imaptest binary (Dovecot's stress tester)")
	label := fs.String("label", "server", "name of the server under test")
	addr := fs.String("imap", "127.0.0.1:143", "IMAP address")
	user := fs.String("user", "bench%d", "user template; imaptest's %d runs from 1 to -users")
	pass := fs.String("pass", "pass", "password")
	users := fs.Int("users", 99, "users")
	clients := fs.Int("clients", 50, "concurrent clients")
	secs := fs.Int("secs", 60, "seconds")
	mbox := fs.String("mbox", "", "mbox file that APPEND takes messages from (cote-bench gen-mbox)")
	logout0 := fs.Bool("logout0", false, "run with logout=0: clients stay logged in")
	jsonPath := fs.String("json", "", "write the results as JSON to this file")
	rawPath := fs.String("raw", "", "keep imaptest's own output in this file")
	var srv server
	fs.IntVar(&srv.pid, "pid", 0, "server's master pid: its process tree's CPU per command is reported")
	fs.StringVar(&srv.cgroup, "cgroup", "", "server's cgroup directory, instead of -pid")
	fs.Parse(args)
	if *bin == "" || *mbox == "" {
		return fmt.Errorf("imaptest: -bin and -mbox are required")
	}
	host, port, ok := strings.Cut(*addr, ":")
	if !ok {
		return fmt.Errorf("imaptest: -imap %q is not host:port", *addr)
	}
	targs := []string{"host=" + host, "port=" + port, "user=" + *user, "pass=" + *pass,
		"users=" + strconv.Itoa(*users), "clients=" + strconv.Itoa(*clients), "secs=" + strconv.Itoa(*secs), "mbox=" + *mbox}
	sc := "imaptest"
	if *logout0 {
		targs = append(targs, "logout=0")
		sc = "imaptest logout=0"
	}
	targs = append(targs, fs.Args()...)
	cmd := exec.Command(*bin, targs...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH=/usr/lib/dovecot:"+os.Getenv("LD_LIBRARY_PATH"))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	fmt.Fprintf(os.Stderr, "cote-bench: %s: %s %s\n", *label, *bin, strings.Join(targs, " "))
	load0 := loadAverage()
	cpu0, _ := srv.cpu()
	runErr := cmd.Run()
	cpu1, _ := srv.cpu()
	run := &Run{Label: *label, Started: start.UTC(), Seconds: time.Since(start).Seconds(), Args: os.Args[1:], Machine: machine(),
		Load: [2]float64{load0, loadAverage()}}
	if *rawPath != "" {
		if err := os.WriteFile(*rawPath, out.Bytes(), 0o644); err != nil {
			return err
		}
	}
	heads, counts, avg, err := imaptestTotals(bytes.NewReader(out.Bytes()))
	if err != nil {
		tail := out.String()
		if len(tail) > 300 {
			tail = tail[len(tail)-300:]
		}
		reason := fmt.Sprintf("%v (exit: %v): %s", err, runErr, strings.Join(strings.Fields(tail), " "))
		run.Results = []Result{{Scenario: sc, Metric: "-", Skipped: reason}}
	} else {
		errs := bytes.Count(out.Bytes(), []byte("Error: "))
		for i, h := range heads {
			name := imaptestNames[h]
			if name == "" {
				name = h
			}
			d := fmt.Sprintf("%d clients, %d users, %d s, %.0f commands", *clients, *users, *secs, counts[i])
			if avg != nil {
				d += fmt.Sprintf(", %.0f ms/cmd on average", avg[i])
			}
			if i == 0 && errs > 0 {
				d += fmt.Sprintf("; %d error lines", errs)
			}
			run.Results = append(run.Results, Result{Scenario: sc, Metric: name + "/s", Value: counts[i] / float64(*secs), Better: higher, Detail: d})
		}
		if r := cpuPerCommand(sc, srv, cpu1-cpu0, counts, cmd.ProcessState); r != nil {
			run.Results = append(run.Results, *r)
		}
	}
	if err := writeTable(os.Stdout, run); err != nil {
		return err
	}
	if *jsonPath != "" {
		return writeJSON(*jsonPath, run)
	}
	return nil
}

// cpuPerCommand is the server's CPU per command of an imaptest run, with
// imaptest's own CPU in the detail: both run on the same machine, so
// what imaptest takes the server does not get.
func cpuPerCommand(sc string, srv server, used time.Duration, counts []float64, ps *os.ProcessState) *Result {
	if !srv.ok() || ps == nil {
		return nil
	}
	var n float64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return nil
	}
	own := ps.UserTime() + ps.SystemTime()
	return &Result{Scenario: sc, Metric: "server CPU ms/command", Value: used.Seconds() * 1000 / n, Better: lower,
		Detail: fmt.Sprintf("%.1f s of server CPU over %.0f commands; imaptest itself used %.1f s of CPU", used.Seconds(), n, own.Seconds())}
}
