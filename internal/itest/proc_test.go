package itest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procInfo is what /proc says about one process of the server.
type procInfo struct {
	pid       int
	role      string // the hidden subcommand, "master" for the master
	uid, gid  [4]int // real, effective, saved, filesystem
	groups    []int
	root      string // readlink /proc/PID/root
	noNewPriv bool
	// procOwner owns /proc/PID/environ: the process's uid when it is
	// dumpable, root when it is not (processes of its uid cannot ptrace
	// it). /proc/PID itself stays the process's.
	procOwner int
	// execUID is the real uid the process was executed with (AT_UID in
	// /proc/PID/auxv): its own for a child executed with its ids, 0 for
	// one executed as root that dropped to them; -1 if unknown.
	execUID int
}

func readProc(pid int) (procInfo, bool) {
	p := procInfo{pid: pid}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return p, false
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	p.role = "master"
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		p.role = args[1]
	}
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return p, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch k {
		case "Uid", "Gid":
			var ids [4]int
			for i := 0; i < 4 && i < len(f); i++ {
				ids[i], _ = strconv.Atoi(f[i])
			}
			if k == "Uid" {
				p.uid = ids
			} else {
				p.gid = ids
			}
		case "Groups":
			for _, g := range f {
				n, _ := strconv.Atoi(g)
				p.groups = append(p.groups, n)
			}
		case "NoNewPrivs":
			p.noNewPriv = strings.TrimSpace(v) == "1"
		}
	}
	p.root, _ = os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "root"))
	p.procOwner = -1
	if fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "environ")); err == nil {
		p.procOwner = int(fi.Sys().(*syscall.Stat_t).Uid)
	}
	p.execUID = -1
	if auxv, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "auxv")); err == nil {
		const atUID = 11
		for i := 0; i+16 <= len(auxv); i += 16 {
			if binary.NativeEndian.Uint64(auxv[i:]) == atUID {
				p.execUID = int(binary.NativeEndian.Uint64(auxv[i+8:]))
			}
		}
	}
	return p, true
}

// children lists the processes whose parent is pid.
func children(pid int) []procInfo {
	ents, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			if p, ok := readProc(n); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// waitChildren waits until the master has children matching want.
func (s *server) waitChildren(t *testing.T, want func([]procInfo) bool) []procInfo {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var ps []procInfo
	for time.Now().Before(deadline) {
		ps = children(s.cmd.Process.Pid)
		if want(ps) {
			return ps
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("children of the master never matched; have %+v", ps)
	return nil
}

func byRole(ps []procInfo, role string) []procInfo {
	var out []procInfo
	for _, p := range ps {
		if p.role == role {
			out = append(out, p)
		}
	}
	return out
}

func hasRoles(roles ...string) func([]procInfo) bool {
	return func(ps []procInfo) bool {
		for _, r := range roles {
			if len(byRole(ps, r)) == 0 {
				return false
			}
		}
		return true
	}
}

func allIDs(ids [4]int, want int) bool {
	for _, v := range ids {
		if v != want {
			return false
		}
	}
	return true
}
