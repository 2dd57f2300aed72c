package auth

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"cote/auth/mech"
	"cote/proto"
)

// Protocol versions (auth-client-interface.h, auth-master-interface.h).
const (
	clientMajor = 1
	clientMinor = 2
	masterMajor = 1
	masterMinor = 1
)

// protocolError closes the connection; its text is logged, so it must
// never carry client data beyond command names and ids.
type protocolError string

func (e protocolError) Error() string { return string(e) }

// request states.
const (
	stateBusy     = iota // a mechanism step or passdb lookup is running
	stateWaitCont        // a CONT challenge was sent
	stateDone            // finished OK, kept for the master's REQUEST
)

// request is one AUTH exchange on a client connection.
type request struct {
	id      uint32
	mech    string
	sess    mech.Session
	started time.Time
	info    requestInfo

	// Written by the step goroutine before it finishes; read after.
	v          *verifier
	user       string   // normalized user, once known
	passFields []string // passdb extra fields of the successful passdb
	nodelay    bool
	reason     string // passdb reason= for a failure
	failCode   string // user_disabled or pass_expired from a passdb
	origUser   string // the login name before a passdb's user= changed it
	masterUser string // set for a master user login
	// pendingLogin is the user a master user asked to log in as, until
	// the exchange succeeds; masterPass is the master passdb's pass.
	pendingLogin string
	masterPass   bool
	anonymous    bool
	penaltySum   uint32 // checksum of password and user, 0 when none
	proxyPass    string // the client's password, for a proxy reply only
	finalData    []byte // success data waiting for the client's empty CONT

	state      int       // guarded by clientConn.mu
	finishedAt time.Time // guarded by clientConn.mu
}

// requestInfo are the AUTH parameters cote uses.
type requestInfo struct {
	service, lip, rip, lport, rport, session string
	secured                                  bool
	noPenalty, validCert, finalRespOK        bool
	certUser                                 string
	// cbind is the TLS channel-binding data by type, from the login
	// process (cbind_exporter=, cbind_endpoint=; docs/auth.md).
	cbind map[string][]byte
}

// clientConn is one auth-client connection
// (src/auth/auth-client-connection.c).
type clientConn struct {
	s      *Server
	c      io.ReadWriteCloser
	login  bool
	cuid   uint32
	cookie string // 32 hex digits
	log    *slog.Logger

	wmu sync.Mutex // serializes writes

	// ctx ends when the connection does: penalty waits stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards the fields below
	pid     uint32     // CPID, 0 until the handshake
	minor   int
	reqs    map[uint32]*request
	closing bool

	steps sync.WaitGroup // running mechanism steps
}

func (s *Server) newClientConn(c io.ReadWriteCloser, login bool) *clientConn {
	var cookie [16]byte
	if _, err := s.randRead(cookie[:]); err != nil {
		panic(fmt.Sprintf("auth: no randomness for the cookie: %v", err))
	}
	s.mu.Lock()
	s.cuid++
	cuid := s.cuid
	s.mu.Unlock()
	cc := &clientConn{
		s: s, c: c, login: login, cuid: cuid,
		cookie: hex.EncodeToString(cookie[:]),
		log:    s.log.With("proto", "auth-client", "cuid", cuid),
		reqs:   map[uint32]*request{},
	}
	cc.ctx, cc.cancel = context.WithCancel(s.ctx)
	s.mu.Lock()
	s.clients[cc] = struct{}{}
	s.mu.Unlock()
	return cc
}

func (cc *clientConn) write(lines ...string) {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	for _, l := range lines {
		if _, err := io.WriteString(cc.c, l); err != nil {
			return
		}
	}
}

// handshake is what the server sends on connect (section 2.2).
func (cc *clientConn) handshake() []string {
	lines := []string{proto.AuthLine("VERSION", strconv.Itoa(clientMajor), strconv.Itoa(clientMinor))}
	for _, m := range cc.s.mechs {
		if m.ChannelBinding() && !cc.login {
			// Only cote's login processes pass channel-binding
			// data; Postfix and others must not see -PLUS.
			continue
		}
		lines = append(lines, proto.AuthLine(append([]string{"MECH", m.Name}, m.Flags...)...))
	}
	return append(lines,
		proto.AuthLine("SPID", strconv.Itoa(cc.s.pid)),
		proto.AuthLine("CUID", strconv.FormatUint(uint64(cc.cuid), 10)),
		proto.AuthLine("COOKIE", cc.cookie),
		proto.AuthLine("DONE"))
}

