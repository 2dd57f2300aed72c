package metrics

import (
	"sort"
	"sync"
)

// Aggregate sums the snapshots of many processes. Counters and histograms
// of processes that exited are kept (folded into a retired total), so
// that they never go down; gauges of exited processes disappear.
type Aggregate struct {
	mu      sync.Mutex // guards everything below
	live    map[int]*Snapshot
	retired *Snapshot
	help    map[string]string
}

// NewAggregate returns an empty aggregate.
func NewAggregate() *Aggregate {
	return &Aggregate{live: map[int]*Snapshot{}, retired: &Snapshot{}, help: map[string]string{}}
}

// Update replaces process id's snapshot.
func (a *Aggregate) Update(id int, s *Snapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.live[id] = s
	for k, v := range s.Help {
		a.help[k] = v
	}
}

// Retire folds an exited process's last counters and histograms into the
// retired total.
func (a *Aggregate) Retire(id int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.live[id]
	delete(a.live, id)
	if s == nil {
		return
	}
	merged := merge([]*Snapshot{a.retired, {Counters: s.Counters, Histograms: s.Histograms}})
	a.retired = &Snapshot{Counters: merged.Counters, Histograms: merged.Histograms}
}

// Total sums every live snapshot, the retired total and extra.
func (a *Aggregate) Total(extra ...*Snapshot) *Snapshot {
	a.mu.Lock()
	all := []*Snapshot{a.retired}
	for _, s := range a.live {
		all = append(all, s)
	}
	help := make(map[string]string, len(a.help))
	for k, v := range a.help {
		help[k] = v
	}
	a.mu.Unlock()
	t := merge(append(all, extra...))
	for _, e := range extra {
		for k, v := range e.Help {
			help[k] = v
		}
	}
	t.Help = help
	return t
}

func merge(ss []*Snapshot) *Snapshot {
	counters := map[string]*Sample{}
	gauges := map[string]*Sample{}
	hists := map[string]*HistSample{}
	add := func(m map[string]*Sample, x Sample) {
		k, _ := labelKey(x.Name, x.Labels)
		if t := m[k]; t != nil {
			t.Value += x.Value
		} else {
			m[k] = &Sample{x.Name, x.Labels, x.Value}
		}
	}
	for _, s := range ss {
		if s == nil {
			continue
		}
		for _, c := range s.Counters {
			add(counters, c)
		}
		for _, g := range s.Gauges {
			add(gauges, g)
		}
		for _, h := range s.Histograms {
			k, _ := labelKey(h.Name, h.Labels)
			t := hists[k]
			if t == nil {
				t = &HistSample{Name: h.Name, Labels: h.Labels, Buckets: h.Buckets, Counts: make([]uint64, len(h.Buckets))}
				hists[k] = t
			}
			if len(t.Buckets) != len(h.Buckets) {
				continue // a process with other buckets; cannot add up
			}
			for i, n := range h.Counts {
				t.Counts[i] += n
			}
			t.Sum += h.Sum
			t.Count += h.Count
		}
	}
	out := &Snapshot{}
	for _, k := range sortedKeys(counters) {
		out.Counters = append(out.Counters, *counters[k])
	}
	for _, k := range sortedKeys(gauges) {
		out.Gauges = append(out.Gauges, *gauges[k])
	}
	for _, k := range sortedKeys(hists) {
		out.Histograms = append(out.Histograms, *hists[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
