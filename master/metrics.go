package master

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cote/metrics"
	"cote/proto"
)

// metricsState is what the master serves on metrics_listen: the sum of
// every child's last snapshot, counters of exited children kept, plus the
// master's own figures, refreshed on the event loop every second.
type metricsState struct {
	agg  *metrics.Aggregate
	self atomic.Pointer[metrics.Snapshot]
	// served: metrics_listen is set (read and written on the event loop).
	served bool
}

// collector turns the aggregate into Prometheus metrics at scrape time.
type collector struct{ st *metricsState }

// Describe sends nothing: the metric set is only known at scrape time
// (an unchecked collector).
func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	var extra []*metrics.Snapshot
	if s := c.st.self.Load(); s != nil {
		extra = append(extra, s)
	}
	tot := c.st.agg.Total(extra...)
	desc := func(name string, labels []string) (*prometheus.Desc, []string) {
		var names, values []string
		for i := 0; i+1 < len(labels); i += 2 {
			names = append(names, labels[i])
			values = append(values, labels[i+1])
		}
		help := tot.Help[name]
		if help == "" {
			help = name
		}
		return prometheus.NewDesc("cote_"+name, help, names, nil), values
	}
	for _, s := range tot.Counters {
		d, v := desc(s.Name, s.Labels)
		if m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, float64(s.Value), v...); err == nil {
			ch <- m
		}
	}
	for _, s := range tot.Gauges {
		d, v := desc(s.Name, s.Labels)
		if m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, float64(s.Value), v...); err == nil {
			ch <- m
		}
	}
	for _, h := range tot.Histograms {
		d, v := desc(h.Name, h.Labels)
		buckets := make(map[float64]uint64, len(h.Buckets))
		var cum uint64
		for i, le := range h.Buckets {
			cum += h.Counts[i]
			buckets[le] = cum
		}
		if m, err := prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets, v...); err == nil {
			ch <- m
		}
	}
}

// serveMetrics starts the HTTP endpoint; it runs until the listener closes.
func (m *Master) serveMetrics(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{m.metrics})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics endpoint", "err", err)
		}
	}()
	return l, nil
}

// refreshSelfMetrics records the master's own figures: processes per role,
// restarts, and the memory of worker processes.
func (m *Master) refreshSelfMetrics() {
	r := metrics.NewRegistry()
	r.Help("processes", "Running processes by role.")
	r.Help("restarts_total", "Children that died unexpectedly and were replaced, by role.")
	r.Help("worker_memory_bytes", "Resident memory of all per-user worker processes.")
	r.Help("workers", "Per-user worker processes.")
	count := map[string]int64{}
	var rss int64
	for _, p := range m.procs {
		count[p.role]++
		if p.role == proto.RoleWorker {
			rss += residentBytes(p.pid)
		}
	}
	for _, role := range []string{proto.RoleAuth, proto.RoleIMAPLogin, proto.RolePOP3Login, proto.RoleLMTP, proto.RoleWorker} {
		r.Gauge("processes", "role", role).Set(count[role])
		r.Counter("restarts_total", "role", role).Add(uint64(m.restarts[role]))
	}
	r.Gauge("workers").Set(count[proto.RoleWorker])
	r.Gauge("worker_memory_bytes").Set(rss)
	m.metrics.self.Store(r.Snapshot())
}

// residentBytes reads a process's resident set size from /proc.
func residentBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
