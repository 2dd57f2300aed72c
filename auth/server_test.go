package auth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/auth/masterclient"
)

const testUsers = `demo:{PLAIN}demo:1000:1000::/home/demo::userdb_mail=maildir:~/Maildir
quick:{PLAIN}quick:1001:1001::/home/quick::nodelay
nopw::1002:1002::/home/nopw::nopassword
Mixed:{PLAIN}mixed:1003:1003::/home/mixed
`

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	s          *Server
	clientPath string
	loginPath  string
	masterPath string
	userdbPath string
	usersFile  string
	logs       *syncBuffer
}

// startServer runs a server with the test users on real Unix sockets.
func startServer(t *testing.T, delay time.Duration, mod ...func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	env := &testEnv{usersFile: filepath.Join(dir, "users"), logs: &syncBuffer{}}
	if err := os.WriteFile(env.usersFile, []byte(testUsers), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Passdbs:      []DBConfig{{Driver: "passwd-file", Args: "scheme=PLAIN " + env.usersFile}},
		Userdbs:      []DBConfig{{Driver: "passwd-file", Args: env.usersFile}},
		Mechanisms:   []string{"PLAIN", "LOGIN"},
		FailureDelay: delay,
		Log:          slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	env.s = s
	listen := func(name string, serve func(net.Listener) error) string {
		p := filepath.Join(dir, name)
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		go serve(l)
		return p
	}
	env.clientPath = listen("auth-client", func(l net.Listener) error { return s.ServeClient(l, false) })
	env.loginPath = listen("auth-login", func(l net.Listener) error { return s.ServeClient(l, true) })
	env.masterPath = listen("auth-master", func(l net.Listener) error { return s.ServeMaster(l, false) })
	env.userdbPath = listen("auth-userdb", func(l net.Listener) error { return s.ServeMaster(l, true) })
	t.Cleanup(func() { s.Close() })
	return env
}

// wire is a test client that reads like the protocol.
type wire struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, path string) *wire {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &wire{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes one line; "\t" in it are real TABs.
func (w *wire) send(line string) {
	w.t.Helper()
	if _, err := fmt.Fprintf(w.c, "%s\n", line); err != nil {
		w.t.Fatalf("send %q: %v", line, err)
	}
}

func (w *wire) read(timeout time.Duration) (string, error) {
	w.c.SetReadDeadline(time.Now().Add(timeout))
	l, err := w.r.ReadString('\n')
	return strings.TrimSuffix(l, "\n"), err
}

// expect reads one line and checks it against want; a want ending in "*"
// is a prefix.
func (w *wire) expect(want string) string {
	w.t.Helper()
	got, err := w.read(5 * time.Second)
	if err != nil {
		w.t.Fatalf("expecting %q: %v", want, err)
	}
	if p, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(got, p) || got == want {
		return got
	}
	w.t.Fatalf("got %q, want %q", got, want)
	return ""
}

// expectClosed checks that the server hangs up.
func (w *wire) expectClosed() {
	w.t.Helper()
	if l, err := w.read(5 * time.Second); err == nil {
		w.t.Fatalf("got %q, want the connection closed", l)
	}
}

// handshake reads the server's greeting and returns the cookie.
func (w *wire) handshake(cpid int) string {
	w.t.Helper()
	w.expect("VERSION\t1\t2")
	w.expect("MECH\tPLAIN\tplaintext")
	w.expect("MECH\tLOGIN\tplaintext")
	w.expect(fmt.Sprintf("SPID\t%d", os.Getpid()))
	w.expect("CUID\t*")
	cookie := strings.TrimPrefix(w.expect("COOKIE\t*"), "COOKIE\t")
	if len(cookie) != 32 {
		w.t.Fatalf("cookie %q is not 32 hex digits", cookie)
	}
	w.expect("DONE")
	w.send("VERSION\t1\t2")
	w.send(fmt.Sprintf("CPID\t%d", cpid))
	return cookie
}

func plainResp(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func TestAuthClientPlain(t *testing.T) {
	env := startServer(t, 50*time.Millisecond)
	w := dial(t, env.clientPath)
	w.handshake(42)
	w.send("AUTH\t1\tPLAIN\tservice=imap\tsecured\tresp=" + plainResp("demo", "demo"))
	w.expect("OK\t1\tuser=demo")
	// auth_username_format %Lu lower-cases.
	w.send("AUTH\t2\tPLAIN\tservice=imap\tnologin\tnode=x\tresp=" + plainResp("DEMO", "demo"))
	w.expect("OK\t2\tuser=demo")
	w.send("AUTH\t3\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "wrong"))
	w.expect("FAIL\t3\tuser=demo")
	w.send("AUTH\t4\tPLAIN\tservice=imap\tresp=" + plainResp("nobody", "x"))
	w.expect("FAIL\t4\tuser=nobody")
	w.send("AUTH\t5\tPLAIN\tservice=imap\tresp=" + base64.StdEncoding.EncodeToString([]byte("other\x00demo\x00demo")))
	w.expect("FAIL\t5\tuser=demo\tcode=authz_fail\treason=Authorization denied")
	w.send("AUTH\t6\tPLAIN\tservice=imap\tresp=!!!")
	w.expect("FAIL\t6\tcode=invalid_base64\treason=Invalid base64 data in initial response")
	w.send("AUTH\t7\tCRAM-MD5\tservice=imap")
	w.expect("FAIL\t7\treason=Unsupported authentication mechanism")
	// No initial response: an empty CONT, then the response.
	w.send("AUTH\t8\tPLAIN\tservice=smtp")
	w.expect("CONT\t8\t")
	w.send("CONT\t8\t" + plainResp("demo", "demo"))
	w.expect("OK\t8\tuser=demo")
	w.send("AUTH\t9\tPLAIN\tservice=imap\tresp=" + plainResp("quick", "bad"))
	w.expect("FAIL\t9\tuser=quick\tnodelay")
	w.send("AUTH\t10\tPLAIN\tservice=imap\tresp=" + plainResp("nopw", "anything"))
	w.expect("OK\t10\tuser=nopw")
	w.send("AUTH\t11\tPLAIN\tservice=imap\tresp=" + plainResp("bad/name", "x"))
	w.expect("FAIL\t11")
	w.send("CONT\t99\tAAAA")
	w.expect("FAIL\t99\treason=Authentication request timed out")
	w.send("AUTH\t12\tPLAIN\tservice=imap")
	w.expect("CONT\t12\t")
	w.send("CANCEL\t12")
	w.send("CONT\t12\t" + plainResp("demo", "demo"))
	w.expect("FAIL\t12\treason=Authentication request timed out")
}

func TestAuthClientLogin(t *testing.T) {
	env := startServer(t, 50*time.Millisecond)
	w := dial(t, env.clientPath)
	w.handshake(42)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	w.send("AUTH\t1\tLOGIN\tservice=smtp")
	w.expect("CONT\t1\t" + b64("Username:"))
	w.send("CONT\t1\t" + b64("demo"))
	w.expect("CONT\t1\t" + b64("Password:"))
	w.send("CONT\t1\t" + b64("demo"))
	w.expect("OK\t1\tuser=demo")
}

// TestPostfixSession is the reference's example exchange as Postfix runs it.
func TestPostfixSession(t *testing.T) {
	env := startServer(t, 50*time.Millisecond)
	w := dial(t, env.clientPath)
	w.send("VERSION\t1\t1")
	w.send("CPID\t4242")
	w.expect("VERSION\t1\t2")
	for range 5 {
		w.expect("*")
	}
	w.expect("DONE")
	w.send("AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.1\trip=198.51.100.7\tsecured\tresp=" + plainResp("demo", "demo"))
	w.expect("OK\t1\tuser=demo")
	// Minor 1: an empty resp= means no initial response.
	w.send("AUTH\t2\tPLAIN\tservice=smtp\tresp=")
	w.expect("CONT\t2\t")
}

func TestAuthClientProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"command before handshake", []string{"AUTH\t1\tPLAIN\tservice=imap"}},
		{"bad major", []string{"VERSION\t2\t0"}},
		{"zero cpid", []string{"VERSION\t1\t2", "CPID\t0"}},
		{"unknown command", []string{"VERSION\t1\t2", "CPID\t1", "HELLO"}},
		{"no service", []string{"VERSION\t1\t2", "CPID\t1", "AUTH\t1\tPLAIN\tresp=AA=="}},
		{"resp not last", []string{"VERSION\t1\t2", "CPID\t1", "AUTH\t1\tPLAIN\tresp=AA==\tservice=imap"}},
		{"zero id", []string{"VERSION\t1\t2", "CPID\t1", "AUTH\t0\tPLAIN\tservice=imap"}},
		{"duplicate id", []string{"VERSION\t1\t2", "CPID\t1", "AUTH\t1\tPLAIN\tservice=imap", "AUTH\t1\tPLAIN\tservice=imap"}},
		{"too long", []string{"VERSION\t1\t2", "CPID\t1", "AUTH\t1\tPLAIN\tservice=imap\tx=" + strings.Repeat("a", 16384)}},
		{"bad escape", []string{"VERSION\t1\t2", "CPID\t1", "AUTH\t1\tPLAIN\tservice=\x01x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startServer(t, 10*time.Millisecond)
			w := dial(t, env.clientPath)
			for _, l := range tt.lines {
				w.send(l)
			}
			for {
				l, err := w.read(5 * time.Second)
				if err != nil {
					break
				}
				if strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "FAIL") {
					t.Fatalf("got %q, want the connection closed", l)
				}
			}
			if !strings.Contains(env.logs.String(), "protocol error") {
				t.Errorf("no protocol error logged:\n%s", env.logs)
			}
		})
	}
}

