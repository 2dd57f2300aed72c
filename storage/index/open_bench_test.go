package index

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkOpenFresh is what a new user's first worker pays for its
// index: Open on a directory without one, as mail_fsync=optimized opens
// it, and a first read (Names), which loads the schema if Open did not.
// cpu-ns/op counts those two, not the Close after them.
func BenchmarkOpenFresh(b *testing.B) {
	dir := b.TempDir()
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		path := filepath.Join(dir, fmt.Sprint(i), "index.db")
		start := cpuTime()
		d, fresh, err := Open(path, Options{})
		if err == nil {
			_, err = d.Names()
		}
		cpu += cpuTime() - start
		if err != nil || !fresh {
			b.Fatalf("Open(%q) = %v, %v; want a fresh index", path, fresh, err)
		}
		b.StopTimer()
		d.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkOpenExisting is the open and first read of an index that
// exists, as every later worker of the user opens it.
func BenchmarkOpenExisting(b *testing.B) {
	path := filepath.Join(b.TempDir(), "index.db")
	d, _, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	d.Close()
	var cpu time.Duration
	for b.Loop() {
		start := cpuTime()
		d, fresh, err := Open(path, Options{})
		if err == nil {
			_, err = d.Names()
		}
		cpu += cpuTime() - start
		if err != nil || fresh {
			b.Fatalf("Open(%q) = %v, %v; want the existing index", path, fresh, err)
		}
		b.StopTimer()
		d.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
