package master

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"cote/config"
	"cote/proto"
)

// TestChildEnvRlimitAS: a service with vsz_limit tells its processes the
// address-space limit to set on themselves (vsz_limit plus asMargin),
// except in race-detector builds.
func TestChildEnvRlimitAS(t *testing.T) {
	cfg := config.Defaults()
	env := childEnv(spawnSpec{role: proto.RoleWorker, service: "worker", settings: cfg})
	want := proto.EnvRlimitAS + "=" + strconv.FormatUint(cfg.Service("worker").VszLimit+asMargin, 10)
	if got := slices.Contains(env, want); got == raceEnabled {
		t.Errorf("childEnv(worker) = %q; want %q present: %v", env, want, !raceEnabled)
	}
	env = childEnv(spawnSpec{role: proto.RoleWorker, service: "worker"})
	if slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, proto.EnvRlimitAS+"=") }) {
		t.Errorf("childEnv without settings = %q, want no %s", env, proto.EnvRlimitAS)
	}
}
