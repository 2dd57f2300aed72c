package login

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

// captureHandler keeps the records logged through it.
type captureHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func TestLoginLogFormat(t *testing.T) {
	const (
		elements = "user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>"
		format   = "%$: %s"
	)
	l := &loginLog{user: "demo@example.org", mech: "PLAIN", service: "imap", rip: "192.0.2.7", lip: "192.0.2.1",
		rport: "50123", lport: "143", pid: 77, mpid: 4242, session: "AbCd", tls: true, secured: true}
	h := &captureHandler{}
	logLogin(slog.New(h), format, elements, l)
	want := "Login: user=<demo@example.org>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, mpid=4242, TLS, session=<AbCd>"
	if len(h.recs) != 1 || h.recs[0].Message != want || h.recs[0].Level != slog.LevelInfo {
		t.Fatalf("logged %+v, want %q", h.recs, want)
	}

	// Elements whose variables are all empty are left out; constant
	// elements stay; the other variables and %% expand.
	l.tls, l.secured, l.mpid, l.user = false, false, 0, "demo"
	got := formatLogin("%s [%$] 100%%", "%c %n/%{domain} mpid=%e svc=%s pid=%p ports=%b/%{lport} %{nosuch} fixed", "Login", l)
	if want := "demo/, svc=imap, pid=77, ports=50123/143, fixed [Login] 100%"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := formatLogin("%$: %s", "secured=%c", "Login", &loginLog{secured: true}); got != "Login: secured=secured" {
		t.Errorf("secured: %q", got)
	}

	// The user's element stays when empty, as in Dovecot's lines about
	// clients that have not logged in ("user=<>").
	if got := formatLogin("%$: %s", "user=<%u> method=%m rip=%r", "Disconnected", &loginLog{rip: "192.0.2.7"}); got != "Disconnected: user=<>, rip=192.0.2.7" {
		t.Errorf("before login: %q", got)
	}

	// No format: the structured line.
	h = &captureHandler{}
	logLogin(slog.New(h), "", elements, l)
	if len(h.recs) != 1 || h.recs[0].Message != "login" || h.recs[0].NumAttrs() != 5 {
		t.Errorf("structured: %+v", h.recs)
	}
}
