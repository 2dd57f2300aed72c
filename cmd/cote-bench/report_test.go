package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{1234.5, "1234"},
		{99.94, "99.9"},
		{3.14159, "3.14"},
		{0.0123456, "0.0123"},
		{-2.5, "-2.50"},
	}
	for _, tt := range tests {
		if got := formatValue(tt.v); got != tt.want {
			t.Errorf("formatValue(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func sampleRuns() []*Run {
	return []*Run{
		{Label: "cote", Server: "cote ready.", Machine: Machine{CPUs: 2, CPUModel: "AMD EPYC", MemMB: 2048}, Results: []Result{
			{Scenario: "login", Metric: "logins/s", Value: 900, Better: higher, Detail: "20 clients"},
			{Scenario: "login", Metric: "server CPU ms/login", Value: 1, Better: lower},
			{Scenario: "lmtp", Metric: "-", Skipped: "no LMTP answer at 127.0.0.1:24: refused"},
			{Scenario: "fetch 100,000 msgs", Metric: "FETCH first s", Value: 2, Better: lower},
		}},
		{Label: "dovecot-stock", Results: []Result{
			{Scenario: "login", Metric: "logins/s", Value: 200, Better: higher},
			{Scenario: "login", Metric: "server CPU ms/login", Value: 4, Better: lower},
			{Scenario: "lmtp", Metric: "messages/s", Value: 1100, Better: higher},
			{Scenario: "fetch 100,000 msgs", Metric: "FETCH first s", Value: 3, Better: lower},
		}},
		{Label: "dovecot-tuned", Results: []Result{
			{Scenario: "login", Metric: "logins/s", Value: 400, Better: higher},
			{Scenario: "login", Metric: "server CPU ms/login", Value: 2, Better: lower},
			{Scenario: "fetch 100,000 msgs", Metric: "FETCH first s", Value: 2.5, Better: lower},
		}},
	}
}

func TestRatioAgainstBest(t *testing.T) {
	tb := newTable(sampleRuns())
	tests := []struct {
		key  string
		want float64
		ok   bool
	}{
		{"login: logins/s", 900.0 / 400, true},           // higher is better: the tuned one
		{"login: server CPU ms/login", 1.0 / 2, true},    // lower is better: the tuned one
		{"fetch 100,000 msgs: FETCH first s", 0.8, true}, // 2 / 2.5
		{"lmtp: messages/s", 0, false},                   // cote has none
	}
	for _, tt := range tests {
		got, ok := tb.ratio("cote", tt.key)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ratio(cote, %q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMarkdown(t *testing.T) {
	md := newTable(sampleRuns()).markdown("cote", "Setup notes.", "make bench")
	for _, want := range []string{
		"| scenario | figure | cote | dovecot-stock | dovecot-tuned | ratio | target | met |",
		"| login | logins/s | 900 | 200 | 400 | 2.25 | ≥ 3.00 | **no** |",
		"| login | server CPU ms/login | 1.00 | 4.00 | 2.00 | 0.5 | ≤ 0.333 | **no** |",
		"| fetch 100,000 msgs | FETCH first s | 2.00 | 3.00 | 2.50 | 0.8 | ≤ 0.5 | **no** |",
		"| lmtp | messages/s | | 1100 | | | ≥ 1.50 | not measured |",
		"- cote, lmtp: no LMTP answer at 127.0.0.1:24: refused",
		"2 CPUs (AMD EPYC), 2.0 GB",
		"Setup notes.",
		"```sh\nmake bench\n```",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q; got:\n%s", want, md)
		}
	}
}

func TestSpliceSection(t *testing.T) {
	other := "## Storage, 100,000 messages\n\nTheirs.\n"
	tests := []struct {
		name, doc string
	}{
		{"empty", ""},
		{"title and another section", "# Benchmarks\n\n" + other},
		{"replace", "# Benchmarks\n\n" + beginMark + "\nold\n" + endMark + "\n\n" + other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spliceSection(tt.doc, "## Side by side\n\nnew\n")
			if !strings.HasPrefix(got, "# Benchmarks\n\n"+beginMark+"\n## Side by side\n\nnew\n"+endMark+"\n") {
				t.Errorf("spliceSection(%q) = %q, want the section after the title", tt.doc, got)
			}
			if tt.doc != "" && !strings.HasSuffix(got, other) {
				t.Errorf("spliceSection(%q) = %q, lost the other section", tt.doc, got)
			}
			if strings.Contains(got, "old") {
				t.Errorf("spliceSection(%q) = %q, kept the old section", tt.doc, got)
			}
			if again := spliceSection(got, "## Side by side\n\nnew\n"); again != got {
				t.Errorf("spliceSection is not idempotent:\n%q\n%q", got, again)
			}
		})
	}
}

func TestWriteTableAndJSON(t *testing.T) {
	run := sampleRuns()[0]
	var b bytes.Buffer
	if err := writeTable(&b, run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"logins/s", "900", "skipped", "no LMTP answer"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("writeTable lacks %q:\n%s", want, b.String())
		}
	}
	p := filepath.Join(t.TempDir(), "r.json")
	if err := writeJSON(p, run); err != nil {
		t.Fatal(err)
	}
	back, err := readRun(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Label != "cote" || len(back.Results) != len(run.Results) || back.Results[0] != run.Results[0] {
		t.Errorf("readRun(writeJSON(run)) = %+v, want %+v", back, run)
	}
}

const imaptestOutput = `Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo 
100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 
                          30%                  5%      
 120   60   61  120  118  170   40   60  118  115  121  50/ 50
   9    2    3    4    5    6    7    8    9   10   11 ms/cmd avg

Totals:
Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo 
100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 
                          30%                  5%      
 600  300  305  600  590  850  200  300  590  575  605 
`

func TestImaptestTotals(t *testing.T) {
	heads, counts, avg, err := imaptestTotals(strings.NewReader(imaptestOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 11 || heads[0] != "Logi" || heads[10] != "Logo" {
		t.Errorf("heads = %v", heads)
	}
	if counts[0] != 600 || counts[10] != 605 {
		t.Errorf("counts = %v, want 600 .. 605", counts)
	}
	if avg == nil || avg[0] != 9 || avg[10] != 11 {
		t.Errorf("avg = %v, want 9 .. 11", avg)
	}
	if _, _, _, err := imaptestTotals(strings.NewReader("Error: connection refused\n")); err == nil {
		t.Errorf("imaptestTotals(no Totals) = nil error")
	}
}
