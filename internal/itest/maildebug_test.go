package itest

import (
	"strings"
	"testing"
	"time"
)

// TestPerUserMailDebug: a userdb field mail_debug=yes (passwd-file extra
// field userdb_mail_debug=yes) turns on debug logging in that user's
// worker only, as Dovecot's per-user mail_debug does; the global
// mail_debug stays off.
func TestPerUserMailDebug(t *testing.T) {
	s := startServer(t, serverOpts{
		users:     map[string]int{"alice": 1},
		userExtra: map[string]string{"alice": "userdb_mail_debug=yes"},
	})
	for _, u := range []string{"demo", "alice"} {
		c := login(t, s, u)
		appendMsg(t, c, "INBOX", "debug check")
		if err := c.Logout().Wait(); err != nil {
			t.Fatal(err)
		}
	}
	debugOf := func(user string) []string {
		var out []string
		for _, l := range strings.Split(s.log.String(), "\n") {
			if strings.Contains(l, "role=worker") && strings.Contains(l, `user="`+user+`"`) && strings.Contains(l, "level=DEBUG") {
				out = append(out, l)
			}
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(debugOf("alice")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	alice := debugOf("alice")
	if len(alice) == 0 || !strings.Contains(strings.Join(alice, "\n"), `msg="opening the mail store"`) {
		t.Errorf("alice's worker logged no debug lines (want the store's uid, home and location):\n%s", s.log.String())
	}
	if demo := debugOf("demo"); len(demo) != 0 {
		t.Errorf("demo's worker logged at debug without mail_debug:\n%s", strings.Join(demo, "\n"))
	}
}
