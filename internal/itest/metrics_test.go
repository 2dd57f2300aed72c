package itest

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

func scrape(t *testing.T, s *server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.addr("metrics") + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	return string(b)
}

func metricValue(text, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestMetrics scrapes the master's endpoint: one endpoint serves the
// processes of every role, and the counters move after a login, a failed
// login and a delivery.
func TestMetrics(t *testing.T) {
	s := startServer(t, serverOpts{})
	deadline := time.Now().Add(15 * time.Second)
	for {
		text := scrape(t, s)
		if v, ok := metricValue(text, `cote_processes{role="auth"}`); ok && v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cote_processes{role=\"auth\"} 1:\n%s", text)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c := login(t, s, "demo")
	appendMsg(t, c, "INBOX", "metrics")
	rc := rawDial(t, s.addr("imap"))
	rc.send("a LOGIN demo wrong\r\n")
	rc.expect("a NO")
	lmtpDeliver(t, s.addr("lmtp"), "counted", "demo@example.org")
	deadline = time.Now().Add(15 * time.Second)
	for {
		text := scrape(t, s)
		sessions, _ := metricValue(text, `cote_sessions_total{protocol="imap"}`)
		in, _ := metricValue(text, `cote_bytes_in_total{protocol="imap"}`)
		workers, _ := metricValue(text, `cote_workers`)
		ok, _ := metricValue(text, `cote_logins_total{mechanism="PLAIN",protocol="imap",result="ok"}`)
		failed, _ := metricValue(text, `cote_logins_total{mechanism="PLAIN",protocol="imap",result="failed"}`)
		delivered, _ := metricValue(text, `cote_deliveries_total{result="2xx"}`)
		selects, _ := metricValue(text, `cote_imap_command_seconds_count{command="SELECT"}`)
		if sessions >= 1 && in > 0 && workers == 1 && ok >= 1 && failed >= 1 && delivered >= 1 && selects >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not move after a login:\n%s", text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
