package master

import (
	"slices"
	"strings"
	"testing"

	"cote/admin"
	"cote/config"
	"cote/proto"
)

// TestChildEnvMaxProcs: a service's max_procs reaches its processes as
// GOMAXPROCS; the worker and lmtp have 1 by default, other services none.
func TestChildEnvMaxProcs(t *testing.T) {
	cfg := config.Defaults()
	for _, tc := range []struct {
		service, role string
		want          string // "" for no GOMAXPROCS
	}{
		{"worker", proto.RoleWorker, "GOMAXPROCS=1"},
		{"lmtp", proto.RoleLMTP, "GOMAXPROCS=1"},
		{"imap-login", proto.RoleIMAPLogin, ""},
		{"auth", proto.RoleAuth, ""},
	} {
		env := childEnv(spawnSpec{role: tc.role, service: tc.service, settings: cfg})
		i := slices.IndexFunc(env, func(s string) bool { return strings.HasPrefix(s, "GOMAXPROCS=") })
		got := ""
		if i >= 0 {
			got = env[i]
		}
		if got != tc.want {
			t.Errorf("childEnv(%s) GOMAXPROCS = %q, want %q", tc.service, got, tc.want)
		}
	}
}

func TestPprofTarget(t *testing.T) {
	m := &Master{
		procs: map[int]*proc{
			10: {role: proto.RoleAuth, pid: 10},
			11: {role: proto.RoleIMAPLogin, pid: 11},
			12: {role: proto.RoleIMAPLogin, pid: 12},
			13: {role: proto.RoleWorker, pid: 13, user: "demo"},
			14: {role: proto.RoleWorker, pid: 14, user: "gone", exited: true},
		},
		workers: map[string]*proc{},
	}
	m.workers["demo"] = m.procs[13]
	m.workers["gone"] = m.procs[14]
	for _, tc := range []struct {
		target  admin.PprofTarget
		wantPID int // 0: an error
	}{
		{admin.PprofTarget{PID: 12}, 12},
		{admin.PprofTarget{PID: 99}, 0},
		{admin.PprofTarget{Role: proto.RoleAuth}, 10},
		{admin.PprofTarget{Role: proto.RoleIMAPLogin}, 0}, // two: choose by pid
		{admin.PprofTarget{Role: "lmtp"}, 0},
		{admin.PprofTarget{User: "demo"}, 13},
		{admin.PprofTarget{User: "gone"}, 0},
		{admin.PprofTarget{User: "nobody"}, 0},
	} {
		p, err := m.pprofTarget(tc.target)
		switch {
		case tc.wantPID == 0 && err == nil:
			t.Errorf("pprofTarget(%+v) = pid %d, want an error", tc.target, p.pid)
		case tc.wantPID != 0 && (err != nil || p.pid != tc.wantPID):
			t.Errorf("pprofTarget(%+v) = %v, %v; want pid %d", tc.target, p, err, tc.wantPID)
		}
	}
}

func TestCheckPprof(t *testing.T) {
	for _, tc := range []struct {
		in, want admin.PprofTarget
		wantErr  bool
	}{
		{admin.PprofTarget{Kind: "profile"}, admin.PprofTarget{Kind: "profile", Seconds: 30}, false},
		{admin.PprofTarget{Kind: "trace", Seconds: 5}, admin.PprofTarget{Kind: "trace", Seconds: 5}, false},
		{admin.PprofTarget{Kind: "heap", Seconds: 5}, admin.PprofTarget{Kind: "heap"}, false},
		{admin.PprofTarget{Kind: "profile", Seconds: proto.MaxProfileSeconds + 1}, admin.PprofTarget{}, true},
		{admin.PprofTarget{Kind: "cpu"}, admin.PprofTarget{}, true},
	} {
		got := tc.in
		err := checkPprof(&got)
		if (err != nil) != tc.wantErr || !tc.wantErr && got != tc.want {
			t.Errorf("checkPprof(%+v) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestChildEnvGodebug: workers and auth start with gcshrinkstackoff=1,
// for the stacks of the goroutines they keep (internal/runners), and
// login processes without it; a GODEBUG from import_environment follows
// it, so that its settings win.
func TestChildEnvGodebug(t *testing.T) {
	godebug := func(env []string) []string {
		var v []string
		for _, kv := range env {
			if g, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
				v = append(v, g)
			}
		}
		return v
	}
	cfg := config.Defaults()
	for _, tc := range []struct {
		service, role string
		want          []string
	}{
		{"worker", proto.RoleWorker, []string{"gcshrinkstackoff=1"}},
		{"auth", proto.RoleAuth, []string{"gcshrinkstackoff=1"}},
		{"imap-login", proto.RoleIMAPLogin, nil},
		{"imap-hibernate", proto.RoleHibernate, nil},
	} {
		env := childEnv(spawnSpec{role: tc.role, service: tc.service, settings: cfg})
		if got := godebug(env); !slices.Equal(got, tc.want) {
			t.Errorf("childEnv(%s) GODEBUG = %q, want %q", tc.service, got, tc.want)
		}
	}
	cfg.ImportEnvironment = append(cfg.ImportEnvironment, "GODEBUG=gcshrinkstackoff=0,madvdontneed=1")
	env := childEnv(spawnSpec{role: proto.RoleWorker, service: "worker", settings: cfg})
	if got := godebug(env); !slices.Equal(got, []string{"gcshrinkstackoff=1,gcshrinkstackoff=0,madvdontneed=1"}) {
		t.Errorf("with import_environment's GODEBUG: %q, want one GODEBUG, the admin's settings last", got)
	}
}
