package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// target is a goal from issue 8 on the ratio subject / best baseline.
type target struct {
	atLeast bool // the ratio must be >= v; else <= v
	v       float64
}

func (t target) String() string {
	if t.atLeast {
		return "≥ " + formatValue(t.v)
	}
	return "≤ " + formatValue(t.v)
}

func (t target) met(ratio float64) bool {
	if t.atLeast {
		return ratio >= t.v
	}
	return ratio > 0 && ratio <= t.v // a figure at or below zero is a measuring error
}

// targetFor returns the goal of a figure, if it has one.
func targetFor(r Result) (target, bool) {
	big := strings.Contains(r.Scenario, "100,000")
	switch {
	case r.Scenario == "login" && r.Metric == "logins/s":
		return target{true, 3}, true
	case r.Scenario == "login" && r.Metric == "server CPU ms/login":
		return target{false, 1.0 / 3}, true
	case r.Scenario == "lmtp" && r.Metric == "messages/s":
		return target{true, 1.5}, true
	case big && strings.HasPrefix(r.Scenario, "fetch") && strings.HasPrefix(r.Metric, "FETCH"):
		return target{false, 0.5}, true
	case big && strings.HasPrefix(r.Metric, "UID SEARCH TEXT"):
		return target{false, 1.0 / 20}, true
	case r.Scenario == "idle" && r.Metric == "PSS KB/connection":
		return target{false, 0.25}, true
	case r.Scenario == "imaptest" && strings.HasSuffix(r.Metric, "/s"):
		return target{true, 2}, true
	case r.Scenario == "imaptest logout=0" && strings.HasSuffix(r.Metric, "/s") &&
		r.Metric != "LOGIN/s" && r.Metric != "SELECT/s": // once per client: clients/secs
		return target{true, 1.5}, true
	}
	return target{}, false
}

// table is every run's results by label and figure, in first-seen order.
type table struct {
	labels []string
	keys   []string
	first  map[string]Result            // key -> first result seen (for scenario, metric, better)
	cells  map[string]map[string]Result // label -> key -> result
	runs   map[string]*Run              // label -> first run (for its server and machine)
}

func newTable(runs []*Run) *table {
	t := &table{first: map[string]Result{}, cells: map[string]map[string]Result{}, runs: map[string]*Run{}}
	for _, run := range runs {
		if t.cells[run.Label] == nil {
			t.labels = append(t.labels, run.Label)
			t.cells[run.Label] = map[string]Result{}
			t.runs[run.Label] = run
		}
		if t.runs[run.Label].Server == "" {
			t.runs[run.Label].Server = run.Server
		}
		for _, r := range run.Results {
			k := r.Key()
			if _, ok := t.first[k]; !ok || t.first[k].Skipped != "" && r.Skipped == "" {
				if !ok {
					t.insertKey(k, r.Scenario)
				}
				t.first[k] = r
			}
			t.cells[run.Label][k] = r
		}
	}
	return t
}

// insertKey adds a figure after the last one of its scenario, so that a
// scenario only some runs have stays in one block.
func (t *table) insertKey(k, scenario string) {
	at := len(t.keys)
	for i, have := range t.keys {
		if t.first[have].Scenario == scenario {
			at = i + 1
		}
	}
	t.keys = slices.Insert(t.keys, at, k)
}

// ratio compares subject with the best of the others on one figure.
func (t *table) ratio(subject, key string) (float64, bool) {
	s, ok := t.cells[subject][key]
	if !ok || s.Skipped != "" || s.Better == "" {
		return 0, false
	}
	best, found := 0.0, false
	for _, l := range t.labels {
		r, ok := t.cells[l][key]
		if l == subject || !ok || r.Skipped != "" {
			continue
		}
		if !found || (s.Better == higher && r.Value > best) || (s.Better == lower && r.Value < best) {
			best, found = r.Value, true
		}
	}
	if !found || best == 0 {
		return 0, false
	}
	return s.Value / best, true
}

