package metrics

import (
	"reflect"
	"testing"
)

func find(ss []Sample, name string) *Sample {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}

func TestAggregate(t *testing.T) {
	a := NewRegistry()
	a.Help("logins_total", "Logins by result.")
	a.Counter("logins_total", "protocol", "imap", "result", "ok").Add(3)
	a.Gauge("sessions", "protocol", "imap").Set(2)
	a.Histogram("command_seconds", []float64{0.1, 1}, "command", "FETCH").Observe(0.05)
	b := NewRegistry()
	b.Counter("logins_total", "result", "ok", "protocol", "imap").Add(4) // label order does not matter
	b.Histogram("command_seconds", []float64{0.1, 1}, "command", "FETCH").Observe(0.5)

	agg := NewAggregate()
	sa, err := Decode(a.Snapshot().Encode())
	if err != nil {
		t.Fatal(err)
	}
	agg.Update(1, sa)
	agg.Update(2, b.Snapshot())
	agg.Retire(2) // b exits: its counts stay, nothing doubles
	tot := agg.Total()
	c := find(tot.Counters, "logins_total")
	if c == nil || c.Value != 7 || !reflect.DeepEqual(c.Labels, []string{"protocol", "imap", "result", "ok"}) {
		t.Errorf("logins_total = %+v, want 7 with sorted labels", c)
	}
	if g := find(tot.Gauges, "sessions"); g == nil || g.Value != 2 {
		t.Errorf("sessions = %+v, want 2", g)
	}
	if len(tot.Histograms) != 1 || tot.Histograms[0].Count != 2 || !reflect.DeepEqual(tot.Histograms[0].Counts, []uint64{1, 1}) {
		t.Errorf("histogram = %+v", tot.Histograms)
	}
	if tot.Help["logins_total"] != "Logins by result." {
		t.Errorf("help lost: %v", tot.Help)
	}
	agg.Retire(1)
	tot = agg.Total()
	if find(tot.Gauges, "sessions") != nil {
		t.Error("gauge of an exited process remains")
	}
	if c := find(tot.Counters, "logins_total"); c == nil || c.Value != 7 {
		t.Errorf("counter after exits = %+v, want 7", c)
	}
}

func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.Counter("x").Inc()
	r.Gauge("y").Set(1)
	r.Histogram("z", nil).Observe(1)
	if s := r.Snapshot(); len(s.Counters) != 0 {
		t.Error("nil registry counted")
	}
}

func FuzzDecode(f *testing.F) {
	r := NewRegistry()
	r.Counter("a", "k", "v").Inc()
	r.Histogram("h", nil).Observe(1)
	f.Add(r.Snapshot().Encode())
	f.Add([]byte(`{"h":[{"n":"x","b":[1],"c":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		NewAggregate().Total(s)
	})
}
