// Package admin is the contract between coteadm and the master's admin
// socket (base_dir/admin): one JSON request per connection, one JSON
// response. The master answers process-level commands itself and passes
// mailbox commands to the user's worker (proto.Admin), so that they never
// race the user's live sessions.
package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// SocketName is the admin socket's name in base_dir.
const SocketName = "admin"

// MaxMessage bounds a request or response line.
const MaxMessage = 1 << 20

// Request is one command.
type Request struct {
	Command string   `json:"command"` // e.g. "who", "mailbox list"
	User    string   `json:"user,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Input is what the command reads besides its arguments (the
	// script of "sieve put").
	Input []byte `json:"input,omitempty"`
}

// Response is a command's result as a table.
type Response struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Code classifies a failure (one of the Code constants); "" is any
	// other failure.
	Code    string     `json:"code,omitempty"`
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
}

// Failure codes. coteadm maps them to exit statuses as doveadm does.
const (
	CodeNoUser   = "NOUSER"   // the user does not exist (exit 67)
	CodeNotFound = "NOTFOUND" // a mailbox, message or script does not exist (exit 68)
	CodeTempFail = "TEMPFAIL" // try again later: auth or storage failure, busy (exit 75)
)

// Errorf makes a failed response.
func Errorf(format string, args ...any) *Response {
	return &Response{Error: fmt.Sprintf(format, args...)}
}

// CodeErrorf makes a failed response with a failure code.
func CodeErrorf(code, format string, args ...any) *Response {
	return &Response{Error: fmt.Sprintf(format, args...), Code: code}
}

// Table makes a successful response.
func Table(columns []string, rows [][]string) *Response {
	return &Response{OK: true, Columns: columns, Rows: rows}
}

// Do sends req to the admin socket at path and returns the response.
func Do(ctx context.Context, path string, req *Request) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to the admin socket %s (is cote running, and are you root?): %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	if err := WriteMessage(c, req); err != nil {
		return nil, err
	}
	var resp Response
	if err := ReadMessage(bufio.NewReader(c), &resp); err != nil {
		return nil, fmt.Errorf("read admin response: %w", err)
	}
	if !resp.OK && resp.Error == "" {
		resp.Error = "command failed"
	}
	return &resp, nil
}

// WriteMessage writes v as one JSON line.
func WriteMessage(c net.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.Write(append(b, '\n'))
	return err
}

// ErrTooLong is returned for a message over MaxMessage.
var ErrTooLong = errors.New("admin message too long")

// ReadMessage reads one JSON line into v.
func ReadMessage(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return err
		}
		line = append(line, chunk...)
		if len(line) > MaxMessage {
			return ErrTooLong
		}
		if !isPrefix {
			break
		}
	}
	return json.Unmarshal(line, v)
}
