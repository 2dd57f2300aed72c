package imaplogin

import (
	"bufio"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
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

const (
	fakeSPID   = 31337
	fakeCookie = "0123456789abcdef0123456789abcdef"
	workerPID  = 4242
)

// fakeAuth speaks the server side of the auth-client protocol on a real
// Unix socket. Users: "u" with password "p"; "temp" fails temporarily.
type fakeAuth struct {
	t     *testing.T
	path  string
	ln    net.Listener
	lines chan []string // every AUTH line, as fields

	mu    sync.Mutex // guards conns
	conns []net.Conn
}

func newFakeAuth(t *testing.T) *fakeAuth {
	dir, err := os.MkdirTemp("", "cote-auth")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &fakeAuth{t: t, path: filepath.Join(dir, "login"), lines: make(chan []string, 16)}
	a.ln, err = net.Listen("unix", a.path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		a.ln.Close()
		a.dropAll()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := a.ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.conns = append(a.conns, c)
			a.mu.Unlock()
			wg.Go(func() { a.serve(c) })
		}
	})
	return a
}

// dropAll breaks every connection, as a crashing auth process would.
func (a *fakeAuth) dropAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.conns {
		c.Close()
	}
	a.conns = nil
}

type authState struct {
	mech string
	step int
	user string
}

func (a *fakeAuth) serve(c net.Conn) {
	defer c.Close()
	io.WriteString(c, "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nMECH\tAPOP\tprivate\n"+
		"SPID\t"+strconv.Itoa(fakeSPID)+"\nCUID\t1\nCOOKIE\t"+fakeCookie+"\nDONE\n")
	br := bufio.NewReader(c)
	states := map[string]*authState{}
	send := func(fields ...string) { io.WriteString(c, proto.AuthLine(fields...)) }
	check := func(id, user, pass string) {
		delete(states, id)
		switch {
		case user == "temp":
			send("FAIL", id, "user="+user, "code=temp_fail")
		case user == "u" && pass == "p":
			send("OK", id, "user="+user)
		case user == "moved" && pass == "p":
			send("OK", id, "user="+user, "nologin", "host=imap2.example.org", "reason=Your mail moved.")
		case user == "moved6" && pass == "p":
			send("OK", id, "user="+user, "nologin", "host=2001:db8::1", "port=1143", "destuser=m x@example.org")
		case user == "ref" && pass == "p":
			send("OK", id, "user="+user, "nologin", "referral=imap://ref@imap3.example.org/")
		case user == "badref" && pass == "p":
			send("OK", id, "user="+user, "nologin", "referral=http://imap3.example.org/")
		default:
			send("FAIL", id, "user="+user)
		}
	}
	plain := func(id string, data []byte) {
		parts := strings.Split(string(data), "\x00")
		if len(parts) != 3 {
			delete(states, id)
			send("FAIL", id)
			return
		}
		check(id, parts[1], parts[2])
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		f, err := proto.ParseAuthLine(strings.TrimSuffix(line, "\n"))
		if err != nil {
			a.t.Errorf("fake auth: %v", err)
			return
		}
		switch f[0] {
		case "VERSION", "CPID", "CANCEL":
		case "AUTH":
			a.lines <- f
			id, mech := f[1], f[2]
			p := proto.AuthParams(f[3:])
			resp, hasResp := p["resp"]
			data, _ := base64.StdEncoding.DecodeString(resp)
			st := &authState{mech: mech}
			states[id] = st
			switch {
			case mech == "PLAIN" && hasResp:
				plain(id, data)
			case mech == "PLAIN":
				send("CONT", id, "")
			case mech == "LOGIN":
				send("CONT", id, base64.StdEncoding.EncodeToString([]byte("Username:")))
			default:
				send("FAIL", id)
			}
		case "CONT":
			id := f[1]
			st := states[id]
			data, err := base64.StdEncoding.DecodeString(f[2])
			if st == nil || err != nil {
				send("FAIL", id, "code=invalid_base64")
				continue
			}
			switch {
			case st.mech == "PLAIN":
				plain(id, data)
			case st.step == 0:
				st.user, st.step = string(data), 1
				send("CONT", id, base64.StdEncoding.EncodeToString([]byte("Password:")))
			default:
				check(id, st.user, string(data))
			}
		default:
			a.t.Errorf("fake auth: unexpected %q", line)
		}
	}
}

// handoff is one Handoff the fake master received.
type handoff struct {
	msg  *proto.Handoff
	file *os.File
}

// env is a login server with an IMAP protocol, a fake master on a real
// control socketpair and a fake auth server.
type env struct {
	t       *testing.T
	srv     *login.Server
	auth    *fakeAuth
	master  *proto.Conn
	plain   string // loopback listener: secured
	remote  string // listener whose clients appear to come from 192.0.2.7
	implTLS string // implicit TLS listener
	client  *tls.Config

	handoffs      chan handoff
	handoffStatus atomic.Uint32
	statuses      chan proto.Status
	serveErr      chan error
	cancel        context.CancelFunc
}

