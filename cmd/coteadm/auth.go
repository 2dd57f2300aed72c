package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cote/admin"
	"cote/proto"
)

// The auth commands speak Dovecot's auth protocols to the auth process's
// sockets in base_dir, as doveadm does: `auth test` a SASL PLAIN login on
// auth-client, `auth lookup` (PASS), `auth cache flush` (CACHE-FLUSH) and
// the userdb iteration of -A and user patterns (LIST) on auth-master.
// Both sockets are root's (mode 0600), like the admin socket.

// authService is the service name lookups are made for, as doveadm's.
const authService = "doveadm"

// authConn is one connection to an auth socket, used for one command at
// a time.
type authConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialAuth(path string) (*authConn, error) {
	c, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		code := 1
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			code = exitTempFail
		}
		return nil, &exitError{code: code, msg: fmt.Sprintf("connect to %s (is cote running, and are you root?): %v", path, err)}
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	return &authConn{c: c, r: bufio.NewReaderSize(c, proto.MaxAuthLine+1)}, nil
}

func (a *authConn) Close() error { return a.c.Close() }

func (a *authConn) send(fields ...string) error {
	_, err := a.c.Write([]byte(proto.AuthLine(fields...)))
	return err
}

func (a *authConn) recv() ([]string, error) {
	line, err := a.r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return proto.ParseAuthLine(strings.TrimSuffix(line, "\n"))
}

// authSocket is the path of an auth socket of the running instance.
func (e *env) authSocket(name string) (string, error) {
	base, err := e.baseDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, name), nil
}

// masterRequest sends one auth-master command with id 1 and returns the
// reply lines for it up to the final one (every line, for LIST).
func (e *env) masterRequest(cmd string, args ...string) ([][]string, error) {
	path, err := e.authSocket("auth-master")
	if err != nil {
		return nil, err
	}
	a, err := dialAuth(path)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if err := a.send("VERSION", "1", "1"); err != nil {
		return nil, err
	}
	if err := a.send(append([]string{cmd, "1"}, args...)...); err != nil {
		return nil, err
	}
	var lines [][]string
	for {
		f, err := a.recv()
		if err != nil {
			return nil, err
		}
		if f[0] == "VERSION" || f[0] == "SPID" || len(f) < 2 || f[1] != "1" {
			continue
		}
		lines = append(lines, f)
		if cmd != "LIST" || f[0] != "LIST" {
			return lines, nil
		}
	}
}

// listUsers iterates the userdbs (LIST), optionally by a shell pattern.
func (e *env) listUsers(mask string) ([]string, error) {
	var args []string
	if mask != "" {
		args = []string{"user=" + mask}
	}
	lines, err := e.masterRequest("LIST", args...)
	if err != nil {
		return nil, err
	}
	var users []string
	for _, f := range lines {
		switch {
		case f[0] == "LIST" && len(f) >= 3:
			users = append(users, f[2])
		case f[0] == "DONE" && len(f) >= 3 && f[2] == "fail":
			return users, &exitError{code: exitTempFail, msg: "userdb iteration failed (see the server log; not every userdb can list its users)"}
		}
	}
	if len(users) == 0 && mask != "" {
		return nil, &exitError{code: exitNoUser, msg: fmt.Sprintf("no user matches %q", mask)}
	}
	return users, nil
}

func authCommands() []command {
	return []command{
		{
			name: "user", usage: "USER...", summary: "look users up in the userdb",
			help: "Prints the userdb fields of each USER (uid, gid, home, mail, ...) as the master sees them when it " +
				"starts the user's worker, as `doveadm user`. A USER with `*` or `?` lists the matching users of the userdb instead. " +
				"An unknown user exits 67.",
			run: runUser,
		},
		{
			name: "auth test", usage: "[-a SOCKET] USER [PASSWORD]", summary: "try a login with a password",
			help: "Authenticates USER with SASL PLAIN over the auth-client socket (service doveadm), as a login would, " +
				"and prints the result with the passdb's extra fields, as `doveadm auth test`. Without PASSWORD it is asked " +
				"for on the terminal without echo, or read as one line from standard input. A refused login exits 77.",
			run: runAuthTest,
		},
		{
			name: "auth lookup", usage: "USER...", summary: "look users up in the passdb",
			help: "Looks each USER up in the passdbs without checking a password (auth-master PASS) and prints the " +
				"fields found; the password itself is never shown. An unknown user exits 67.",
			run: runAuthLookup,
		},
		{
			name: "auth cache flush", usage: "[USER...]", summary: "drop users (or everything) from the auth cache",
			help: "Removes the USERs' entries from the auth cache, or every entry when none is given, and prints how many went.",
			run:  runAuthCacheFlush,
		},
	}
}

func runUser(e *env, args []string) error {
	c := authCommands()[0]
	fs := e.newFlagSet(c)
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(operands) == 0 {
		return usageError("usage: coteadm user USER...")
	}
	var users []string
	var masks bool
	for _, u := range operands {
		if strings.ContainsAny(u, "*?[") {
			list, err := e.listUsers(u)
			if err != nil {
				return err
			}
			users = append(users, list...)
			masks = true
			continue
		}
		users = append(users, u)
	}
	if masks {
		t := &table{fields: []string{"user"}}
		for _, u := range users {
			t.rows = append(t.rows, []string{u})
		}
		return t.write(e.stdout, e.format)
	}
	return e.forUsers(users, len(users) > 1, func(u string) (*admin.Response, error) {
		return e.call(&admin.Request{Command: "user", User: u})
	})
}

