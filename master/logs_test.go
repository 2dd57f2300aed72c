package master

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogRouting(t *testing.T) {
	dir := t.TempDir()
	errs, info, debug := filepath.Join(dir, "errors.log"), filepath.Join(dir, "info.log"), filepath.Join(dir, "debug.log")
	s, err := newLogSinkPaths(errs, info, debug, "mail")
	if err != nil {
		t.Fatal(err)
	}
	p := linePrefix("imap-login", 42, "")
	s.line(p, []byte(`level=ERROR msg="bad thing"`))
	s.line(p, []byte(`level=WARN msg="odd thing"`))
	s.line(p, []byte(`level=INFO msg=login user=demo`))
	s.line(p, []byte(`level=DEBUG msg=detail`))
	s.line(p, []byte(`panic: runtime error`))
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if e := read(errs); !strings.Contains(e, "bad thing") || !strings.Contains(e, "odd thing") || !strings.Contains(e, "panic:") || strings.Contains(e, "msg=login") {
		t.Errorf("log_path got:\n%s", e)
	}
	if i := read(info); !strings.Contains(i, "role=imap-login pid=42 level=INFO msg=login") || strings.Contains(i, "detail") {
		t.Errorf("info_log_path got:\n%s", i)
	}
	if d := read(debug); !strings.Contains(d, "msg=detail") {
		t.Errorf("debug_log_path got:\n%s", d)
	}
	// SIGUSR1 after rotation: the file is reopened under its name.
	os.Rename(info, info+".1")
	if err := s.reopen(); err != nil {
		t.Fatal(err)
	}
	s.line(p, []byte(`level=INFO msg=after-rotation`))
	if i := read(info); !strings.Contains(i, "after-rotation") {
		t.Errorf("after reopen, info log got:\n%s", i)
	}
}
