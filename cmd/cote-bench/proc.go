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

// cpu returns the CPU time the server has used so far. For a process tree
// it sums utime, stime, cutime and cstime of every live process: the time
// of processes that exited and were reaped is in their parent's cutime and
// cstime, so short-lived per-connection processes are counted too.
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
	var ticks int64
	for _, p := range s.pids() {
		f, err := statFields(p)
		if err != nil || len(f) < 15 {
			continue
		}
		// utime, stime, cutime, cstime are fields 14-17 of stat(5).
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, true
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
