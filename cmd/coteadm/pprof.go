package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"cote/admin"
	"cote/proto"
)

func pprofCommand() command {
	c := command{
		name:    "pprof",
		usage:   "-p PID | --role ROLE | -u USER [--seconds N] -o FILE KIND",
		summary: "take a runtime profile of a cote process (admin_pprof)",
		help: "Takes a Go runtime profile of one process of the running server and writes it to FILE " +
			"(`-` for standard output), for `go tool pprof FILE`. Needs `admin_pprof = yes`. " +
			"KIND is `profile` (CPU, for --seconds, default 30, at most 300), `heap`, `allocs`, `goroutine`, " +
			"`block`, `mutex`, `threadcreate`, or `trace` (an execution trace for `go tool trace`, for --seconds). " +
			"The process is given by its pid (-p: a worker's from `coteadm who`, any other from ps), by role " +
			"(--role: `master`, or a role with one process such as `auth` or `lmtp`), or as the running worker of " +
			"a user (-u). Prints the kind, pid, role and size of the profile.\n\n" +
			"The profile passes through the master: the process writes it into a pipe the master gives it, " +
			"and the master forwards it on the admin socket. A CPU profile or trace costs the process a few " +
			"percent while it runs; block and mutex profiles are empty unless the process sampled them.",
	}
	c.run = func(e *env, args []string) error {
		fs := e.newFlagSet(c)
		pid := fs.Int("p", 0, "the process's `pid`")
		role := fs.String("role", "", "the one process of `ROLE` (master, auth, lmtp...)")
		user := fs.String("u", "", "the running worker of `user`")
		seconds := fs.Int("seconds", 0, "length of a CPU profile or trace, in `seconds` (default 30)")
		out := fs.String("o", "", "output `file`, - for standard output")
		operands, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(operands) != 1 || *out == "" {
			return usageError("usage: coteadm pprof %s", c.usage)
		}
		if !proto.ProfileKind(operands[0]) {
			return usageError("unknown profile kind %q", operands[0])
		}
		t := admin.PprofTarget{Kind: operands[0], Seconds: *seconds, PID: *pid, Role: *role, User: *user}
		req := t.Request()
		if _, err := admin.ParsePprof(req); err != nil {
			return usageError("%v", err)
		}
		return e.pprof(req, *out, time.Duration(*seconds)*time.Second)
	}
	return c
}

// pprof runs the request and writes the attached profile to out, through
// a temporary file renamed into place once it is whole.
func (e *env) pprof(req *admin.Request, out string, d time.Duration) error {
	sock, err := e.adminSocket()
	if err != nil {
		return err
	}
	if d <= 0 {
		d = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	var w io.Writer = e.stdout
	var tmp *os.File
	if out != "-" {
		tmp, err = os.CreateTemp(filepath.Dir(out), ".coteadm-pprof-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = tmp
	}
	resp, err := admin.DoAttached(ctx, sock, req, w)
	if err != nil {
		return adminError(err)
	}
	if !resp.OK {
		return respError(resp)
	}
	if tmp == nil {
		return nil
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	return e.printResponse(resp)
}
