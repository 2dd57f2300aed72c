package profiling

import (
	"bytes"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	stop := make(chan struct{})
	close(stop) // the timed kinds end at once
	for _, kind := range []string{"profile", "trace", "heap", "allocs", "goroutine", "threadcreate", "block", "mutex"} {
		var buf bytes.Buffer
		if err := Write(&buf, kind, time.Second, stop); err != nil {
			t.Errorf("Write(%q) error: %v", kind, err)
			continue
		}
		if kind == "trace" {
			if buf.Len() == 0 {
				t.Errorf("Write(trace) wrote nothing")
			}
			continue
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte{0x1f, 0x8b}) {
			t.Errorf("Write(%q) = %d bytes without a gzip header", kind, buf.Len())
		}
	}
	for _, tc := range []struct {
		kind string
		d    time.Duration
	}{{"cpu", time.Second}, {"profile", 0}, {"profile", time.Hour}, {"../heap", 0}} {
		if err := Write(&bytes.Buffer{}, tc.kind, tc.d, stop); err == nil {
			t.Errorf("Write(%q, %v) succeeded, want an error", tc.kind, tc.d)
		}
	}
}
