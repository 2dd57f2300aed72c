package master

import (
	"bufio"
	"bytes"
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

// line writes one log line stamped with the time, role, pid and user.
func (s *logSink) line(prefix string, text []byte) {
	s.Write(fmt.Appendf(nil, "time=%s %s%s\n", time.Now().Format(time.RFC3339Nano), prefix, text))
}

func linePrefix(role string, pid int, user string) string {
	prefix := fmt.Sprintf("role=%s pid=%d ", role, pid)
	if user != "" {
		prefix += fmt.Sprintf("user=%q ", user)
	}
	return prefix
}

// collect copies one child's log lines until EOF.
func (s *logSink) collect(r io.Reader, role string, pid int, user string) {
	prefix := linePrefix(role, pid, user)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		s.line(prefix, sc.Bytes())
	}
	if sc.Err() != nil {
		io.Copy(io.Discard, r)
	}
}

// prefixWriter gives the master's own slog lines the same stamp.
type prefixWriter struct {
	s      *logSink
	prefix string
}

func (w prefixWriter) Write(p []byte) (int, error) {
	w.s.line(w.prefix, bytes.TrimSuffix(p, []byte("\n")))
	return len(p), nil
}

func (s *logSink) logger() *slog.Logger {
	h := slog.NewTextHandler(prefixWriter{s, linePrefix("master", os.Getpid(), "")}, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(h)
}
