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

// TestPOP3BigRETR: RETR of a big message streams it: the worker's peak
// RSS grows by well under the message size over what the same session
// needed to retrieve a small message (the process's own footprint, about
// 25 MB, and much more under the race detector, is not the message's).
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
	small := "From: small@example.org\r\nSubject: small\r\n\r\nsmall\r\n"
	must(t, os.WriteFile(filepath.Join(md, "new", "1700000000.small.host"), []byte(small), 0o600))
	must(t, os.WriteFile(filepath.Join(md, "new", "1700000001.big.host"), []byte(msg.String()), 0o600))
	if os.Getuid() == 0 {
		chownTree(t, md, 50100)
	}
	rc := rawDialPOP3(t, s)
	rc.send("USER demo\r\nPASS demo\r\n")
	rc.expect("+OK")
	rc.expect("+OK Logged in")
	rc.send("RETR 1\r\n")
	rc.expect("+OK")
	rc.expect(".\r\n")
	ws := byRole(children(s.cmd.Process.Pid), "worker")
	if len(ws) != 1 {
		t.Fatalf("%d workers", len(ws))
	}
	base := vmHWM(t, ws[0].pid)
	rc.send("RETR 2\r\n")
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
	peak := vmHWM(t, ws[0].pid)
	t.Logf("worker peak RSS %d MB after a small RETR, %d MB after a %d MB one", base>>20, peak>>20, size>>20)
	if peak-base > size/4 {
		t.Errorf("worker peak RSS grew by %d MB for a %d MB message: it was not streamed", (peak-base)>>20, size>>20)
	}
	rc.send("QUIT\r\n")
}