type envOptions struct {
	noTLS                bool
	disablePlaintextAuth bool
	trusted              bool
	preAuthTimeout       time.Duration
	clientLimit          int
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, auth: newFakeAuth(t), handoffs: make(chan handoff, 4),
		statuses: make(chan proto.Status, 64), serveErr: make(chan error, 1)}
	master, childFile, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	cc, err := net.FileConn(childFile)
	childFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctl := proto.NewConn(cc.(*net.UnixConn))
	t.Cleanup(func() { ctl.Close() })
	e.master = master

	serverTLS, clientTLS := makeTLS(t)
	e.client = clientTLS
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	plain, remote, impl := listen(), listen(), listen()
	e.plain, e.remote, e.implTLS = plain.Addr().String(), remote.Addr().String(), impl.Addr().String()
	e.srv = &login.Server{
		Listeners: []login.Listener{
			{Name: "imap", L: plain},
			{Name: "imap-remote", L: fakeRemoteListener{remote}},
			{Name: "imaps", L: impl, ImplicitTLS: true},
		},
		Ctl:                  ctl,
		Log:                  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DisablePlaintextAuth: o.disablePlaintextAuth,
		ClientLimit:          cmp.Or(o.clientLimit, 10),
		Protocol:             New(Options{}),
		PreAuthTimeout:       o.preAuthTimeout,
	}
	if !o.noTLS {
		e.srv.TLS = serverTLS
	}
	if o.trusted {
		e.srv.TrustedNetworks = append(e.srv.TrustedNetworks, netip.MustParsePrefix("192.0.2.0/24"))
	}
	var wg sync.WaitGroup
	wg.Go(e.runMaster)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	wg.Go(func() { e.serveErr <- e.srv.Serve(ctx) })
	t.Cleanup(func() {
		cancel()
		// Not Close: proto.Conn.Recv panics on a read error, and a
		// shut-down read side gives a clean EOF.
		master.UnixConn().CloseRead()
		wg.Wait()
	})
	return e
}

// runMaster answers AuthConnect with a connection to the fake auth and
// Handoff with handoffStatus.
func (e *env) runMaster() {
	for {
		m, files, err := e.master.Recv()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *proto.AuthConnect:
			c, err := net.Dial("unix", e.auth.path)
			if err != nil {
				e.t.Errorf("fake master: dial auth: %v", err)
				return
			}
			f, err := c.(*net.UnixConn).File()
			c.Close()
			if err != nil {
				e.t.Errorf("fake master: %v", err)
				return
			}
			err = e.master.Send(&proto.AuthConnectReply{Seq: m.Seq, OK: true}, f)
			f.Close()
			if err != nil {
				return
			}
		case *proto.Handoff:
			e.handoffs <- handoff{msg: m, file: files[0]}
			st := e.handoffStatus.Load()
			if err := e.master.Send(&proto.HandoffReply{Seq: m.Seq, Status: st, WorkerPID: workerPID, Reason: "test"}); err != nil {
				return
			}
			if st != proto.HandoffOK {
				files[0].Close()
			}
		case *proto.Status:
			select {
			case e.statuses <- *m:
			default:
			}
		default:
			e.t.Errorf("fake master: unexpected %T", m)
		}
	}
}

func (e *env) nextHandoff() handoff {
	e.t.Helper()
	select {
	case h := <-e.handoffs:
		e.t.Cleanup(func() { h.file.Close() })
		return h
	case <-time.After(5 * time.Second):
		e.t.Fatal("no handoff")
	}
	panic("unreachable")
}

func (e *env) nextAuthLine() []string {
	e.t.Helper()
	select {
	case l := <-e.auth.lines:
		return l
	case <-time.After(5 * time.Second):
		e.t.Fatal("no AUTH line")
	}
	panic("unreachable")
}

func (e *env) drainAuthLines() {
	for {
		select {
		case <-e.auth.lines:
		default:
			return
		}
	}
}

func (e *env) noAuthLine() {
	e.t.Helper()
	select {
	case l := <-e.auth.lines:
		e.t.Fatalf("unexpected AUTH line %q", l)
	default:
	}
}

// fakeRemoteListener makes its clients appear to come from 192.0.2.7,
// an unsecured address, while keeping the real socket for the handoff.
type fakeRemoteListener struct{ net.Listener }

func (l fakeRemoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return fakeRemoteConn{c.(*net.TCPConn)}, nil
}

type fakeRemoteConn struct{ *net.TCPConn }

func (fakeRemoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// client is the IMAP client side of a test.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (e *env) dial(addr string) *client {
	e.t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	if addr == e.implTLS {
		tc := tls.Client(c, e.client)
		if err := tc.Handshake(); err != nil {
			e.t.Fatal(err)
		}
		c = tc
	}
	e.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: e.t, conn: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads a line and checks that it is want.
func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectPrefix reads a line and checks that it starts with prefix.
func (c *client) expectPrefix(prefix string) string {
	c.t.Helper()
	got := c.line()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	return got
}

func (c *client) expectEOF() {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("got %q, %v; want EOF", l, err)
	}
}

// starttls upgrades the client after the server's tagged OK.
func (c *client) starttls(cfg *tls.Config) {
	c.t.Helper()
	if c.r.Buffered() != 0 {
		c.t.Fatalf("%d bytes buffered before TLS", c.r.Buffered())
	}
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

func makeTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return server, client
}
