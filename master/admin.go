package master

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cote/admin"
	"cote/auth/masterclient"
	"cote/proto"
)

// adminEvent is a coteadm request for the event loop.
type adminEvent struct {
	req  *admin.Request
	conn net.Conn
}

// masterCommands are answered by the master itself; every other command
// names a user and goes to that user's worker.
var masterCommands = map[string]bool{
	"who": true, "kick": true, "reload": true, "stop": true,
	"log reopen": true, "stats": true, "user": true, admin.CommandPprof: true,
}

// listenAdmin opens base_dir/admin, for root (or the master's own uid in
// the non-root development mode) and, when admin_group is set, members
// of that group, checked by peer credentials.
func (m *Master) listenAdmin(baseDir, group string) (net.Listener, error) {
	gid := -1
	if group != "" {
		g, err := m.ids.group(group)
		if err != nil {
			return nil, fmt.Errorf("admin_group: %w", err)
		}
		gid = g
	}
	path := baseDir + "/" + admin.SocketName
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("admin_group: %w", err)
		}
		os.Chmod(path, 0o660)
	} else {
		os.Chmod(path, 0o600)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go m.adminConn(c, gid)
		}
	}()
	return l, nil
}

func (m *Master) adminConn(c net.Conn, gid int) {
	uc := c.(*net.UnixConn)
	raw, err := uc.SyscallConn()
	var cred *unix.Ucred
	if err == nil {
		raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	}
	if err != nil || !adminAllowed(cred, os.Getuid(), gid, procGroups) {
		admin.WriteMessage(c, admin.Errorf("permission denied"))
		c.Close()
		return
	}
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	var req admin.Request
	if err := admin.ReadMessage(bufio.NewReader(c), &req); err != nil {
		admin.WriteMessage(c, admin.Errorf("bad request: %v", err))
		c.Close()
		return
	}
	m.events <- adminEvent{req: &req, conn: c}
}

// adminAllowed reports whether a peer of the admin socket may use it:
// root, the master's own uid (uid), or, when gid is not -1 (admin_group),
// a process whose primary group is gid or whose supplementary groups,
// as groups reads them for the peer's pid, include it.
func adminAllowed(cred *unix.Ucred, uid, gid int, groups func(pid int32) ([]int, error)) bool {
	switch {
	case cred == nil:
		return false
	case cred.Uid == 0 || int(cred.Uid) == uid:
		return true
	case gid < 0:
		return false
	case int(cred.Gid) == gid:
		return true
	}
	gs, err := groups(cred.Pid)
	if err != nil {
		return false
	}
	for _, g := range gs {
		if g == gid {
			return true
		}
	}
	return false
}

// procGroups reads a process's supplementary groups from the Groups line
// of /proc/PID/status.
func procGroups(pid int32) ([]int, error) {
	if pid <= 0 {
		return nil, errors.New("no peer pid")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return nil, err
	}
	return parseStatusGroups(b)
}

// parseStatusGroups finds "Groups:\t1 2 3" in a /proc/PID/status file.
func parseStatusGroups(status []byte) ([]int, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		var gs []int
		for _, f := range strings.Fields(rest) {
			g, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("bad Groups line %q", line)
			}
			gs = append(gs, g)
		}
		return gs, nil
	}
	return nil, errors.New("no Groups line")
}

func answer(c net.Conn, r *admin.Response) {
	go func() {
		admin.WriteMessage(c, r)
		c.Close()
	}()
}

