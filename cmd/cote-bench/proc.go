package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// server names the processes of the server under test: the tree under a
// root pid (the master), or the members of a cgroup. The zero value
// measures nothing.
type server struct {
	pid    int    // root of the process tree
	cgroup string // cgroup directory (v1 or v2)
}

func (s server) ok() bool { return s.pid > 0 || s.cgroup != "" }

// statFields returns the fields of /proc/PID/stat after the command name
// (field 3, the state, is index 0).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// pids lists the server's live processes.
func (s server) pids() []int {
	if s.cgroup != "" {
		b, err := os.ReadFile(filepath.Join(s.cgroup, "cgroup.procs"))
		if err != nil {
			return nil
		}
		var out []int
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				out = append(out, p)
			}
		}
		return out
	}
	if s.pid <= 0 {
		return nil
	}
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(p)
		if err != nil || len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{s.pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// settle waits, at most limit, until the server has used under 5% of a
// CPU for each of quiet seconds in a row: the work one scenario leaves
// behind is not measured as the next one's. That includes work that
// comes late, as when cote's workers, idle after a scenario, end after
// their linger (10 s) and close their indexes. It returns how long it
// waited, the server's share of a CPU in the last second and the CPU
// time it used meanwhile.
func (s server) settle(limit, quiet time.Duration) (waited time.Duration, busy float64, used time.Duration) {
	start := time.Now()
	first, ok := s.cpu()
	if !ok {
		return 0, 0, 0
	}
	var calm time.Duration
	c0 := first
	for {
		time.Sleep(time.Second)
		c1, _ := s.cpu()
		busy = (c1 - c0).Seconds()
		if busy < 0.05 {
			calm += time.Second
		} else {
			calm = 0
		}
		if calm >= quiet || time.Since(start) >= limit {
			return time.Since(start), busy, c1 - first
		}
		c0 = c1
	}
}

// cpu returns the CPU time the server has used so far. A cgroup's is the
// kernel's own count, in nanoseconds, of every process that was ever in
// it. For a process tree it is what its live processes used, each
// thread's run time from /proc/PID/task/TID/schedstat (nanoseconds), and
// their cutime and cstime: the time of processes that exited and were
// reaped is in their parent's, so short-lived per-connection processes
// are counted too. /proc/PID/stat's utime and stime, in clock ticks, are
// taken where they say more (a thread that ended) or schedstat cannot be
// read: each process's are cut to whole ticks, which lost up to 20 ms for
// every process that started during a scenario and was still running at
// its end (cote's workers).
func (s server) cpu() (time.Duration, bool) {
	if s.cgroup != "" {
		if b, err := os.ReadFile(filepath.Join(s.cgroup, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					return time.Duration(us) * time.Microsecond, err == nil
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(s.cgroup, "cpuacct.usage")); err == nil {
			ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return time.Duration(ns), err == nil
		}
		return 0, false
	}
	if s.pid <= 0 {
		return 0, false
	}
	var total time.Duration
	for _, p := range s.pids() {
		f, err := statFields(p)
		if err != nil || len(f) < 15 {
			continue
		}
		// utime, stime, cutime, cstime are fields 14-17 of stat(5).
		var ticks [4]int64
		for i, v := range f[11:15] {
			ticks[i], _ = strconv.ParseInt(v, 10, 64)
		}
		// A thread that ended took its schedstat with it; the ticks
		// still hold its time, cut to whole ticks.
		run := time.Duration(ticks[0]+ticks[1]) * time.Second / clockTicks
		if r, ok := runTime(p); ok && r > run {
			run = r
		}
		total += run + time.Duration(ticks[2]+ticks[3])*time.Second/clockTicks
	}
	return total, true
}

// runTime sums the run time of pid's live threads from their schedstat
// files (the first field, nanoseconds on the CPU).
func runTime(pid int) (time.Duration, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var ns int64
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			if os.IsNotExist(err) {
				continue // the thread ended
			}
			return 0, false
		}
		first, _, _ := strings.Cut(string(b), " ")
		v, err := strconv.ParseInt(first, 10, 64)
		if err != nil {
			return 0, false
		}
		ns += v
	}
	return time.Duration(ns), true
}

// where says where the server's CPU time is read, for a report: its
// cgroup, or its process tree (and how many processes are in it now).
func (s server) where() string {
	if s.cgroup != "" {
		return fmt.Sprintf("in its cgroup (%d processes now)", len(s.pids()))
	}
	return fmt.Sprintf("over %d processes' tree", len(s.pids()))
}

// pss returns the summed proportional set size, in KiB, of every process
// of the server, and how many processes there were.
func (s server) pss() (kb int64, procs int, ok bool) {
	if !s.ok() {
		return 0, 0, false
	}
	for _, p := range s.pids() {
		v, err := pssOf(p)
		if err != nil {
			continue // exited, or a kernel thread
		}
		kb += v
		procs++
	}
	return kb, procs, procs > 0
}

func pssOf(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("pid %d: no Pss in smaps_rollup", pid)
}

// machine describes this machine for the report.
func machine() Machine {
	m := Machine{CPUs: numCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.MemMB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAverage is the 1-minute load average, 0 when unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
