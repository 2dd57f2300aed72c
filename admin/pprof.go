package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// CommandPprof takes a runtime profile of one cote process (admin_pprof).
// Its Args are the profile kind (proto.ProfileKind) and then options of
// the form name=value: seconds=N (a CPU profile or trace), pid=N (any
// process of the server) or role=NAME (the one process of a role, or
// "master"); Request.User selects the user's running worker instead. The
// response's table describes the profile, whose bytes are attached.
const CommandPprof = "pprof"

// PprofTarget is a parsed pprof request.
type PprofTarget struct {
	Kind    string
	Seconds int
	PID     int    // 0: not by pid
	Role    string // "": not by role
	User    string // "": not by user
}

// Request is the admin request for t.
func (t PprofTarget) Request() *Request {
	r := &Request{Command: CommandPprof, User: t.User, Args: []string{t.Kind}}
	if t.Seconds > 0 {
		r.Args = append(r.Args, "seconds="+strconv.Itoa(t.Seconds))
	}
	if t.PID > 0 {
		r.Args = append(r.Args, "pid="+strconv.Itoa(t.PID))
	}
	if t.Role != "" {
		r.Args = append(r.Args, "role="+t.Role)
	}
	return r
}

// ParsePprof reads a pprof request; exactly one of pid, role and user
// must be given.
func ParsePprof(r *Request) (PprofTarget, error) {
	t := PprofTarget{User: r.User}
	if len(r.Args) == 0 {
		return t, errors.New("pprof: no profile kind")
	}
	t.Kind = r.Args[0]
	for _, a := range r.Args[1:] {
		name, value, _ := strings.Cut(a, "=")
		var err error
		switch name {
		case "seconds":
			t.Seconds, err = strconv.Atoi(value)
		case "pid":
			t.PID, err = strconv.Atoi(value)
		case "role":
			t.Role = value
		default:
			return t, fmt.Errorf("pprof: unknown option %q", a)
		}
		if err != nil || t.Seconds < 0 || t.PID < 0 {
			return t, fmt.Errorf("pprof: bad option %q", a)
		}
	}
	n := 0
	for _, set := range []bool{t.PID > 0, t.Role != "", t.User != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return t, errors.New("pprof: give exactly one of a pid, a role or a user")
	}
	return t, nil
}

// WriteAttached writes r, with Attached set to len(data), then data.
func WriteAttached(c net.Conn, r *Response, data []byte) error {
	r.Attached = int64(len(data))
	if err := WriteMessage(c, r); err != nil {
		return err
	}
	_, err := c.Write(data)
	return err
}

// DoAttached is Do for a command whose response carries attached bytes:
// it copies them to w. A short attachment is an error.
func DoAttached(ctx context.Context, path string, req *Request, w io.Writer) (*Response, error) {
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
	br := bufio.NewReader(c)
	var resp Response
	if err := ReadMessage(br, &resp); err != nil {
		return nil, fmt.Errorf("read admin response: %w", err)
	}
	if !resp.OK && resp.Error == "" {
		resp.Error = "command failed"
	}
	if resp.Attached > 0 {
		n, err := io.CopyN(w, br, resp.Attached)
		if err != nil {
			return nil, fmt.Errorf("read attached data (%d of %d bytes): %w", n, resp.Attached, err)
		}
	}
	return &resp, nil
}
