package itest

import (
	"syscall"
	"testing"
	"time"
)

// TestMetricsFamilies scrapes /metrics for the families TestMetrics does
// not look at: connections per listener, auth latency, bytes out, open
// sessions, worker memory, and a restart after a login process is killed.
func TestMetricsFamilies(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := login(t, s, "demo")
	appendMsg(t, c, "INBOX", "families")

	victim := byRole(s.waitChildren(t, hasRoles("pop3-login")), "pop3-login")[0]
	must(t, syscall.Kill(victim.pid, syscall.SIGKILL))

	want := []string{
		`cote_connections_total{listener="imap",protocol="imap"}`,
		`cote_auth_seconds_count{protocol="imap"}`,
		`cote_bytes_out_total{protocol="imap"}`,
		`cote_sessions{protocol="imap"}`,
		`cote_worker_memory_bytes`,
		`cote_restarts_total{role="pop3-login"}`,
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		text := scrape(t, s)
		var missing []string
		for _, m := range want {
			if v, ok := metricValue(text, m); !ok || v <= 0 {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics missing or zero after a login, an APPEND and a killed pop3-login: %v\n%s", missing, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.Logout().Wait()
}
