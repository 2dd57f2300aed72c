package master

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// logSink is where the master writes its own log and every child's lines.
// Children write slog text lines without a time to their stderr pipe; the
// sink stamps each with the time, role, pid and (for workers) user, and
// sends it by level to log_path (errors and warnings), info_log_path and
// debug_log_path, each a file, /dev/stderr, or syslog (facility
// syslog_facility). Empty info and debug paths follow the level above.
type logSink struct {
	mu       sync.Mutex // guards the destinations
	errs     *logDest
	info     *logDest
	debug    *logDest
	facility string
	// stamp is log_timestamp, the strftime format of the time at the
	// start of lines sent to files and stderr; empty stamps RFC 3339
	// as "time=...". Syslog lines carry syslog's own time.
	stamp string
}

// logDest is one destination, shared when paths are equal.
type logDest struct {
	path string
	w    io.Writer
	f    *os.File       // a file we opened
	sys  *syslog.Writer // syslog
}

func newLogSinkPaths(errPath, infoPath, debugPath, facility string) (*logSink, error) {
	if infoPath == "" {
		infoPath = errPath
	}
	if debugPath == "" {
		debugPath = infoPath
	}
	s := &logSink{facility: facility}
	dests := map[string]*logDest{}
	get := func(p string) *logDest {
		if d := dests[p]; d != nil {
			return d
		}
		d := &logDest{path: p}
		dests[p] = d
		return d
	}
	s.errs, s.info, s.debug = get(errPath), get(infoPath), get(debugPath)
	return s, s.reopen()
}

var facilities = map[string]syslog.Priority{
	"mail": syslog.LOG_MAIL, "daemon": syslog.LOG_DAEMON, "user": syslog.LOG_USER,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// reopen (re)opens the log files, for SIGUSR1 after rotation.
func (s *logSink) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var firstErr error
	done := map[*logDest]bool{}
	for _, d := range []*logDest{s.errs, s.info, s.debug} {
		if done[d] {
			continue
		}
		done[d] = true
		if err := d.open(s.facility); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (d *logDest) open(facility string) error {
	switch d.path {
	case "", "/dev/stderr":
		d.w = os.Stderr
		return nil
	case "syslog":
		if d.sys != nil {
			return nil
		}
		fac, ok := facilities[facility]
		if !ok {
			fac = syslog.LOG_MAIL
		}
		w, err := syslog.New(fac|syslog.LOG_INFO, "cote")
		if err != nil {
			// No syslog daemon: stderr reaches journald under systemd.
			d.w = os.Stderr
			return nil
		}
		d.sys, d.w = w, w
		return nil
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		if d.w == nil {
			d.w = os.Stderr
		}
		return fmt.Errorf("open log %s: %w", d.path, err)
	}
	if d.f != nil {
		d.f.Close()
	}
	d.f, d.w = f, f
	return nil
}

// setTimestamp sets log_timestamp.
func (s *logSink) setTimestamp(format string) {
	s.mu.Lock()
	s.stamp = format
	s.mu.Unlock()
}

// timestamp is the time stamp of a line written to a file or stderr.
func (s *logSink) timestamp(now time.Time) string {
	if s.stamp == "" {
		return "time=" + now.Format(time.RFC3339Nano) + " "
	}
	return strftime(s.stamp, now)
}

// write sends one line to the destination of its level. Lines to files
// and stderr get a time stamp, see logSink.stamp.
func (s *logSink) write(level string, line []byte, stamped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.errs
	switch level {
	case "INFO":
		d = s.info
	case "DEBUG":
		d = s.debug
	}
	if d.sys != nil {
		msg := string(bytes.TrimSuffix(line, []byte("\n")))
		switch level {
		case "DEBUG":
			d.sys.Debug(msg)
		case "INFO":
			d.sys.Info(msg)
		case "WARN":
			d.sys.Warning(msg)
		default:
			d.sys.Err(msg)
		}
		return
	}
	if stamped {
		line = append([]byte(s.timestamp(time.Now())), line...)
	}
	d.w.Write(line)
}

// Write sends unstamped bytes (a child's crash output) to the error log.
func (s *logSink) Write(p []byte) (int, error) {
	s.write("ERROR", p, false)
	return len(p), nil
}

// levelOf finds slog's level=... in a line; lines without one are errors
// (a panic's stack, say).
func levelOf(text []byte) string {
	i := bytes.Index(text, []byte("level="))
	if i < 0 {
		return "ERROR"
	}
	rest := text[i+len("level="):]
	if j := bytes.IndexByte(rest, ' '); j >= 0 {
		rest = rest[:j]
	}
	return string(rest)
}

// line writes one log line stamped with the time, role, pid and user.
func (s *logSink) line(prefix string, text []byte) {
	s.write(levelOf(text), fmt.Appendf(nil, "%s%s\n", prefix, text), true)
}

func linePrefix(role string, pid int, user string) string {
	prefix := fmt.Sprintf("role=%s pid=%d ", role, pid)
	if user != "" {
		prefix += fmt.Sprintf("user=%q ", user)
	}
	return prefix
}

// collect copies one child's log lines until EOF.
func (s *logSink) collect(r io.Reader, role string, pid int, user string, assigned *atomic.Pointer[string]) {
	prefix := linePrefix(role, pid, user)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		// A spare worker gets its user after it started.
		if user == "" && assigned != nil {
			if u := assigned.Load(); u != nil {
				user = *u
				prefix = linePrefix(role, pid, user)
			}
		}
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