func runAuthLookup(e *env, args []string) error {
	c := authCommands()[2]
	fs := e.newFlagSet(c)
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(operands) == 0 {
		return usageError("usage: coteadm auth lookup USER...")
	}
	return e.forUsers(operands, len(operands) > 1, func(u string) (*admin.Response, error) {
		lines, err := e.masterRequest("PASS", u, "service="+authService)
		if err != nil {
			return nil, err
		}
		f := lines[len(lines)-1]
		switch f[0] {
		case "PASS":
			rows := [][]string{}
			for _, kv := range f[2:] {
				k, v, _ := strings.Cut(kv, "=")
				rows = append(rows, []string{k, v})
			}
			return admin.Table([]string{"field", "value"}, rows), nil
		case "NOTFOUND":
			return admin.CodeErrorf(admin.CodeNoUser, "user %s not found in the passdb", u), nil
		}
		reason := proto.AuthParams(f[2:])["reason"]
		return admin.CodeErrorf(admin.CodeTempFail, "passdb lookup of %s failed: %s", u, reason), nil
	})
}

func runAuthCacheFlush(e *env, args []string) error {
	c := authCommands()[3]
	fs := e.newFlagSet(c)
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	lines, err := e.masterRequest("CACHE-FLUSH", operands...)
	if err != nil {
		return err
	}
	f := lines[len(lines)-1]
	if f[0] != "OK" || len(f) < 3 {
		return &exitError{code: exitTempFail, msg: "auth cache flush failed: " + strings.Join(f, " ")}
	}
	t := &table{fields: []string{"flushed"}, rows: [][]string{{f[2]}}}
	return t.write(e.stdout, e.format)
}

func runAuthTest(e *env, args []string) error {
	c := authCommands()[1]
	fs := e.newFlagSet(c)
	sock := fs.String("a", "", "the auth-client `socket` (default base_dir/auth-client)")
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(operands) < 1 || len(operands) > 2 {
		return usageError("usage: coteadm auth test USER [PASSWORD]")
	}
	user := operands[0]
	var pass string
	if len(operands) == 2 {
		pass = operands[1]
	} else if pass, err = askPassword(e, false); err != nil {
		return err
	}
	path := *sock
	if path == "" {
		if path, err = e.authSocket("auth-client"); err != nil {
			return err
		}
	}
	ok, fields, err := authPlain(path, user, pass)
	if err != nil {
		return &exitError{code: exitTempFail, msg: err.Error()}
	}
	params := proto.AuthParams(fields)
	if e.format != "table" {
		t := &table{fields: []string{"field", "value"}}
		result := "failed"
		if ok {
			result = "succeeded"
		}
		t.rows = append(t.rows, []string{"result", result})
		for _, kv := range fields {
			k, v, _ := strings.Cut(kv, "=")
			t.rows = append(t.rows, []string{k, v})
		}
		if err := t.write(e.stdout, e.format); err != nil {
			return err
		}
	} else if ok {
		fmt.Fprintf(e.stdout, "passdb: %s auth succeeded\n", user)
		if len(fields) > 0 {
			fmt.Fprintln(e.stdout, "extra fields:")
			for _, f := range fields {
				fmt.Fprintf(e.stdout, "  %s\n", f)
			}
		}
	} else {
		fmt.Fprintf(e.stdout, "passdb: %s auth failed\n", user)
		if r := params["reason"]; r != "" {
			fmt.Fprintf(e.stdout, "reason: %s\n", r)
		}
	}
	if !ok {
		return &exitError{code: exitNoPerm}
	}
	return nil
}

// authPlain runs one SASL PLAIN authentication on the auth-client socket
// (the Dovecot auth client protocol, version 1.2) and returns whether it
// succeeded and the reply's fields after the id.
func authPlain(path, user, pass string) (bool, []string, error) {
	a, err := dialAuth(path)
	if err != nil {
		return false, nil, err
	}
	defer a.Close()
	if err := a.send("VERSION", "1", "2"); err != nil {
		return false, nil, err
	}
	if err := a.send("CPID", strconv.Itoa(os.Getpid())); err != nil {
		return false, nil, err
	}
	for {
		f, err := a.recv()
		if err != nil {
			return false, nil, err
		}
		if f[0] == "DONE" {
			break
		}
	}
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if err := a.send("AUTH", "1", "PLAIN", "service="+authService, "secured", "no-penalty", "resp="+resp); err != nil {
		return false, nil, err
	}
	for {
		f, err := a.recv()
		if err != nil {
			return false, nil, err
		}
		if len(f) < 2 || f[1] != "1" {
			continue
		}
		switch f[0] {
		case "OK":
			return true, f[2:], nil
		case "FAIL":
			if proto.AuthParams(f[2:])["code"] == "temp_fail" {
				return false, f[2:], errors.New("auth: temporary failure: " + proto.AuthParams(f[2:])["reason"])
			}
			return false, f[2:], nil
		case "CONT":
			return false, nil, errors.New("auth: PLAIN asked for more data")
		}
	}
}
