// Package profiling writes runtime profiles of the running process for
// coteadm pprof (admin_pprof): every child answers proto.Profile with it
// (package child), and the master profiles itself with it.
package profiling

import (
	"fmt"
	"io"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"cote/proto"
)

// Write writes a profile of the running process to w in
// runtime/pprof's format: for proto.ProfileCPU and proto.ProfileTrace one
// over d (cut short when stop closes), otherwise the named runtime
// profile.
func Write(w io.Writer, kind string, d time.Duration, stop <-chan struct{}) error {
	switch kind {
	case proto.ProfileCPU, proto.ProfileTrace:
		if d <= 0 || d > proto.MaxProfileSeconds*time.Second {
			return fmt.Errorf("%s: duration %v out of range", kind, d)
		}
		start, end := pprof.StartCPUProfile, pprof.StopCPUProfile
		if kind == proto.ProfileTrace {
			start, end = trace.Start, trace.Stop
		}
		if err := start(w); err != nil {
			return err
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
		}
		end()
		return nil
	}
	if !proto.ProfileKind(kind) {
		return fmt.Errorf("unknown profile %q", kind)
	}
	prof := pprof.Lookup(kind)
	if prof == nil {
		return fmt.Errorf("unknown profile %q", kind)
	}
	return prof.WriteTo(w, 0)
}
