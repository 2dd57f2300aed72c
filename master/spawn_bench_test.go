package master

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// BenchmarkChildStart executes a child role that exits right after the
// runtime and every package's initialisation (no master:
// ErrNotFromMaster), the part of starting any child that does not depend
// on the role: cote as a worker, and cote-worker, which the master starts
// workers from when it is there. cpu-ms/op is the children's CPU time
// (user and system, getrusage), steadier on a shared machine than the
// wall time.
func BenchmarkChildStart(b *testing.B) {
	for _, exe := range []struct{ name, path string }{{"cote", testExe}, {WorkerExeName, testWorkerExe}} {
		b.Run(exe.name, func(b *testing.B) {
			var before syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before)
			for b.Loop() {
				cmd := exec.Command(exe.path, "worker")
				cmd.Env = []string{"GOMAXPROCS=1"}
				cmd.Run() // exits 2: not started by a master
			}
			var after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after)
			cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
