package itest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cote/admin"
)

func (s *server) admin(t *testing.T, cmd, user string, args ...string) *admin.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := admin.Do(ctx, filepath.Join(s.dir, "run", admin.SocketName), &admin.Request{Command: cmd, User: user, Args: args})
	if err != nil {
		t.Fatalf("admin %s: %v", cmd, err)
	}
	return resp
}

func (s *server) adminOK(t *testing.T, cmd, user string, args ...string) *admin.Response {
	t.Helper()
	resp := s.admin(t, cmd, user, args...)
	if !resp.OK {
		t.Fatalf("admin %s %v: %s", cmd, args, resp.Error)
	}
	return resp
}

// TestAdminSocket drives the master's admin socket as coteadm does:
// mailbox commands run in the user's worker, next to a live session that
// sees their effect.
func TestAdminSocket(t *testing.T) {
	eachMode(t, func(t *testing.T, o serverOpts) {
		s := startServer(t, o)
		c := login(t, s, "demo")
		appendMsg(t, c, "INBOX", "admin one")
		appendMsg(t, c, "INBOX", "admin two")

		s.adminOK(t, "mailbox create", "demo", "Projects")
		list := s.adminOK(t, "mailbox list", "demo")
		var names []string
		for _, r := range list.Rows {
			names = append(names, r[0])
		}
		if !strings.Contains(strings.Join(names, ","), "Projects") {
			t.Errorf("mailbox list = %v, want Projects", names)
		}
		st := s.adminOK(t, "mailbox status", "demo", "INBOX")
		if st.Rows[0][1] != "2" {
			t.Errorf("mailbox status INBOX messages = %q, want 2 (%v)", st.Rows[0][1], st.Rows)
		}
		f := s.adminOK(t, "fetch", "demo", "uid subject", "mailbox", "INBOX", "all")
		if len(f.Rows) != 2 || f.Rows[1][1] != "admin two" {
			t.Errorf("fetch = %v", f.Rows)
		}
		s.adminOK(t, "flags add", "demo", `\Flagged`, "mailbox", "INBOX", "UID", f.Rows[0][0])
		s.adminOK(t, "expunge", "demo", "mailbox", "INBOX", "UID", f.Rows[1][0])
		// The live session sees the expunge and the flag.
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if n := c.Mailbox().NumMessages; n != 1 {
			t.Errorf("session sees %d messages after admin expunge, want 1", n)
		}
		who := s.adminOK(t, "who", "")
		if len(who.Rows) != 1 || who.Rows[0][0] != "demo" {
			t.Errorf("who = %v", who.Rows)
		}
		u := s.adminOK(t, "user", "demo")
		if !strings.Contains(strings.Join(flatten(u.Rows), " "), "home") {
			t.Errorf("user demo = %v", u.Rows)
		}
		if r := s.admin(t, "mailbox list", "nosuchuser"); r.OK {
			t.Errorf("mailbox list for an unknown user succeeded")
		}
		s.adminOK(t, "stats", "")
		s.adminOK(t, "kick", "demo")
		select {
		case <-c.Closed():
		case <-time.After(10 * time.Second):
			t.Errorf("kicked session still open")
		}
		s.adminOK(t, "stop", "")
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case <-done:
			s.stopped = true
		case <-time.After(20 * time.Second):
			t.Fatal("admin stop did not stop the master")
		}
	})
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
