package admin

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParsePprof(t *testing.T) {
	tests := []struct {
		req     Request
		want    PprofTarget
		wantErr bool
	}{
		{Request{Args: []string{"heap", "pid=42"}}, PprofTarget{Kind: "heap", PID: 42}, false},
		{Request{Args: []string{"profile", "seconds=5", "role=auth"}}, PprofTarget{Kind: "profile", Seconds: 5, Role: "auth"}, false},
		{Request{User: "demo", Args: []string{"goroutine"}}, PprofTarget{Kind: "goroutine", User: "demo"}, false},
		{Request{}, PprofTarget{}, true},
		{Request{Args: []string{"heap"}}, PprofTarget{}, true},
		{Request{User: "demo", Args: []string{"heap", "pid=3"}}, PprofTarget{}, true},
		{Request{Args: []string{"heap", "pid=x"}}, PprofTarget{}, true},
		{Request{Args: []string{"heap", "pid=-3"}}, PprofTarget{}, true},
		{Request{Args: []string{"heap", "pid=3", "debug=2"}}, PprofTarget{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePprof(&tt.req)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParsePprof(%+v) = %+v, %v; want %+v, error %v", tt.req, got, err, tt.want, tt.wantErr)
		}
		if tt.wantErr {
			continue
		}
		if back := tt.want.Request(); !reflect.DeepEqual(back.Args, tt.req.Args) || back.User != tt.req.User {
			t.Errorf("%+v.Request() = %+v, want %+v", tt.want, back, tt.req)
		}
	}
}

// TestDoAttached: the bytes after the response line reach the writer,
// and a short attachment is an error.
func TestDoAttached(t *testing.T) {
	for _, tt := range []struct {
		name    string
		send    []byte
		wantErr bool
	}{
		{"whole", []byte("\x1f\x8bprofile"), false},
		{"short", []byte("\x1f\x8b"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SocketName)
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			want := []byte("\x1f\x8bprofile")
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				var req Request
				if ReadMessage(bufio.NewReader(c), &req) != nil {
					return
				}
				r := Table([]string{"bytes"}, nil)
				r.Attached = int64(len(want))
				WriteMessage(c, r)
				c.Write(tt.send)
			}()
			var buf bytes.Buffer
			resp, err := DoAttached(context.Background(), path, &Request{Command: CommandPprof}, &buf)
			if tt.wantErr {
				if err == nil {
					t.Errorf("DoAttached with %d of %d bytes: no error", len(tt.send), len(want))
				}
				return
			}
			if err != nil || !resp.OK || !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("DoAttached = %+v, %v, wrote %q; want OK and %q", resp, err, buf.Bytes(), want)
			}
		})
	}
}