func (cc *clientConn) run() {
	defer cc.shutdown()
	cc.write(cc.handshake()...)
	r := bufio.NewReaderSize(cc.c, proto.MaxAuthLine+1)
	for {
		line, err := readLine(r)
		if err != nil {
			var pe protocolError
			if errors.As(err, &pe) {
				cc.log.Warn("auth client protocol error, disconnecting", "err", err)
			}
			return
		}
		if err := cc.handleLine(line); err != nil {
			cc.log.Warn("auth client protocol error, disconnecting", "err", err)
			return
		}
	}
}

// readLine reads one LF-terminated line of at most MaxAuthLine bytes.
func readLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", protocolError(fmt.Sprintf("line longer than %d bytes", proto.MaxAuthLine))
	}
	if err != nil {
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// shutdown forgets the connection's requests and its CPID.
func (cc *clientConn) shutdown() {
	cc.c.Close()
	cc.cancel()
	cc.mu.Lock()
	cc.closing = true
	pid := cc.pid
	clear(cc.reqs)
	cc.mu.Unlock()
	cc.s.mu.Lock()
	if cc.login && pid != 0 && cc.s.logins[pid] == cc {
		delete(cc.s.logins, pid)
	}
	delete(cc.s.clients, cc)
	cc.s.mu.Unlock()
	cc.steps.Wait()
}

// handleLine runs one client line; an error is a protocol error.
func (cc *clientConn) handleLine(line string) error {
	f, err := proto.ParseAuthLine(line)
	if err != nil {
		return protocolError("bad line: " + err.Error())
	}
	cc.mu.Lock()
	pid := cc.pid
	cc.mu.Unlock()
	if pid == 0 {
		return cc.handleHandshake(f)
	}
	switch f[0] {
	case "AUTH":
		return cc.handleAuth(f)
	case "CONT":
		return cc.handleCont(f)
	case "CANCEL":
		return cc.handleCancel(f)
	}
	return protocolError("unknown command " + safeName(f[0]))
}

// handleHandshake accepts VERSION and CPID, the only lines allowed before
// the handshake is done.
func (cc *clientConn) handleHandshake(f []string) error {
	switch f[0] {
	case "VERSION":
		if len(f) < 3 {
			return protocolError("VERSION: missing fields")
		}
		major, err1 := strconv.Atoi(f[1])
		minor, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || major != clientMajor {
			return protocolError("VERSION: unsupported protocol version")
		}
		cc.mu.Lock()
		cc.minor = minor
		cc.mu.Unlock()
		return nil
	case "CPID":
		if len(f) < 2 {
			return protocolError("CPID: missing pid")
		}
		pid, err := parseID(f[1])
		if err != nil {
			return protocolError("CPID: bad pid")
		}
		if cc.login {
			cc.s.mu.Lock()
			if _, dup := cc.s.logins[pid]; dup {
				cc.s.mu.Unlock()
				return protocolError(fmt.Sprintf("CPID %d already in use", pid))
			}
			cc.s.logins[pid] = cc
			cc.s.mu.Unlock()
		}
		cc.mu.Lock()
		cc.pid = pid
		cc.mu.Unlock()
		cc.log = cc.log.With("cpid", pid)
		return nil
	}
	return protocolError("handshake: expected VERSION or CPID, got " + safeName(f[0]))
}

// parseID reads a non-zero uint32.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, errors.New("bad id")
	}
	return uint32(n), nil
}

// safeName quotes a command name for a log line, cut short: a confused
// client may send anything, even a password, where a command belongs.
func safeName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; i >= 16 || !(c >= 'A' && c <= 'Z' || c == '-') {
			return "(unprintable)"
		}
	}
	return strconv.Quote(s)
}