// handleAdmin runs on the event loop.
func (m *Master) handleAdmin(ev adminEvent) {
	req, c := ev.req, ev.conn
	if !masterCommands[req.Command] {
		if req.User == "" {
			answer(c, admin.Errorf("%s: a user is required (-u USER)", req.Command))
			return
		}
		m.lookupUser(req.User, func(user string, fields []string, err error) {
			if err != nil {
				answer(c, lookupError(req.User, err))
				return
			}
			body, _ := json.Marshal(req)
			if len(body) > proto.MaxAdminPayload {
				answer(c, admin.Errorf("%s: request too large (%d bytes, at most %d)", req.Command, len(body), proto.MaxAdminPayload))
				return
			}
			pu := &pendingUser{a: &proto.Admin{User: user, Fields: fields, Request: body}, adminConn: c, user: user, fields: fields}
			if err := m.checkUser(pu); err != nil {
				answer(c, admin.Errorf("user %s: %v", user, err))
				return
			}
			m.route(pu)
		})
		return
	}
	switch req.Command {
	case admin.CommandPprof:
		m.adminPprof(req, c) // pprof.go
	case "who":
		var rows [][]string
		for _, p := range m.procs {
			if p.role == proto.RoleWorker && p.user != "" && (len(req.Args) == 0 || matchAny(req.Args, p.user)) {
				rows = append(rows, []string{p.user, strconv.Itoa(p.pid), strconv.Itoa(int(p.status.Clients))})
			}
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
		answer(c, admin.Table([]string{"user", "pid", "sessions"}, rows))
	case "kick":
		// Every user given, by name or shell pattern (as doveadm kick's
		// user mask); the user's worker ends all its sessions.
		masks := req.Args
		if req.User != "" {
			masks = append([]string{req.User}, masks...)
		}
		var rows [][]string
		for _, p := range m.procs {
			if p.role == proto.RoleWorker && p.user != "" && matchAny(masks, p.user) {
				p.ctl.Send(&proto.Shutdown{Now: true})
				rows = append(rows, []string{p.user, strconv.Itoa(p.pid), strconv.Itoa(int(p.status.Clients))})
			}
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
		answer(c, admin.Table([]string{"user", "pid", "sessions"}, rows))
	case "reload":
		m.reload()
		answer(c, admin.Table([]string{"generation"}, [][]string{{strconv.FormatUint(m.gen, 10)}}))
	case "stop":
		answer(c, admin.Table([]string{"pid"}, [][]string{{strconv.Itoa(os.Getpid())}}))
		m.stopReq <- struct{}{}
	case "log reopen":
		if err := m.sink.reopen(); err != nil {
			answer(c, admin.Errorf("%v", err))
			return
		}
		answer(c, admin.Table(nil, nil))
	case "stats":
		count := map[string]int{}
		for _, p := range m.procs {
			count[p.role]++
		}
		var rows [][]string
		for role, n := range count {
			rows = append(rows, []string{role, strconv.Itoa(n), strconv.Itoa(m.restarts[role])})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
		answer(c, admin.Table([]string{"role", "processes", "restarts"}, rows))
	case "user":
		m.lookupUser(req.User, func(user string, fields []string, err error) {
			if err != nil {
				answer(c, lookupError(req.User, err))
				return
			}
			rows := [][]string{{"user", user}}
			for _, f := range fields {
				k, v, _ := strings.Cut(f, "=")
				rows = append(rows, []string{k, v})
			}
			answer(c, admin.Table([]string{"field", "value"}, rows))
		})
	}
}

// matchAny reports whether user matches one of the shell patterns.
func matchAny(masks []string, user string) bool {
	for _, m := range masks {
		if ok, err := path.Match(m, user); ok && err == nil {
			return true
		}
	}
	return false
}

// lookupError is the answer to a failed userdb lookup.
func lookupError(user string, err error) *admin.Response {
	switch {
	case errors.Is(err, masterclient.ErrNotFound):
		return admin.CodeErrorf(admin.CodeNoUser, "user %s does not exist", user)
	case errors.Is(err, masterclient.ErrTemporary), errors.Is(err, masterclient.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return admin.CodeErrorf(admin.CodeTempFail, "user %s: userdb lookup failed: %v", user, err)
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return admin.CodeErrorf(admin.CodeTempFail, "user %s: userdb lookup failed: %v", user, err)
	}
	return admin.Errorf("user %s: %v", user, err)
}

// lookupUser asks auth's userdb and calls then on the event loop.
func (m *Master) lookupUser(user string, then func(string, []string, error)) {
	if m.authc == nil {
		c, err := masterclient.Dial(m.cfg.RuntimePath("auth-master"))
		if err != nil {
			then("", nil, err)
			return
		}
		m.authc = c
	}
	authc := m.authc
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u, fields, err := authc.User(ctx, user, "doveadm")
		m.events <- func() {
			if err != nil && !errors.Is(err, masterclient.ErrNotFound) && m.authc == authc {
				m.authc.Close()
				m.authc = nil
			}
			then(u, fields, err)
		}
	}()
}

// sendAdmin gives an admin command to the user's worker.
func (m *Master) sendAdmin(w *proc, pu *pendingUser) {
	w.lastSent++
	a := *pu.a
	a.Seq = w.lastSent
	if err := w.ctl.Send(&a); err != nil {
		answer(pu.adminConn, admin.CodeErrorf(admin.CodeTempFail, "worker unavailable: %v", err))
		return
	}
	if w.admins == nil {
		w.admins = map[uint64]net.Conn{}
	}
	w.admins[a.Seq] = pu.adminConn
}

func (m *Master) adminReply(w *proc, r *proto.AdminReply) bool {
	c, ok := w.admins[r.Seq]
	if !ok {
		return false
	}
	delete(w.admins, r.Seq)
	go func() {
		c.Write(append(r.Response, '\n'))
		c.Close()
	}()
	return true
}

func (m *Master) failAdmins(w *proc) {
	for seq, c := range w.admins {
		delete(w.admins, seq)
		answer(c, admin.CodeErrorf(admin.CodeTempFail, "the user's worker exited"))
	}
}
