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
	"io"
	"net"
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
	// Attached is the number of raw bytes that follow the response's
	// line on the connection (a profile: DoAttached); 0 for most.
	Attached int64 `json:"attached,omitempty"`
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
	return DoAttached(ctx, path, req, io.Discard)
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