// decodeResp decodes SASL data; "=" is the empty response.
func decodeResp(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// handleAuth starts a request:
// AUTH id mech service=svc [params...] [resp=base64].
func (cc *clientConn) handleAuth(f []string) error {
	if len(f) < 3 {
		return protocolError("AUTH: missing fields")
	}
	id, err := parseID(f[1])
	if err != nil {
		return protocolError("AUTH: bad id")
	}
	req := &request{id: id, mech: f[2], started: cc.s.now()}
	var resp []byte
	hasResp := false
	for i, p := range f[3:] {
		k, v, _ := cutParam(p)
		switch k {
		case "service":
			req.info.service = v
		case "lip":
			req.info.lip = v
		case "rip":
			req.info.rip = v
		case "lport":
			req.info.lport = v
		case "rport":
			req.info.rport = v
		case "session":
			req.info.session = v
		case "secured":
			req.info.secured = true
		case "no-penalty":
			req.info.noPenalty = true
		case "valid-client-cert":
			req.info.validCert = true
		case "cert_username":
			req.info.certUser = v
		case "final-resp-ok":
			req.info.finalRespOK = true
		case "cbind_exporter", "cbind_endpoint":
			data, derr := base64.StdEncoding.DecodeString(v)
			if derr != nil || len(data) == 0 || len(data) > 128 {
				return protocolError("AUTH: bad " + k)
			}
			if req.info.cbind == nil {
				req.info.cbind = map[string][]byte{}
			}
			typ := mech.CBTLSExporter
			if k == "cbind_endpoint" {
				typ = mech.CBTLSServerEndPoint
			}
			req.info.cbind[typ] = data
		case "resp":
			if i != len(f[3:])-1 {
				return protocolError("AUTH: resp= must be the last parameter")
			}
			hasResp = true
			cc.mu.Lock()
			minor := cc.minor
			cc.mu.Unlock()
			if v == "" && minor < 2 {
				// Exim's old clients send an empty resp= for "no
				// initial response".
				hasResp = false
			}
			resp, err = decodeResp(v)
		}
		// Everything else (nologin, node=, real_*, ...) is ignored.
	}
	if req.info.service == "" {
		return protocolError("AUTH: service not given")
	}
	cc.mu.Lock()
	if _, dup := cc.reqs[id]; dup {
		cc.mu.Unlock()
		return protocolError(fmt.Sprintf("AUTH: id %d already in use", id))
	}
	cc.mu.Unlock()
	cc.log.Debug("auth request", "id", id, "mech", req.mech, "service", req.info.service, "rip", req.info.rip, "secured", req.info.secured, "initial_response", hasResp)

	var m *mech.Mechanism
	for i := range cc.s.mechs {
		if cc.s.mechs[i].Name == req.mech && (cc.login || !cc.s.mechs[i].ChannelBinding()) {
			m = &cc.s.mechs[i]
		}
	}
	if m == nil {
		cc.write(proto.AuthLine("FAIL", f[1], "reason=Unsupported authentication mechanism"))
		return nil
	}
	cc.mu.Lock()
	cc.reqs[id] = req
	req.state = stateBusy
	cc.mu.Unlock()
	if err != nil {
		cc.fail(req, "invalid_base64", "Invalid base64 data in initial response")
		return nil
	}
	req.v = &verifier{cc: cc, req: req}
	req.sess = m.New(req.v)
	if !hasResp {
		resp = nil
	} else if resp == nil {
		resp = []byte{}
	}
	var wait time.Duration
	if !req.info.noPenalty {
		wait = cc.s.penalty.Delay(req.info.rip)
	}
	if wait > 0 {
		cc.log.Info("delaying request for the address's failed logins", "id", id, "rip", req.info.rip, "delay", wait)
	}
	cc.stepAfter(req, resp, wait)
	return nil
}

func cutParam(p string) (k, v string, ok bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '=' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}

// handleCont continues a request: CONT id base64.
func (cc *clientConn) handleCont(f []string) error {
	if len(f) < 3 {
		return protocolError("CONT: missing fields")
	}
	id, err := parseID(f[1])
	if err != nil {
		return protocolError("CONT: bad id")
	}
	cc.mu.Lock()
	req, ok := cc.reqs[id]
	if ok && req.state != stateWaitCont {
		cc.mu.Unlock()
		return protocolError(fmt.Sprintf("CONT: request %d is not waiting for a response", id))
	}
	if ok {
		req.state = stateBusy
	}
	cc.mu.Unlock()
	if !ok {
		cc.write(proto.AuthLine("FAIL", f[1], "reason=Authentication request timed out"))
		return nil
	}
	data, err := decodeResp(f[2])
	if err != nil {
		cc.fail(req, "invalid_base64", "Invalid base64 data in continued response")
		return nil
	}
	if req.finalData != nil {
		// The client acknowledged the success data (RFC 4422
		// section 5): anything but an empty response fails.
		if len(data) != 0 {
			cc.fail(req, "", "")
			return nil
		}
		cc.succeed(req, nil)
		return nil
	}
	cc.step(req, data)
	return nil
}

// handleCancel forgets a request: CANCEL id.
func (cc *clientConn) handleCancel(f []string) error {
	if len(f) < 2 {
		return protocolError("CANCEL: missing id")
	}
	id, err := parseID(f[1])
	if err != nil {
		return protocolError("CANCEL: bad id")
	}
	cc.mu.Lock()
	delete(cc.reqs, id)
	cc.mu.Unlock()
	return nil
}

// step runs one mechanism step without blocking the connection's reader.
func (cc *clientConn) step(req *request, resp []byte) { cc.stepAfter(req, resp, 0) }

// stepAfter runs the step after wait (the address's penalty).
func (cc *clientConn) stepAfter(req *request, resp []byte, wait time.Duration) {
	cc.steps.Add(1)
	cc.s.run.Go(func() {
		defer cc.steps.Done()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-cc.ctx.Done():
				t.Stop()
				return
			}
		}
		chal, done, err := req.sess.Step(cc.ctx, resp)
		if done && err == nil {
			err = req.v.finish(cc.ctx)
		}
		if !done {
			cc.mu.Lock()
			live := !cc.closing && cc.reqs[req.id] == req
			if live {
				req.state = stateWaitCont
			}
			cc.mu.Unlock()
			if live {
				cc.write(proto.AuthLine("CONT", strconv.FormatUint(uint64(req.id), 10), base64.StdEncoding.EncodeToString(chal)))
			}
			return
		}
		if err == nil {
			cc.succeed(req, chal)
			return
		}
		var f *mech.Failure
		if errors.As(err, &f) {
			cc.fail(req, f.Code, f.Reason)
			return
		}
		cc.log.Error("auth request failed temporarily", "id", req.id, "user", req.user, "err", err)
		cc.fail(req, mech.CodeTempFail, "")
	})
}

