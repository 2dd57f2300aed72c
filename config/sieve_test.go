package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSieve(t *testing.T) {
	tests := []struct {
		plugin  map[string]string
		want    SieveSettings
		wantErr string
	}{
		{plugin: nil, want: SieveSettings{}},
		{plugin: map[string]string{"sieve_global": "file:/etc/cote/sieve", "sieve_global_dir": "/old"}, want: SieveSettings{Global: "file:/etc/cote/sieve"}},
		{plugin: map[string]string{"sieve_global_dir": "/etc/cote/sieve"}, want: SieveSettings{Global: "/etc/cote/sieve"}},
		{plugin: map[string]string{"sieve_extensions": "+editheader -vacation", "sieve_max_redirects": "10", "sieve_max_actions": " 64 ",
			"sieve_max_script_size": "2M", "sieve_max_cpu_time": "5s"},
			want: SieveSettings{Extensions: "+editheader -vacation", MaxRedirects: 10, MaxActions: 64, MaxScriptSize: 2 << 20, MaxCPUTime: 5 * time.Second}},
		{plugin: map[string]string{"sieve_max_redirects": "-1"}, wantErr: `sieve_max_redirects: "-1" is not a count`},
		{plugin: map[string]string{"sieve_max_actions": "many", "sieve_max_cpu_time": "soon"}, wantErr: `sieve_max_actions: "many" is not a count; sieve_max_cpu_time`},
		{plugin: map[string]string{"sieve_max_script_size": "big"}, wantErr: "sieve_max_script_size"},
	}
	for _, tt := range tests {
		got, err := ParseSieve(tt.plugin)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSieve(%v) = %v, want error %q", tt.plugin, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSieve(%v) = %+v, %v, want %+v", tt.plugin, got, err, tt.want)
		}
	}
}

// TestValidateSieve: a bad Sieve setting in plugin { } fails validation
// at the line of the plugin block.
func TestValidateSieve(t *testing.T) {
	_, err := ParseString("test.conf", valid+"plugin {\n  sieve_max_redirects = lots\n}\n")
	if err == nil || !strings.Contains(err.Error(), "test.conf:9:") || !strings.Contains(err.Error(), `sieve_max_redirects: "lots" is not a count`) {
		t.Errorf("Validate = %v, want the bad sieve_max_redirects with its place", err)
	}
	s := mustParse(t, "plugin {\n  sieve_max_redirects = 8\n  sieve_global = /etc/cote/sieve\n}\n")
	if err := s.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}
