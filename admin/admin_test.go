package admin

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	req := &Request{Command: "mailbox status", User: "demo", Args: []string{"INBOX", "messages"}}
	go WriteMessage(a, req)
	var got Request
	if err := ReadMessage(bufio.NewReader(b), &got); err != nil {
		t.Fatal(err)
	}
	if got.Command != req.Command || got.User != req.User || strings.Join(got.Args, ",") != "INBOX,messages" {
		t.Errorf("ReadMessage = %+v, want %+v", got, req)
	}
}

func TestReadMessageLimits(t *testing.T) {
	long := bytes.Repeat([]byte("x"), MaxMessage+10)
	var r Request
	if err := ReadMessage(bufio.NewReader(bytes.NewReader(append(long, '\n'))), &r); err != ErrTooLong {
		t.Errorf("ReadMessage(too long) = %v, want ErrTooLong", err)
	}
	if err := ReadMessage(bufio.NewReader(strings.NewReader("{not json\n")), &r); err == nil {
		t.Error("ReadMessage(bad JSON) succeeded")
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add([]byte(`{"command":"who"}` + "\n"))
	f.Add([]byte(`{"command":"mailbox list","user":"a","args":["*"]}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		ReadMessage(bufio.NewReader(bytes.NewReader(b)), &r)
	})
}