// succeed sends OK; on a login connection the request stays for
// REQUEST, unless the reply forbids a local login (nologin, proxy).
// final is the mechanism's success data: it goes in the OK (resp=) when
// the client said final-resp-ok, else in a CONT the client answers
// empty first.
func (cc *clientConn) succeed(req *request, final []byte) {
	id := strconv.FormatUint(uint64(req.id), 10)
	if final != nil && !req.info.finalRespOK {
		cc.mu.Lock()
		live := !cc.closing && cc.reqs[req.id] == req
		if live {
			req.finalData = final
			req.state = stateWaitCont
		}
		cc.mu.Unlock()
		if live {
			cc.write(proto.AuthLine("CONT", id, base64.StdEncoding.EncodeToString(final)))
		}
		return
	}
	noLocal := hasField(req.passFields, "nologin") || hasField(req.passFields, "proxy")
	cc.mu.Lock()
	if cc.closing || cc.reqs[req.id] != req {
		cc.mu.Unlock()
		return
	}
	if cc.login && !noLocal {
		req.state = stateDone
		req.finishedAt = cc.s.now()
	} else {
		delete(cc.reqs, req.id)
	}
	cc.mu.Unlock()
	if !req.info.noPenalty {
		cc.s.penalty.Success(req.info.rip)
	}
	fields := []string{"OK", id, "user=" + req.user}
	if req.origUser != "" {
		fields = append(fields, "original_user="+req.origUser)
	}
	if req.masterUser != "" {
		fields = append(fields, "auth_user="+req.masterUser)
	}
	if req.anonymous {
		fields = append(fields, "anonymous")
	}
	fields = append(fields, visibleFields(req.passFields)...)
	if noLocal && req.reason != "" && !hasField(req.passFields, "reason") {
		fields = append(fields, "reason="+req.reason)
	}
	if req.proxyPass != "" {
		fields = append(fields, "pass="+req.proxyPass)
	}
	if final != nil {
		fields = append(fields, "resp="+base64.StdEncoding.EncodeToString(final))
	}
	// Debug, as Dovecot logs a successful authentication only with
	// auth_debug: the login process logs the login itself ("Login:"),
	// and this line per login cost the master a log write.
	cc.log.Debug("login ok", "id", req.id, "user", req.user, "master_user", req.masterUser, "mech", req.mech, "service", req.info.service, "rip", req.info.rip, "nologin", noLocal)
	cc.write(proto.AuthLine(fields...))
}

