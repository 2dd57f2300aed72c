// Package metrics is what every cote process counts: counters, gauges and
// histograms keyed by name and labels, kept in memory and sent as a
// snapshot to the master, which serves the sum of all processes in
// Prometheus's exposition format on metrics_listen. It links only the
// standard library, so login processes may use it.
package metrics

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBuckets are latency buckets in seconds.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Registry holds one process's metrics. A nil *Registry is valid and
// counts nothing, so instrumented code needs no checks.
type Registry struct {
	mu       sync.Mutex // guards the maps, not the values
	counters map[string]*Counter
	gauges   map[string]*Gauge
	hists    map[string]*Histogram
	help     map[string]string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{counters: map[string]*Counter{}, gauges: map[string]*Gauge{},
		hists: map[string]*Histogram{}, help: map[string]string{}}
}

// Labels are given as pairs: "protocol", "imap", "result", "ok". They are
// kept sorted by name.
func labelKey(name string, labels []string) (string, []string) {
	if len(labels)%2 != 0 {
		panic("metrics: odd number of label strings for " + name)
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(labels)/2)
	for i := 0; i < len(labels); i += 2 {
		pairs = append(pairs, pair{labels[i], labels[i+1]})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	sorted := make([]string, 0, len(labels))
	var key strings.Builder
	key.WriteString(name)
	for _, p := range pairs {
		sorted = append(sorted, p.k, p.v)
		key.WriteString("\x00" + p.k + "\x00" + p.v)
	}
	return key.String(), sorted
}

// Counter only goes up.
type Counter struct {
	name   string
	labels []string
	v      atomic.Uint64
}

// Add adds n.
func (c *Counter) Add(n uint64) {
	if c != nil {
		c.v.Add(n)
	}
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Gauge is a value that goes up and down.
type Gauge struct {
	name   string
	labels []string
	v      atomic.Int64
}

// Set sets the value.
func (g *Gauge) Set(v int64) {
	if g != nil {
		g.v.Store(v)
	}
}

// Add adds d (which may be negative).
func (g *Gauge) Add(d int64) {
	if g != nil {
		g.v.Add(d)
	}
}

// Histogram counts observations into buckets.
type Histogram struct {
	name    string
	labels  []string
	buckets []float64
	mu      sync.Mutex // guards counts, sum and count
	counts  []uint64
	sum     float64
	count   uint64
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	if h == nil {
		return
	}
	i := sort.SearchFloat64s(h.buckets, v)
	h.mu.Lock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// Since records the seconds since t.
func (h *Histogram) Since(t time.Time) { h.Observe(time.Since(t).Seconds()) }

// Help sets a metric's description.
func (r *Registry) Help(name, help string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.help[name] = help
	r.mu.Unlock()
}

// Counter returns the counter for name and labels, creating it.
func (r *Registry) Counter(name string, labels ...string) *Counter {
	if r == nil {
		return nil
	}
	k, l := labelKey(name, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counters[k]
	if c == nil {
		c = &Counter{name: name, labels: l}
		r.counters[k] = c
	}
	return c
}

// Gauge returns the gauge for name and labels, creating it.
func (r *Registry) Gauge(name string, labels ...string) *Gauge {
	if r == nil {
		return nil
	}
	k, l := labelKey(name, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gauges[k]
	if g == nil {
		g = &Gauge{name: name, labels: l}
		r.gauges[k] = g
	}
	return g
}

// Histogram returns the histogram for name and labels with buckets (nil:
// DefaultBuckets), creating it.
func (r *Registry) Histogram(name string, buckets []float64, labels ...string) *Histogram {
	if r == nil {
		return nil
	}
	if buckets == nil {
		buckets = DefaultBuckets
	}
	k, l := labelKey(name, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hists[k]
	if h == nil {
		h = &Histogram{name: name, labels: l, buckets: buckets, counts: make([]uint64, len(buckets))}
		r.hists[k] = h
	}
	return h
}

// Sample is one counter or gauge value. Labels alternate names and
// values, sorted by name.
type Sample struct {
	Name   string   `json:"n"`
	Labels []string `json:"l,omitempty"`
	Value  int64    `json:"v"`
}

// HistSample is one histogram's state; Counts are per bucket, not
// cumulative.
type HistSample struct {
	Name    string    `json:"n"`
	Labels  []string  `json:"l,omitempty"`
	Buckets []float64 `json:"b"`
	Counts  []uint64  `json:"c"`
	Sum     float64   `json:"s"`
	Count   uint64    `json:"k"`
}

// Snapshot is a registry's state at one moment.
type Snapshot struct {
	Counters   []Sample          `json:"c,omitempty"`
	Gauges     []Sample          `json:"g,omitempty"`
	Histograms []HistSample      `json:"h,omitempty"`
	Help       map[string]string `json:"d,omitempty"`
}

// Snapshot copies the registry's current values.
func (r *Registry) Snapshot() *Snapshot {
	s := &Snapshot{}
	if r == nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.counters {
		s.Counters = append(s.Counters, Sample{c.name, c.labels, int64(c.v.Load())})
	}
	for _, g := range r.gauges {
		s.Gauges = append(s.Gauges, Sample{g.name, g.labels, g.v.Load()})
	}
	for _, h := range r.hists {
		h.mu.Lock()
		s.Histograms = append(s.Histograms, HistSample{h.name, h.labels, h.buckets, append([]uint64(nil), h.counts...), h.sum, h.count})
		h.mu.Unlock()
	}
	if len(r.help) > 0 {
		s.Help = make(map[string]string, len(r.help))
		for k, v := range r.help {
			s.Help[k] = v
		}
	}
	return s
}

// Encode returns the snapshot as JSON.
func (s *Snapshot) Encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

// Decode parses an encoded snapshot.
func Decode(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	for _, h := range s.Histograms {
		if len(h.Counts) != len(h.Buckets) || len(h.Labels)%2 != 0 {
			return nil, errBadSnapshot
		}
	}
	for _, c := range append(append([]Sample(nil), s.Counters...), s.Gauges...) {
		if len(c.Labels)%2 != 0 {
			return nil, errBadSnapshot
		}
	}
	return &s, nil
}

var errBadSnapshot = jsonError("malformed snapshot")

type jsonError string

func (e jsonError) Error() string { return "metrics: " + string(e) }
