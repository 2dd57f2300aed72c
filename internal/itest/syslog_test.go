package itest

import (
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSyslog: with log_path = syslog the master sends every process's
// lines to /dev/log with the configured facility, tagged "cote": the
// test plays the syslog daemon on /dev/log (so it needs the path free,
// as on a machine without one) and sees a login logged at local3.info.
func TestSyslog(t *testing.T) {
	requireRoot(t, "a syslog socket at /dev/log")
	if _, err := os.Lstat("/dev/log"); err == nil {
		t.Fatal("/dev/log exists (a syslog daemon runs here): this test plays the syslog daemon on that path and needs it free")
	}
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/dev/log", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		os.Remove("/dev/log")
	})
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := l.ReadFromUnix(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()

	s := startServer(t, serverOpts{extra: "log_path = syslog\nsyslog_facility = local3\n"})
	c := login(t, s, "demo")
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	// local3 is facility 19; info is 6: <158>.
	const pri = "<158>"
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		var login string
		for _, m := range got {
			if strings.Contains(m, "Login: user=<demo>") {
				login = m
			}
		}
		all := strings.Join(got, "\n")
		mu.Unlock()
		if login != "" {
			if !strings.HasPrefix(login, pri) || !strings.Contains(login, " cote[") || !strings.Contains(login, "role=imap-login") {
				t.Errorf("login line %q: want priority %s, tag cote[pid] and the role", login, pri)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no login line reached /dev/log; got:\n%s", all)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(s.log.String(), "Login: user=<demo>") {
		t.Errorf("the login line also went to stderr with log_path = syslog")
	}
}