// visibleFields are the passdb extra fields an OK reply carries: not the
// ones the auth process acts on itself, never a password.
func visibleFields(fields []string) []string {
	var out []string
	for _, f := range fields {
		k, _, _ := cutParam(f)
		switch {
		case k == "nodelay" || k == "nopassword" || k == "user" || k == "password" || k == "allow_nets" || k == "code":
		case k == "reason" && !hasField(fields, "nologin") && !hasField(fields, "proxy"):
		case len(k) >= 7 && k[:7] == "userdb_":
		default:
			out = append(out, f)
		}
	}
	return out
}

// fail drops the request and sends FAIL after the failure delay, unless
// the passdb asked for nodelay.
func (cc *clientConn) fail(req *request, code, reason string) {
	cc.mu.Lock()
	if cc.closing || cc.reqs[req.id] != req {
		cc.mu.Unlock()
		return
	}
	delete(cc.reqs, req.id)
	cc.mu.Unlock()
	if code != mech.CodeTempFail && !req.info.noPenalty {
		cc.s.penalty.Failure(req.info.rip, req.penaltySum)
	}
	fields := []string{"FAIL", strconv.FormatUint(uint64(req.id), 10)}
	if req.user != "" {
		fields = append(fields, "user="+req.user)
	}
	if req.nodelay {
		fields = append(fields, "nodelay")
	}
	if code != "" {
		fields = append(fields, "code="+code)
	}
	if req.reason != "" {
		// A passdb's reason= is meant for the user.
		fields = append(fields, "reason="+req.reason)
	} else if reason != "" && code != "" {
		fields = append(fields, "reason="+reason)
	}
	cc.log.Info("login failed", "id", req.id, "user", req.user, "mech", req.mech, "service", req.info.service, "rip", req.info.rip, "code", code)
	line := proto.AuthLine(fields...)
	if req.nodelay {
		cc.write(line)
		return
	}
	cc.s.delay.add(req.started, func() { cc.write(line) })
}

// takeForMaster removes request id for the master's REQUEST; it returns
// it only when it finished successfully and has not expired.
func (cc *clientConn) takeForMaster(id uint32) (*request, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	req, ok := cc.reqs[id]
	if !ok {
		return nil, false
	}
	delete(cc.reqs, id)
	if req.state != stateDone || cc.s.now().Sub(req.finishedAt) > cc.s.timeout {
		return nil, false
	}
	return req, true
}

// expire drops requests older than the request timeout.
func (cc *clientConn) expire(now time.Time) {
	cc.mu.Lock()
	var timedOut []uint32
	for id, req := range cc.reqs {
		switch {
		case req.state == stateDone && now.Sub(req.finishedAt) > cc.s.timeout:
			delete(cc.reqs, id)
		case req.state == stateWaitCont && now.Sub(req.started) > cc.s.timeout:
			delete(cc.reqs, id)
			timedOut = append(timedOut, id)
		}
	}
	cc.mu.Unlock()
	for _, id := range timedOut {
		cc.write(proto.AuthLine("FAIL", strconv.FormatUint(uint64(id), 10), "reason=Authentication request timed out"))
	}
}
