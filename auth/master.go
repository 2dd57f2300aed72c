package auth

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"cote/auth/userdb"
	"cote/auth/varexpand"
	"cote/proto"
)

// masterConn is one auth-master or auth-userdb connection
// (src/auth/auth-master-connection.c).
type masterConn struct {
	s          *Server
	c          io.ReadWriteCloser
	userdbOnly bool
	// restricted: a userdb socket peer that is neither root nor our own
	// uid may only see users with its own uid (peerUID).
	restricted bool
	peerUID    uint32
	log        *slog.Logger

	wmu sync.Mutex // serializes writes
	wg  sync.WaitGroup
}

// peerUID returns the uid of a Unix socket peer (SO_PEERCRED).
func peerUID(c net.Conn) (uint32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}

func (s *Server) newMasterConn(c net.Conn, userdbOnly bool) *masterConn {
	mc := &masterConn{s: s, c: c, userdbOnly: userdbOnly, log: s.log.With("proto", "auth-master", "userdb_only", userdbOnly)}
	if userdbOnly {
		uid, ok := s.peerUID(c)
		switch {
		case !ok:
			// Not a Unix socket peer we can identify: allow nothing
			// beyond a uid no user has.
			mc.restricted, mc.peerUID = true, ^uint32(0)
		case uid != 0 && uid != uint32(os.Getuid()):
			mc.restricted, mc.peerUID = true, uid
		}
	}
	return mc
}

func (mc *masterConn) write(fields ...string) {
	mc.wmu.Lock()
	defer mc.wmu.Unlock()
	_, _ = io.WriteString(mc.c, proto.AuthLine(fields...))
}

func (mc *masterConn) run() {
	defer mc.wg.Wait()
	defer mc.c.Close()
	mc.write("VERSION", strconv.Itoa(masterMajor), strconv.Itoa(masterMinor))
	mc.write("SPID", strconv.Itoa(mc.s.pid))
	r := bufio.NewReaderSize(mc.c, proto.MaxAuthLine+1)
	versioned := false
	for {
		line, err := readLine(r)
		if err != nil {
			var pe protocolError
			if errors.As(err, &pe) {
				mc.log.Warn("auth master protocol error, disconnecting", "err", err)
			}
			return
		}
		if err := mc.handleLine(line, &versioned); err != nil {
			mc.log.Warn("auth master protocol error, disconnecting", "err", err)
			return
		}
	}
}

// handleLine runs one line; an error is a protocol error.
func (mc *masterConn) handleLine(line string, versioned *bool) error {
	f, err := proto.ParseAuthLine(line)
	if err != nil {
		return protocolError("bad line: " + err.Error())
	}
	if !*versioned {
		if f[0] != "VERSION" || len(f) < 3 {
			return protocolError("first line is not VERSION")
		}
		if major, err := strconv.Atoi(f[1]); err != nil || major != masterMajor {
			return protocolError("VERSION: unsupported protocol version")
		}
		*versioned = true
		return nil
	}
	if len(f) < 2 {
		return protocolError(safeName(f[0]) + ": missing id")
	}
	id, err := parseID(f[1])
	if err != nil {
		return protocolError(safeName(f[0]) + ": bad id")
	}
	var run func()
	switch f[0] {
	case "REQUEST":
		if mc.userdbOnly {
			return protocolError("REQUEST is not allowed on a userdb socket")
		}
		if len(f) < 5 {
			return protocolError("REQUEST: missing fields")
		}
		run = func() { mc.request(id, f[2], f[3], f[4]) }
	case "USER", "PASS":
		if len(f) < 3 {
			return protocolError(f[0] + ": missing user")
		}
		params := proto.AuthParams(f[3:])
		if params["service"] == "" {
			return protocolError(f[0] + ": service not given")
		}
		v := varexpand.Values{User: f[2], Service: params["service"], LocalIP: params["lip"], RemoteIP: params["rip"]}
		if f[0] == "USER" {
			run = func() { mc.user(id, v) }
		} else {
			run = func() { mc.pass(id, v) }
		}
	case "LIST":
		params := proto.AuthParams(f[2:])
		run = func() { mc.list(id, params["user"]) }
	case "CACHE-FLUSH":
		if mc.userdbOnly {
			return protocolError("CACHE-FLUSH is not allowed on a userdb socket")
		}
		users := f[2:]
		for i, u := range users {
			if n, ok := mc.s.normalizeUser(u, varexpand.Values{}); ok {
				users[i] = n
			}
		}
		n := mc.s.cache.flush(users)
		mc.log.Info("auth cache flushed", "entries", n, "users", len(users))
		mc.write("OK", f[1], strconv.Itoa(n))
		return nil
	default:
		return protocolError("unknown command " + safeName(f[0]))
	}
	mc.wg.Add(1)
	mc.s.run.Go(func() {
		defer mc.wg.Done()
		run()
	})
	return nil
}

