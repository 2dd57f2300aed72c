package dotlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLeftBehind: a lock left by a holder that is
// gone is taken over at once; one whose holder runs is waited for.
func TestLeftBehind(t *testing.T) {
	host, _ := os.Hostname()
	live := fmt.Sprintf("%d:%s", os.Getpid(), host) // this process runs
	if bootTime().IsZero() {
		t.Fatal("no btime in /proc/stat")
	}
	// A system that booted a minute ago, after a power cut: the locks
	// of before it are younger than Stale.
	saved := bootTime
	defer func() { bootTime = saved }()
	boot := time.Now().Add(-time.Minute)
	bootTime = func() time.Time { return boot }
	before := boot.Add(-30 * time.Second)
	for _, c := range []struct {
		name    string
		content string
		age     time.Time
		taken   bool
	}{
		{"running holder", live, time.Now(), false},
		{"holder from before the boot", live, before, true},
		{"emptied by a power cut", "", time.Now().Add(-2 * emptyStale), true},
		{"empty, being written", "", time.Now().Add(time.Second), false},
		{"another host's", fmt.Sprintf("%d:elsewhere.example", os.Getpid()), before, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dovecot-uidlist")
			if err := os.WriteFile(path+".lock", []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path+".lock", c.age, c.age); err != nil {
				t.Fatal(err)
			}
			unlock, err := Take(path, 50*time.Millisecond)
			if c.taken {
				if err != nil {
					t.Fatalf("lock left by a holder that is gone not taken: %v", err)
				}
				unlock()
				return
			}
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("Take = %v, want it busy", err)
			}
		})
	}
}
