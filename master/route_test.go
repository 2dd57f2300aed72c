package master

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"cote/config"
)

func TestCheckUser(t *testing.T) {
	cfg := config.Defaults()
	cfg.FirstValidUID, cfg.LastValidUID = 1000, 60000
	cfg.FirstValidGID, cfg.LastValidGID = 100, 0
	m := &Master{cfg: cfg, root: true}
	tests := []struct {
		fields []string
		err    string // "" = accepted
	}{
		{[]string{"uid=1000", "gid=100"}, ""},
		{[]string{"uid=60000", "gid=5000"}, ""},
		{[]string{"uid=0", "gid=100"}, "uid 0"},
		{[]string{"uid=999", "gid=100"}, "outside first_valid_uid"},
		{[]string{"uid=60001", "gid=100"}, "outside first_valid_uid"},
		{[]string{"uid=1000", "gid=99"}, "outside first_valid_gid"},
		{[]string{"gid=100"}, "uid"},
		{[]string{"uid=1000"}, "gid"},
	}
	for _, tt := range tests {
		pu := &pendingUser{user: "u", fields: tt.fields}
		err := m.checkUser(pu)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("checkUser(%q) = %v, want accepted", tt.fields, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("checkUser(%q) = %v, want error containing %q", tt.fields, err, tt.err)
		}
	}
	// A non-root master serves only its own uid.
	m.root = false
	cfg.FirstValidUID, cfg.LastValidUID = 0, 0
	other := os.Getuid() + 1
	if err := m.checkUser(&pendingUser{fields: []string{"uid=" + strconv.Itoa(other), "gid=100"}}); err == nil {
		t.Errorf("non-root master accepted uid %d", other)
	}
}