// markdown renders the side-by-side section.
func (t *table) markdown(subject, notes, commands string) string {
	var b strings.Builder
	b.WriteString("## Side by side with Dovecot (`make bench`)\n\n")
	if run := t.runs[subject]; run != nil {
		m := run.Machine
		fmt.Fprintf(&b, "Measured %s on %d CPUs (%s), %.1f GB of memory, Linux %s.\n\n",
			run.Started.Format("2006-01-02 15:04 UTC"), m.CPUs, m.CPUModel, float64(m.MemMB)/1024, m.Kernel)
	}
	busy := false
	for _, l := range t.labels {
		run := t.runs[l]
		fmt.Fprintf(&b, "- %s", l)
		if run.Server != "" {
			fmt.Fprintf(&b, " greets `%s`;", strings.ReplaceAll(run.Server, "`", "'"))
		}
		fmt.Fprintf(&b, " load average %.1f at its start, %.1f at its end.\n", run.Load[0], run.Load[1])
		busy = busy || max(run.Load[0], run.Load[1]) > float64(max(run.Machine.CPUs, 1))
	}
	b.WriteString("\n")
	if busy {
		b.WriteString("**The machine was busy with other work** (load average above the number of CPUs) " +
			"during part of the run: the figures are noisy, and ratios between servers measured at different loads are rough.\n\n")
	}
	if notes != "" {
		b.WriteString(strings.TrimSpace(notes) + "\n\n")
	}
	fmt.Fprintf(&b, "The ratio is %s's figure divided by the better of the others'; the target is issue 8's.\n\n", subject)
	b.WriteString("| scenario | figure |")
	for _, l := range t.labels {
		fmt.Fprintf(&b, " %s |", mdEscape(l))
	}
	fmt.Fprintf(&b, " ratio | target | met |\n|---|---|")
	b.WriteString(strings.Repeat("---:|", len(t.labels)))
	b.WriteString("---:|---|---|\n")
	var skipped []string
	for _, k := range t.keys {
		f := t.first[k]
		if f.Metric == "-" {
			continue // a scenario skipped as a whole, listed below
		}
		fmt.Fprintf(&b, "| %s | %s |", mdEscape(f.Scenario), mdEscape(f.Metric))
		for _, l := range t.labels {
			r, ok := t.cells[l][k]
			switch {
			case !ok:
				b.WriteString(" |")
			case r.Skipped != "":
				b.WriteString(" skipped |")
			default:
				fmt.Fprintf(&b, " %s |", formatValue(r.Value))
			}
		}
		ratio, ok := t.ratio(subject, k)
		tg, hasTarget := targetFor(f)
		switch {
		case ok && hasTarget:
			met := "**no**"
			if tg.met(ratio) {
				met = "yes"
			}
			fmt.Fprintf(&b, " %s | %s | %s |\n", formatValue(ratio), tg, met)
		case ok:
			fmt.Fprintf(&b, " %s | | |\n", formatValue(ratio))
		case hasTarget && t.cells[subject][k].Skipped != "":
			fmt.Fprintf(&b, " | %s | **no** (failed, below) |\n", tg)
		case hasTarget:
			fmt.Fprintf(&b, " | %s | not measured |\n", tg)
		default:
			b.WriteString(" | | |\n")
		}
	}
	for _, l := range t.labels {
		for _, k := range t.keys {
			if r, ok := t.cells[l][k]; ok && r.Skipped != "" {
				name := r.Scenario
				if r.Metric != "-" {
					name += ", " + r.Metric
				}
				skipped = append(skipped, fmt.Sprintf("- %s, %s: %s", l, name, mdEscape(r.Skipped)))
			}
		}
	}
	if len(skipped) > 0 {
		b.WriteString("\nSkipped or failed:\n\n" + strings.Join(skipped, "\n") + "\n")
	}
	b.WriteString("\nHow each figure was measured (from " + subject + "'s run; the others' are alike):\n\n")
	seen := map[string]bool{}
	for _, k := range t.keys {
		r, ok := t.cells[subject][k]
		if !ok || r.Detail == "" || seen[r.Scenario+r.Detail] {
			continue
		}
		seen[r.Scenario+r.Detail] = true
		fmt.Fprintf(&b, "- %s, %s: %s\n", r.Scenario, r.Metric, mdEscape(r.Detail))
	}
	if commands != "" {
		b.WriteString("\nCommands:\n\n```sh\n" + strings.TrimSpace(commands) + "\n```\n")
	}
	return b.String()
}

const (
	beginMark = "<!-- cote-bench report begin: generated by `make bench` (bench/run.sh, cmd/cote-bench); edit those, not this section -->"
	endMark   = "<!-- cote-bench report end -->"
)

// spliceSection puts section between the markers in doc, replacing what
// was there; without markers it goes after the page's title, keeping
// everything else.
func spliceSection(doc, section string) string {
	block := beginMark + "\n" + strings.TrimRight(section, "\n") + "\n" + endMark + "\n"
	if i := strings.Index(doc, beginMark); i >= 0 {
		if j := strings.Index(doc[i:], endMark); j >= 0 {
			rest := strings.TrimPrefix(doc[i+j+len(endMark):], "\n")
			return doc[:i] + block + rest
		}
	}
	if doc == "" {
		return "# Benchmarks\n\n" + block
	}
	if strings.HasPrefix(doc, "# ") {
		nl := strings.IndexByte(doc, '\n')
		if nl < 0 {
			return doc + "\n\n" + block
		}
		rest := strings.TrimLeft(doc[nl+1:], "\n")
		return doc[:nl+1] + "\n" + block + "\n" + rest
	}
	return block + "\n" + doc
}

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	out := fs.String("o", "-", "markdown file whose side-by-side section to write (- for standard output)")
	subject := fs.String("subject", "cote", "label that the ratios are about")
	notesFile := fs.String("notes", "", "markdown file with notes on the setup")
	commands := fs.String("commands", "", "the commands that made the run, for the page")
	fs.Parse(args)
	var runs []*Run
	for _, p := range fs.Args() {
		r, err := readRun(p)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return fmt.Errorf("report: no JSON results given")
	}
	notes := ""
	if *notesFile != "" {
		b, err := os.ReadFile(*notesFile)
		if err != nil {
			return err
		}
		notes = string(b)
	}
	t := newTable(runs)
	if !slices.Contains(t.labels, *subject) {
		return fmt.Errorf("report: no run labelled %q", *subject)
	}
	section := t.markdown(*subject, notes, *commands)
	if *out == "-" {
		_, err := os.Stdout.WriteString(section)
		return err
	}
	doc, err := os.ReadFile(*out)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	res := spliceSection(string(doc), section)
	if bytes.Equal([]byte(res), doc) {
		return nil
	}
	return os.WriteFile(*out, []byte(res), 0o644)
}
