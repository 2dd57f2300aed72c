package managesievelogin

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cote/login"
	"cote/proto"
)

// The fake auth service's identity and users.
const (
	authSPID   = 4711
	authCookie = "fedcba9876543210fedcba9876543210"
	workerPID  = 777
	testUser   = "alice"
	testPass   = "s3cret"
)

// authServer is the server side of Dovecot's auth-client protocol
// (reference section 2.2) on a real Unix socket: PLAIN and LOGIN, the
// user testUser with testPass, and "later" who always fails
// temporarily. Every AUTH line it gets goes to requests.
type authServer struct {
	t        *testing.T
	path     string
	requests chan []string
}

func startAuth(t *testing.T) *authServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "msl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &authServer{t: t, path: filepath.Join(dir, "auth"), requests: make(chan []string, 32)}
	ln, err := net.Listen("unix", a.path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { a.serve(c) })
		}
	})
	return a
}

// verdict answers a finished exchange.
func verdict(id, user, pass string) []string {
	switch {
	case user == "later":
		return []string{"FAIL", id, "user=" + user, "code=temp_fail"}
	case user == testUser && pass == testPass:
		return []string{"OK", id, "user=" + user}
	}
	return []string{"FAIL", id, "user=" + user}
}

func (a *authServer) serve(c net.Conn) {
	defer c.Close()
	write := func(f ...string) { io.WriteString(c, proto.AuthLine(f...)) }
	write("VERSION", "1", "2")
	write("MECH", "PLAIN", "plaintext")
	write("MECH", "LOGIN", "plaintext")
	write("SPID", strconv.Itoa(authSPID))
	write("CUID", "9")
	write("COOKIE", authCookie)
	write("DONE")
	type pending struct {
		mech, user string
	}
	reqs := map[string]*pending{}
	plain := func(id string, data []byte) []string {
		f := strings.Split(string(data), "\x00")
		if len(f) != 3 {
			return []string{"FAIL", id}
		}
		return verdict(id, f[1], f[2])
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		f, err := proto.ParseAuthLine(strings.TrimSuffix(line, "\n"))
		if err != nil {
			a.t.Errorf("auth: bad line %q: %v", line, err)
			return
		}
		switch f[0] {
		case "VERSION", "CPID", "CANCEL":
		case "AUTH":
			a.requests <- f
			id, mech := f[1], f[2]
			p := proto.AuthParams(f[3:])
			resp, hasResp := p["resp"]
			data, _ := base64.StdEncoding.DecodeString(resp)
			switch {
			case mech == "PLAIN" && hasResp:
				write(plain(id, data)...)
			case mech == "PLAIN":
				reqs[id] = &pending{mech: mech}
				write("CONT", id, "")
			case mech == "LOGIN":
				reqs[id] = &pending{mech: mech}
				write("CONT", id, base64.StdEncoding.EncodeToString([]byte("Username:")))
			default:
				write("FAIL", id)
			}
		case "CONT":
			id := f[1]
			p := reqs[id]
			data, err := base64.StdEncoding.DecodeString(f[2])
			switch {
			case p == nil || err != nil:
				write("FAIL", id, "code=invalid_base64")
			case p.mech == "PLAIN":
				delete(reqs, id)
				write(plain(id, data)...)
			case p.user == "":
				p.user = string(data)
				write("CONT", id, base64.StdEncoding.EncodeToString([]byte("Password:")))
			default:
				delete(reqs, id)
				write(verdict(id, p.user, string(data))...)
			}
		default:
			a.t.Errorf("auth: unexpected %q", line)
		}
	}
}

// handoff is what the fake master got in one Handoff.
type handoff struct {
	msg  *proto.Handoff
	conn net.Conn // the client, as the worker would have it
}

// harness is a login.Server running this package's protocol, with the
// fake auth and a fake master on a real control socketpair.
type harness struct {
	t         *testing.T
	auth      *authServer
	local     string // loopback listener: a secured connection
	remote    string // clients here appear to come from 198.51.100.9
	implicit  string // implicit TLS listener
	clientTLS *tls.Config
	caPEM     []byte

	refuse   atomic.Uint32 // HandoffReply status
	handoffs chan handoff
	// worker, when set, runs for each accepted handoff instead of the
	// handoff going to the handoffs channel.
	worker func(h *proto.Handoff, conn net.Conn)
}

type setup struct {
	noTLS       bool
	noPlaintext bool
	options     Options
	worker      func(h *proto.Handoff, conn net.Conn)
}

