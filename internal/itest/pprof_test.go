package itest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPprof takes profiles of a user's worker, the master and the auth
// process with the real coteadm, as an admin would in production, and
// reads each with go tool pprof.
func TestPprof(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		o.extra = "admin_pprof = yes"
		s := startServer(t, o)
		c := login(t, s, "demo")
		appendMsg(t, c, "INBOX", "profiled")
		out := t.TempDir()

		for _, tc := range []struct {
			name string
			args []string
			role string // in the printed table
		}{
			{"worker cpu", []string{"-u", "demo", "--seconds", "1", "profile"}, "worker demo"},
			{"worker heap", []string{"-u", "demo", "heap"}, "worker demo"},
			{"master goroutine", []string{"--role", "master", "goroutine"}, "master"},
			{"auth allocs", []string{"--role", "auth", "allocs"}, "auth"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				file := filepath.Join(out, strings.ReplaceAll(tc.name, " ", "-")+".pb.gz")
				got := s.ok(t, append([]string{"pprof", "-o", file}, tc.args...)...)
				if !strings.Contains(got, tc.role) {
					t.Errorf("coteadm pprof %v printed %q, want the role %q", tc.args, got, tc.role)
				}
				checkProfile(t, file)
			})
		}

		// The worker still serves its session.
		if err := c.Noop().Wait(); err != nil {
			t.Errorf("NOOP after profiling: %v", err)
		}
		for _, args := range [][]string{
			{"-u", "nobody-logged-in", "heap"},
			{"-p", "1", "heap"},
			{"--role", "imap-login", "--role", "auth", "-u", "demo", "heap"},
		} {
			file := filepath.Join(out, "refused")
			r := s.coteadm(t, "", append([]string{"pprof", "-o", file}, args...)...)
			if r.code == 0 {
				t.Errorf("coteadm pprof %v: exit 0, want a failure", args)
			}
			if _, err := os.Stat(file); err == nil {
				t.Errorf("coteadm pprof %v failed but wrote %s", args, file)
			}
		}
	})
}

// TestPprofOffByDefault: without admin_pprof the master refuses.
func TestPprofOffByDefault(t *testing.T) {
	s := startServer(t, serverOpts{asUser: os.Getuid() == 0})
	file := filepath.Join(t.TempDir(), "heap.pb.gz")
	r := s.coteadm(t, "", "pprof", "--role", "master", "-o", file, "heap")
	if r.code == 0 || !strings.Contains(r.errOut, "admin_pprof") {
		t.Errorf("coteadm pprof with admin_pprof off: exit %d, stderr %q; want a refusal naming admin_pprof", r.code, r.errOut)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("refused coteadm pprof wrote %s", file)
	}
}

// checkProfile checks that file is a gzipped profile go tool pprof reads.
func checkProfile(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Fatalf("%s: %d bytes without a gzip header", file, len(data))
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", file).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top %s: %v\n%s", file, err, out)
	}
}
