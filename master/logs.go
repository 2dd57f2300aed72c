package master

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// logSink is where the master writes its own log and every child's lines.
// Children write slog text lines without a time to their stderr pipe; the
// sink stamps each with the time, role, pid and (for workers) user.
type logSink struct {
	mu   sync.Mutex // guards w, f and path
	w    io.Writer
	f    *os.File // non-nil when writing to a file we opened
	path string
}

func newLogSink(path string) (*logSink, error) {
	s := &logSink{path: path}
	return s, s.reopen()
}

// reopen (re)opens the log file, for SIGUSR1 after rotation.
func (s *logSink) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.path {
	case "", "/dev/stderr", "syslog":
		// syslog is not wired yet; stderr reaches journald under systemd.
		s.w = os.Stderr
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		if s.w == nil {
			s.w = os.Stderr
		}
		return fmt.Errorf("open log %s: %w", s.path, err)
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.w = f, f
	return nil
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// collect copies one child's log lines until EOF.
func (s *logSink) collect(r io.Reader, role string, pid int, user string) {
	prefix := fmt.Sprintf("role=%s pid=%d ", role, pid)
	if user != "" {
		prefix += fmt.Sprintf("user=%q ", user)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		line := fmt.Sprintf("time=%s %s%s\n", time.Now().Format(time.RFC3339Nano), prefix, sc.Bytes())
		s.Write([]byte(line))
	}
	if sc.Err() != nil {
		io.Copy(io.Discard, r)
	}
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, nil)).With("role", "master", "pid", os.Getpid())
}