func TestLoginCPIDUnique(t *testing.T) {
	env := startServer(t, 10*time.Millisecond)
	w1 := dial(t, env.loginPath)
	w1.handshake(77)
	w1.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w1.expect("OK\t1\tuser=demo")
	w2 := dial(t, env.loginPath)
	w2.handshake(77)
	w2.expectClosed()
	// A plain client socket does not care.
	w3 := dial(t, env.clientPath)
	w3.handshake(77)
	w3.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w3.expect("OK\t1\tuser=demo")
}

func TestMasterRequest(t *testing.T) {
	env := startServer(t, 10*time.Millisecond)
	w := dial(t, env.loginPath)
	cookie := w.handshake(1234)
	w.send("AUTH\t7\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w.expect("OK\t7\tuser=demo")
	w.send("AUTH\t8\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w.expect("OK\t8\tuser=demo")
	w.send("AUTH\t9\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "wrong"))
	w.expect("FAIL\t9\tuser=demo")

	m := dial(t, env.masterPath)
	m.expect("VERSION\t1\t1")
	m.expect(fmt.Sprintf("SPID\t%d", os.Getpid()))
	m.send("VERSION\t1\t0")
	wrong := strings.Repeat("0", 32)
	m.send("REQUEST\t1\t1234\t7\t" + wrong)
	m.expect("NOTFOUND\t1")
	m.send("REQUEST\t2\t9999\t7\t" + cookie)
	m.expect("NOTFOUND\t2")
	m.send("REQUEST\t3\t1234\t7\t" + cookie + "\tsession_pid=5")
	m.expect("USER\t3\tdemo\tuid=1000\tgid=1000\thome=/home/demo\tmail=maildir:~/Maildir\tauth_mech=PLAIN")
	m.send("REQUEST\t4\t1234\t7\t" + cookie)
	m.expect("NOTFOUND\t4") // replay
	m.send("REQUEST\t5\t1234\t9\t" + cookie)
	m.expect("NOTFOUND\t5") // a failed login
	m.send("REQUEST\t6\t1234\t8\t" + strings.ToUpper(cookie))
	m.expect("USER\t6\tdemo\t*")

	// The login connection goes away: its pending logins go with it.
	w.send("AUTH\t10\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w.expect("OK\t10\tuser=demo")
	w.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.send("REQUEST\t7\t1234\t10\t" + cookie)
		if l := m.expect("*"); l == "NOTFOUND\t7" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("request of a closed login connection still redeemable")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMasterRequestExpired(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := startServer(t, 10*time.Millisecond, func(o *Options) { o.Now = clock })
	w := dial(t, env.loginPath)
	cookie := w.handshake(55)
	w.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	w.expect("OK\t1\tuser=demo")
	mu.Lock()
	now = now.Add(RequestTimeout + time.Second)
	mu.Unlock()
	c, err := masterclient.Dial(env.masterPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Request(context.Background(), 55, 1, cookie); err != masterclient.ErrRefused {
		t.Errorf("Request of an expired login = %v, want ErrRefused", err)
	}
}

func TestMasterClient(t *testing.T) {
	env := startServer(t, 10*time.Millisecond)
	w := dial(t, env.loginPath)
	cookie := w.handshake(4321)
	for i := 1; i <= 20; i++ {
		w.send(fmt.Sprintf("AUTH\t%d\tPLAIN\tservice=imap\tresp=%s", i, plainResp("demo", "demo")))
		w.expect(fmt.Sprintf("OK\t%d\tuser=demo", i))
	}
	c, err := masterclient.Dial(env.masterPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Go(func() {
			user, fields, err := c.Request(ctx, 4321, uint32(i), cookie)
			if err != nil || user != "demo" || !contains(fields, "uid=1000") || !contains(fields, "auth_mech=PLAIN") {
				t.Errorf("Request(%d) = %q, %q, %v", i, user, fields, err)
			}
		})
	}
	wg.Wait()
	if _, _, err := c.Request(ctx, 4321, 1, cookie); err != masterclient.ErrRefused {
		t.Errorf("replayed Request = %v, want ErrRefused", err)
	}
	if _, _, err := c.Request(ctx, 4321, 2, strings.Repeat("a", 32)); err != masterclient.ErrRefused {
		t.Errorf("Request with a wrong cookie = %v, want ErrRefused", err)
	}
	user, fields, err := c.User(ctx, "Demo", "lmtp")
	if err != nil || user != "demo" || !contains(fields, "home=/home/demo") {
		t.Errorf("User(Demo) = %q, %q, %v", user, fields, err)
	}
	if _, _, err := c.User(ctx, "nobody", "lmtp"); err != masterclient.ErrNotFound {
		t.Errorf("User(nobody) = %v, want ErrNotFound", err)
	}
}

func contains(fields []string, f string) bool {
	for _, x := range fields {
		if x == f {
			return true
		}
	}
	return false
}

func TestMasterUserPassList(t *testing.T) {
	env := startServer(t, 10*time.Millisecond)
	m := dial(t, env.masterPath)
	m.expect("VERSION\t1\t1")
	m.expect("SPID\t*")
	m.send("VERSION\t1\t1")
	m.send("USER\t1\tdemo\tservice=lmtp")
	m.expect("USER\t1\tdemo\tuid=1000\tgid=1000\thome=/home/demo\tmail=maildir:~/Maildir")
	m.send("USER\t2\tnobody\tservice=lmtp")
	m.expect("NOTFOUND\t2")
	m.send("PASS\t3\tquick\tservice=imap")
	m.expect("PASS\t3\tuser=quick\tnodelay")
	m.send("PASS\t4\tnobody\tservice=imap")
	m.expect("NOTFOUND\t4")
	m.send("LIST\t5\tuser=*i*")
	m.expect("LIST\t5\tquick")
	m.expect("LIST\t5\tMixed")
	m.expect("DONE\t5\t")
	m.send("CACHE-FLUSH\t6")
	m.expect("OK\t6\t0")
	m.send("USER\t7\tdemo")
	m.expectClosed()

	u := dial(t, env.userdbPath)
	u.expect("VERSION\t1\t1")
	u.expect("SPID\t*")
	u.send("VERSION\t1\t1")
	u.send("USER\t1\tdemo\tservice=lda")
	u.expect("USER\t1\tdemo\t*")
	u.send("REQUEST\t2\t1\t1\t" + strings.Repeat("0", 32))
	u.expectClosed()
}

func TestUserdbSocketRestricted(t *testing.T) {
	env := startServer(t, 10*time.Millisecond)
	env.s.peerUID = func(net.Conn) (uint32, bool) { return 1001, true }
	path := filepath.Join(t.TempDir(), "auth-userdb2")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go env.s.ServeMaster(l, true)
	u := dial(t, path)
	u.expect("VERSION\t1\t1")
	u.expect("SPID\t*")
	u.send("VERSION\t1\t1")
	u.send("USER\t1\tquick\tservice=lda")
	u.expect("USER\t1\tquick\tuid=1001\t*")
	u.send("USER\t2\tdemo\tservice=lda")
	u.expect("NOTFOUND\t2")
	u.send("PASS\t3\tquick\tservice=lda")
	u.expect("FAIL\t3\treason=Permission denied")
	u.send("LIST\t4")
	u.expect("DONE\t4\tfail")
}

// TestFailureDelayDoesNotBlock: a wrong password is answered only after
// the failure delay, and meanwhile other logins, on the same connection
// and on another, go through at once.
func TestFailureDelayDoesNotBlock(t *testing.T) {
	const delay = 700 * time.Millisecond
	env := startServer(t, delay)
	a := dial(t, env.clientPath)
	a.handshake(1)
	b := dial(t, env.clientPath)
	b.handshake(2)
	start := time.Now()
	a.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "wrong"))
	a.send("AUTH\t2\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	b.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "demo"))
	b.expect("OK\t1\tuser=demo")
	a.expect("OK\t2\tuser=demo")
	if e := time.Since(start); e > delay/2 {
		t.Errorf("good logins took %v while a failure was pending, want well under %v", e, delay)
	}
	a.expect("FAIL\t1\tuser=demo")
	if e := time.Since(start); e < delay {
		t.Errorf("failure answered after %v, want at least %v", e, delay)
	}
}

func TestFailureDelayShuffledBatch(t *testing.T) {
	env := startServer(t, 300*time.Millisecond)
	a := dial(t, env.clientPath)
	a.handshake(1)
	for i := 1; i <= 8; i++ {
		a.send(fmt.Sprintf("AUTH\t%d\tPLAIN\tservice=imap\tresp=%s", i, plainResp("demo", "x")))
	}
	seen := map[string]bool{}
	for range 8 {
		l := a.expect("FAIL\t*")
		seen[l] = true
	}
	if len(seen) != 8 {
		t.Errorf("got %d distinct FAIL lines, want 8", len(seen))
	}
}

func TestPasswdFileReload(t *testing.T) {
	env := startServer(t, 10*time.Millisecond)
	w := dial(t, env.clientPath)
	w.handshake(1)
	w.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "changed"))
	w.expect("FAIL\t1\tuser=demo")
	content := strings.Replace(testUsers, "{PLAIN}demo", "{PLAIN}changed", 1) + "newbie:{PLAIN}new:1010:1010\nbroken:line:notauid-nosuchuser:1\n"
	if err := os.WriteFile(env.usersFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(env.usersFile, later, later)
	w.send("AUTH\t2\tPLAIN\tservice=imap\tresp=" + plainResp("demo", "changed"))
	w.expect("OK\t2\tuser=demo")
	w.send("AUTH\t3\tPLAIN\tservice=imap\tresp=" + plainResp("newbie", "new"))
	w.expect("OK\t3\tuser=newbie")
	if !strings.Contains(env.logs.String(), "line=6") {
		t.Errorf("bad line not logged with its number:\n%s", env.logs)
	}
}

// TestSecretsNotLogged runs logins at debug level and checks that neither
// a password nor a SASL response reaches the log.
func TestSecretsNotLogged(t *testing.T) {
	const secret = "Sup3rS3cretPassw0rd"
	env := startServer(t, 10*time.Millisecond)
	w := dial(t, env.loginPath)
	cookie := w.handshake(9)
	good := plainResp("demo", "demo")
	bad := plainResp("demo", secret)
	w.send("AUTH\t1\tPLAIN\tservice=imap\tresp=" + good)
	w.expect("OK\t1\tuser=demo")
	w.send("AUTH\t2\tPLAIN\tservice=imap\tresp=" + bad)
	w.expect("FAIL\t2\tuser=demo")
	w.send("AUTH\t3\tLOGIN\tservice=imap")
	w.expect("CONT\t3\t*")
	w.send("CONT\t3\t" + base64.StdEncoding.EncodeToString([]byte("demo")))
	w.expect("CONT\t3\t*")
	w.send("CONT\t3\t" + base64.StdEncoding.EncodeToString([]byte(secret)))
	w.expect("FAIL\t3\tuser=demo")
	m := dial(t, env.masterPath)
	m.send("VERSION\t1\t1")
	m.send("REQUEST\t1\t9\t1\t" + cookie)
	m.expect("VERSION*")
	m.expect("SPID*")
	m.expect("USER\t1\tdemo\t*")
	w.send(secret) // garbage where a command belongs
	w.expectClosed()
	logs := env.logs.String()
	for _, s := range []string{secret, bad, good, base64.StdEncoding.EncodeToString([]byte(secret)), cookie, "{PLAIN}"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains secret %q:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, "level=DEBUG") {
		t.Error("nothing logged at debug level; the test proves nothing")
	}
}

func TestNewErrors(t *testing.T) {
	good := filepath.Join(t.TempDir(), "users")
	os.WriteFile(good, []byte(testUsers), 0o600)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"unknown passdb", Options{Passdbs: []DBConfig{{Driver: "ldap", Args: "/x"}}, Userdbs: []DBConfig{{Driver: "static"}}}, "passdb ldap"},
		{"missing file", Options{Passdbs: []DBConfig{{Driver: "passwd-file", Args: "/nonexistent"}}, Userdbs: []DBConfig{{Driver: "static"}}}, "/nonexistent"},
		{"bad static", Options{Passdbs: []DBConfig{{Driver: "passwd-file", Args: good}}, Userdbs: []DBConfig{{Driver: "static", Args: "uid=0"}}}, "userdb static"},
		{"bad mech", Options{Passdbs: []DBConfig{{Driver: "passwd-file", Args: good}}, Userdbs: []DBConfig{{Driver: "static"}}, Mechanisms: []string{"NTLM"}}, "NTLM"},
		{"no passdb", Options{Userdbs: []DBConfig{{Driver: "static"}}}, "no passdb"},
		{"bad format", Options{Passdbs: []DBConfig{{Driver: "passwd-file", Args: good}}, Userdbs: []DBConfig{{Driver: "static"}}, UsernameFormat: "%q"}, "auth_username_format"},
	}
	for _, tt := range tests {
		_, err := New(tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New() = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestStaticUserdb(t *testing.T) {
	env := startServer(t, 10*time.Millisecond, func(o *Options) {
		o.Userdbs = []DBConfig{{Driver: "static", Args: "uid=500 gid=500 home=/var/mail/%n"}}
	})
	c, err := masterclient.Dial(env.masterPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	user, fields, err := c.User(context.Background(), "demo", "lmtp")
	if err != nil || user != "demo" || strings.Join(fields, " ") != "uid=500 gid=500 home=/var/mail/demo" {
		t.Errorf("User(demo) = %q, %q, %v", user, fields, err)
	}
	// Without allow_all_users, a user no passdb knows is unknown.
	if _, _, err := c.User(context.Background(), "nobody", "lmtp"); err != masterclient.ErrNotFound {
		t.Errorf("User(nobody) = %v, want ErrNotFound", err)
	}
}