func start(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{t: t, auth: startAuth(t), handoffs: make(chan handoff, 4), worker: s.worker}
	masterEnd, childFile, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	fc, err := net.FileConn(childFile)
	childFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	childEnd := proto.NewConn(fc.(*net.UnixConn))
	t.Cleanup(func() { childEnd.Close(); masterEnd.Close() })

	var serverTLS *tls.Config
	serverTLS, h.clientTLS, h.caPEM = selfSigned(t)
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lLocal, lRemote, lImplicit := listen(), listen(), listen()
	h.local, h.remote, h.implicit = lLocal.Addr().String(), lRemote.Addr().String(), lImplicit.Addr().String()
	srv := &login.Server{
		Listeners: []login.Listener{
			{Name: "sieve", L: lLocal},
			{Name: "sieve-remote", L: remoteListener{lRemote}},
			{Name: "sieve-tls", L: lImplicit, ImplicitTLS: true},
		},
		Ctl:                  childEnd,
		Log:                  slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DisablePlaintextAuth: s.noPlaintext,
		ClientLimit:          8,
		Protocol:             New(s.options),
	}
	if !s.noTLS {
		srv.TLS = serverTLS
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.master(masterEnd) })
	wg.Go(func() {
		if err := srv.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("login server: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		masterEnd.UnixConn().CloseRead()
		wg.Wait()
	})
	return h
}

// master answers AuthConnect with a new connection to the fake auth,
// and Handoff with h.refuse's status.
func (h *harness) master(c *proto.Conn) {
	var workers sync.WaitGroup
	defer workers.Wait()
	for {
		m, files, err := c.Recv()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *proto.AuthConnect:
			ac, err := net.Dial("unix", h.auth.path)
			if err != nil {
				h.t.Errorf("master: dial auth: %v", err)
				return
			}
			f, err := ac.(*net.UnixConn).File()
			ac.Close()
			if err != nil {
				h.t.Errorf("master: %v", err)
				return
			}
			err = c.Send(&proto.AuthConnectReply{Seq: m.Seq, OK: true}, f)
			f.Close()
			if err != nil {
				return
			}
		case *proto.Handoff:
			status := h.refuse.Load()
			if len(files) != 1 {
				h.t.Errorf("master: handoff with %d descriptors", len(files))
				return
			}
			if err := c.Send(&proto.HandoffReply{Seq: m.Seq, Status: status, WorkerPID: workerPID, Reason: "test"}); err != nil {
				return
			}
			if status != proto.HandoffOK {
				files[0].Close()
				continue
			}
			wc, err := net.FileConn(files[0])
			files[0].Close()
			if err != nil {
				h.t.Errorf("master: %v", err)
				continue
			}
			if h.worker != nil {
				workers.Go(func() { h.worker(m, wc) })
			} else {
				h.handoffs <- handoff{msg: m, conn: wc}
			}
		case *proto.Status:
		default:
			h.t.Errorf("master: unexpected %T", m)
		}
	}
}

func (h *harness) nextHandoff() handoff {
	h.t.Helper()
	select {
	case ho := <-h.handoffs:
		h.t.Cleanup(func() { ho.conn.Close() })
		return ho
	case <-time.After(5 * time.Second):
		h.t.Fatal("no handoff")
	}
	panic("unreachable")
}

func (h *harness) nextAuth() []string {
	h.t.Helper()
	select {
	case f := <-h.auth.requests:
		return f
	case <-time.After(5 * time.Second):
		h.t.Fatal("no AUTH request")
	}
	panic("unreachable")
}

// remoteListener makes its clients look like they come from a
// documentation address, so that they are not secured.
type remoteListener struct{ net.Listener }

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c.(*net.TCPConn)}, nil
}

type remoteConn struct{ *net.TCPConn }

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(198, 51, 100, 9), Port: 40000}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// conn is the client side of a test, reading responses line by line.
type conn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (h *harness) dial(addr string) *conn {
	h.t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		h.t.Fatal(err)
	}
	if addr == h.implicit {
		tc := tls.Client(nc, h.clientTLS)
		if err := tc.Handshake(); err != nil {
			h.t.Fatal(err)
		}
		nc = tc
	}
	h.t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &conn{t: h.t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *conn) send(s string) *conn {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
	return c
}

func (c *conn) cmd(line string) *conn {
	c.t.Helper()
	return c.send(line + "\r\n")
}

func (c *conn) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("%q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *conn) expect(want ...string) *conn {
	c.t.Helper()
	for _, w := range want {
		if got := c.line(); got != w {
			c.t.Fatalf("got %q, want %q", got, w)
		}
	}
	return c
}

func (c *conn) expectEOF() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("got %q, %v; want EOF", l, err)
	}
}

// starttls runs the client side of the handshake after OK to STARTTLS.
func (c *conn) starttls(cfg *tls.Config) {
	c.t.Helper()
	if n := c.r.Buffered(); n != 0 {
		c.t.Fatalf("%d bytes buffered before the handshake", n)
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost: the
// server's config, a client config that trusts it, and the certificate
// as PEM.
func selfSigned(t *testing.T) (*tls.Config, *tls.Config, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "localhost"},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
