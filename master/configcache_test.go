package master

import (
	"encoding/json"
	"testing"

	"cote/config"
	"cote/proto"
)

// TestConfigCacheWorker: a worker's configuration carries its own
// service block only (process_min_avail, idle_kill and the rest as
// configured); the lmtp process keeps every service, and only auth the
// passdbs.
func TestConfigCacheWorker(t *testing.T) {
	s, err := config.ParseString("test.conf", "ssl = no\npassdb {\n  driver = static\n  args = password=x\n}\n"+
		"userdb {\n  driver = static\n  args = uid=1000 gid=1000 home=/home/%u\n}\n"+
		"service worker {\n  process_min_avail = 3\n}\nservice lmtp {\n  client_limit = 7\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	var cc configCache
	decode := func(role string) *config.Settings {
		t.Helper()
		data, err := cc.get(s, role)
		if err != nil {
			t.Fatal(err)
		}
		var got config.Settings
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	w := decode(proto.RoleWorker)
	if len(w.Services) != 1 || w.Service("worker") == nil || w.Service("worker").ProcessMinAvail != 3 {
		t.Errorf("worker's services = %+v, want the worker block only, with process_min_avail 3", w.Services)
	}
	if len(w.Passdbs) != 0 {
		t.Errorf("worker got %d passdbs", len(w.Passdbs))
	}
	l := decode(proto.RoleLMTP)
	if len(l.Services) != len(s.Services) || l.Service("lmtp") == nil || l.Service("lmtp").ClientLimit != 7 {
		t.Errorf("lmtp got %d services (lmtp %+v), want %d", len(l.Services), l.Service("lmtp"), len(s.Services))
	}
	if a := decode(proto.RoleAuth); len(a.Passdbs) != 1 || len(a.Services) != len(s.Services) {
		t.Errorf("auth got %d passdbs and %d services, want 1 and %d", len(a.Passdbs), len(a.Services), len(s.Services))
	}
	// The worker's trimmed copy does not change what the others get.
	if w2 := decode(proto.RoleWorker); len(w2.Services) != 1 || len(s.Services) < 2 {
		t.Errorf("second worker copy has %d services; settings have %d", len(w2.Services), len(s.Services))
	}
}

// BenchmarkWorkerConfigDecode: what a worker's start pays to decode its
// configuration (bench/cote.conf.tmpl's shape: the default services plus
// the bench's listeners).
func BenchmarkWorkerConfigDecode(b *testing.B) {
	s, err := config.ParseString("bench.conf", "ssl = no\npassdb {\n  driver = static\n  args = password=x\n}\n"+
		"userdb {\n  driver = static\n  args = uid=1000 gid=1000 home=/home/%u\n}\n"+
		"service imap-login {\n  inet_listener imap {\n    port = 21143\n  }\n}\n"+
		"service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = 21024\n  }\n}\n"+
		"service worker {\n  process_limit = 11500\n}\n")
	if err != nil {
		b.Fatal(err)
	}
	var cc configCache
	data, err := cc.get(s, proto.RoleWorker)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var got config.Settings
		if err := json.Unmarshal(data, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "config-bytes")
}
