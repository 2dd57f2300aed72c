package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Direction says which way a figure is better.
const (
	higher = "higher"
	lower  = "lower"
)

// Result is one figure of one scenario, or the reason it was skipped.
type Result struct {
	Scenario string  `json:"scenario"`          // "login", "lmtp", "fetch 100000", ...
	Metric   string  `json:"metric"`            // "logins/s", "p99 ms", ...
	Value    float64 `json:"value"`             // meaningless when Skipped is set
	Better   string  `json:"better,omitempty"`  // higher or lower; empty for context figures
	Detail   string  `json:"detail,omitempty"`  // how it was measured
	Skipped  string  `json:"skipped,omitempty"` // why there is no value
}

// Key names a figure across runs.
func (r Result) Key() string { return r.Scenario + ": " + r.Metric }

// Machine describes where a run was made.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemMB    int64  `json:"mem_mb"`
	Kernel   string `json:"kernel"`
}

// Run is one cote-bench invocation against one server.
type Run struct {
	Label   string     `json:"label"` // "cote", "dovecot-stock", ...
	Server  string     `json:"server,omitempty"`
	Started time.Time  `json:"started"`
	Seconds float64    `json:"seconds"`
	Args    []string   `json:"args"`
	Machine Machine    `json:"machine"`
	Load    [2]float64 `json:"load"` // 1-minute load average at start and end
	Results []Result   `json:"results"`
}

// formatValue prints a figure with about three significant digits.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case a == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// writeTable prints a run's results as an aligned text table.
func writeTable(w io.Writer, run *Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t\t\t\n", run.Label)
	fmt.Fprintf(tw, "scenario\tmetric\tvalue\tdetail\n")
	for _, r := range run.Results {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\tskipped\t%s\n", r.Scenario, r.Metric, r.Skipped)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Scenario, r.Metric, formatValue(r.Value), r.Detail)
	}
	return tw.Flush()
}

func writeJSON(path string, run *Run) error {
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readRun(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &r, nil
}

// mdEscape keeps a table cell on one line and its pipes literal.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
