package itest

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmHWM reads a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	must(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestPOP3BigRETR: RETR of a big message streams it; the worker's peak
// RSS stays well under the message size (it is about 25 MB whatever the
// size: the process's own footprint).
func TestPOP3BigRETR(t *testing.T) {
	s := startServer(t, serverOpts{})
	const size = 100 << 20
	// Another MDA drops the message into new/ before the user's worker
	// exists.
	md := filepath.Join(s.dir, "home", "demo", "Maildir")
	for _, d := range []string{"new", "cur", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(md, d), 0o700))
	}
	var msg strings.Builder
	msg.WriteString("From: big@example.org\r\nSubject: big\r\n\r\n")
	line := strings.Repeat("x", 998) + "\r\n"
	for msg.Len() < size {
		msg.WriteString(line)
	}
	must(t, os.WriteFile(filepath.Join(md, "new", "1700000000.big.host"), []byte(msg.String()), 0o600))
	if os.Getuid() == 0 {
		chownTree(t, md, 50100)
	}
	rc := rawDialPOP3(t, s)
	rc.send("USER demo\r\nPASS demo\r\n")
	rc.expect("+OK")
	rc.expect("+OK Logged in")
	rc.send("RETR 1\r\n")
	rc.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	first, err := rc.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "+OK") {
		t.Fatalf("RETR: %q, %v", first, err)
	}
	var got int64
	br := bufio.NewReaderSize(rc.r, 1<<16)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("RETR body after %d bytes: %v", got, err)
		}
		if l == ".\r\n" {
			break
		}
		got += int64(len(l))
	}
	if got < size {
		t.Fatalf("RETR gave %d bytes, want at least %d", got, size)
	}
	ws := byRole(children(s.cmd.Process.Pid), "worker")
	if len(ws) != 1 {
		t.Fatalf("%d workers", len(ws))
	}
	peak := vmHWM(t, ws[0].pid)
	t.Logf("worker peak RSS %d MB for a %d MB message", peak>>20, size>>20)
	if peak > size/3 {
		t.Errorf("worker peak RSS %d MB: the message was loaded whole (%d MB)", peak>>20, size>>20)
	}
	rc.send("QUIT\r\n")
}