// request redeems a login: REQUEST id client_pid auth_id cookie. Every
// refusal answers NOTFOUND (the login is unknown to us, whatever the
// reason); FAIL is kept for temporary failures.
func (mc *masterConn) request(id uint32, pidStr, authIDStr, cookie string) {
	sid := strconv.FormatUint(uint64(id), 10)
	pid, err1 := parseID(pidStr)
	authID, err2 := parseID(authIDStr)
	if err1 != nil || err2 != nil {
		mc.log.Error("master REQUEST with a bad pid or id", "id", id)
		mc.write("NOTFOUND", sid)
		return
	}
	s := mc.s
	s.mu.Lock()
	cc := s.logins[pid]
	s.mu.Unlock()
	if cc == nil {
		mc.log.Error("master requested auth for a nonexistent login client", "client_pid", pid)
		mc.write("NOTFOUND", sid)
		return
	}
	if len(cookie) != len(cc.cookie) || subtle.ConstantTimeCompare([]byte(strings.ToLower(cookie)), []byte(cc.cookie)) != 1 {
		mc.log.Error("master requested auth with an invalid cookie", "client_pid", pid)
		mc.write("NOTFOUND", sid)
		return
	}
	req, ok := cc.takeForMaster(authID)
	if !ok {
		mc.log.Error("master requested an unknown, unfinished, expired or already redeemed login", "client_pid", pid, "auth_id", authID)
		mc.write("NOTFOUND", sid)
		return
	}
	v := varexpand.Values{User: req.user, Service: req.info.service, LocalIP: req.info.lip, RemoteIP: req.info.rip}
	r, err := s.lookupUser(s.ctx, v, false)
	if errors.Is(err, userdb.ErrNotFound) {
		mc.log.Error("authenticated user not found in userdb", "user", req.user)
		mc.write("NOTFOUND", sid)
		return
	}
	if err != nil {
		mc.write("FAIL", sid, "reason=Temporary userdb lookup failure")
		return
	}
	fields := append([]string{"USER", sid, req.user}, r.Fields...)
	fields = append(fields, "auth_mech="+req.mech)
	if req.masterUser != "" {
		fields = append(fields, "master_user="+req.masterUser, "auth_user="+req.masterUser)
	}
	// Debug: the worker logs the session it starts (see "login ok").
	mc.log.Debug("login redeemed", "user", req.user, "client_pid", pid, "auth_id", authID)
	mc.write(fields...)
}

// user answers USER id user service=...
func (mc *masterConn) user(id uint32, v varexpand.Values) {
	sid := strconv.FormatUint(uint64(id), 10)
	user, ok := mc.s.normalizeUser(v.User, v)
	if !ok {
		mc.write("NOTFOUND", sid)
		return
	}
	v.User = user
	r, err := mc.s.lookupUser(mc.s.ctx, v, true)
	if errors.Is(err, userdb.ErrNotFound) {
		mc.write("NOTFOUND", sid)
		return
	}
	if err != nil {
		mc.write("FAIL", sid, "reason=Temporary userdb lookup failure")
		return
	}
	if mc.restricted {
		uid, _ := fieldValue(r.Fields, "uid")
		if uid != strconv.FormatUint(uint64(mc.peerUID), 10) {
			mc.log.Warn("userdb lookup refused: user's uid is not the peer's", "user", user, "peer_uid", mc.peerUID)
			mc.write("NOTFOUND", sid)
			return
		}
	}
	mc.write(append([]string{"USER", sid, r.User}, r.Fields...)...)
}

// pass answers PASS id user service=...: a passdb lookup without a
// password check. The stored password itself is never sent.
func (mc *masterConn) pass(id uint32, v varexpand.Values) {
	sid := strconv.FormatUint(uint64(id), 10)
	if mc.restricted {
		mc.write("FAIL", sid, "reason=Permission denied")
		return
	}
	user, ok := mc.s.normalizeUser(v.User, v)
	if !ok {
		mc.write("NOTFOUND", sid)
		return
	}
	v.User = user
	r, err := mc.s.lookupPass(mc.s.ctx, v)
	if err != nil {
		if errors.Is(err, errTemporary) {
			mc.write("FAIL", sid, "reason=Temporary passdb lookup failure")
		} else {
			mc.write("NOTFOUND", sid)
		}
		return
	}
	fields := []string{"PASS", sid, "user=" + user}
	for _, f := range r.Fields {
		if k, _, _ := strings.Cut(f, "="); k != "password" {
			fields = append(fields, f)
		}
	}
	mc.write(fields...)
}

// list answers LIST id [user=mask]: LIST lines then DONE.
func (mc *masterConn) list(id uint32, mask string) {
	sid := strconv.FormatUint(uint64(id), 10)
	if mc.restricted {
		mc.write("DONE", sid, "fail")
		return
	}
	failed := false
	for _, db := range mc.s.userdbs {
		l, ok := db.(userLister)
		if !ok {
			continue
		}
		users, err := l.List(mc.s.ctx)
		if err != nil {
			mc.log.Error("userdb iteration failed", "err", err)
			failed = true
			continue
		}
		for _, u := range users {
			if mask != "" {
				if ok, err := path.Match(mask, u); err != nil || !ok {
					continue
				}
			}
			mc.write("LIST", sid, u)
		}
	}
	if failed {
		mc.write("DONE", sid, "fail")
		return
	}
	mc.write("DONE", sid, "")
}
