package master

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/config"
	"cote/proto"
)

// testExe is cote and testWorkerExe cote-worker, built side by side.
var testExe, testWorkerExe string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cote-master-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	testExe = filepath.Join(dir, "cote")
	testWorkerExe = filepath.Join(dir, WorkerExeName)
	for _, b := range [][2]string{{testExe, "cote/cmd/cote"}, {testWorkerExe, "cote/cmd/cote-worker"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if b[1] == "cote/cmd/cote-worker" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build
		}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b[1]+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startMaster runs a master in this process on the development default
// (free ports, log in DIR/cote.log) with real auth and login children.
func startMaster(t *testing.T) (*Master, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cote-master-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ids, err := SetupDev(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := config.DevText(dir, ids)
	for _, p := range []int{10143, 10993, 10110, 10995, 10024, 14190, 10090} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// Only the port at a line's end: the temporary directory's name
		// may hold the same digits.
		text = regexp.MustCompile(`(?m)([ :])`+strconv.Itoa(p)+`$`).ReplaceAllString(text, "${1}"+strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
		l.Close()
	}
	text += "\nlog_path = " + filepath.Join(dir, "cote.log") + "\nauth_failure_delay = 0\n"
	m, cfg, err := newMaster(Options{Exe: testExe, Load: func() (*config.Settings, error) {
		return config.ParseString("test", text)
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.inject = make(chan func(*Master))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("master: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "cote.log"))
			t.Logf("log:\n%s", b)
		}
	})
	// Wait for the auth process.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var ok bool
		onLoop(m, func(m *Master) { ok = m.authProc() != nil })
		if ok {
			if c, err := net.Dial("unix", filepath.Join(cfg.BaseDir, "auth-login")); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("auth did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m, dir
}

// onLoop runs f on the master's event loop and waits for it.
func onLoop(m *Master, f func(*Master)) {
	done := make(chan struct{})
	m.inject <- func(m *Master) {
		f(m)
		close(done)
	}
	<-done
}

// authSession logs in on auth's login socket as a login process would,
// declaring pid as its CPID, and returns auth's SPID and the cookie.
type authSession struct {
	c      net.Conn
	r      *bufio.Reader
	spid   uint32
	cookie string
}

func dialAuth(t *testing.T, dir string) *authSession {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(dir, "run", "auth-login"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := &authSession{c: c, r: bufio.NewReader(c)}
	fmt.Fprintf(c, "VERSION\t1\t2\nCPID\t%d\n", os.Getpid())
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := a.r.ReadString('\n')
		if err != nil {
			t.Fatalf("auth handshake: %v", err)
		}
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		switch f[0] {
		case "SPID":
			n, _ := strconv.Atoi(f[1])
			a.spid = uint32(n)
		case "COOKIE":
			a.cookie = f[1]
		}
		if f[0] == "DONE" {
			return a
		}
	}
}

func (a *authSession) login(t *testing.T, id int, user, pass string) {
	t.Helper()
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	fmt.Fprintf(a.c, "AUTH\t%d\tPLAIN\tservice=imap\tsecured\tresp=%s\n", id, resp)
	a.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := a.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, fmt.Sprintf("OK\t%d\t", id)) {
		t.Fatalf("AUTH %d: %q, %v", id, line, err)
	}
}

// fakeLogin is a login process under the test's control: the master sees
// its messages as coming from a child with the given pid.
type fakeLogin struct {
	p    *proc
	peer *proto.Conn
}

func newFakeLogin(t *testing.T, m *Master, pid int) *fakeLogin {
	t.Helper()
	a, bf, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.ConnFromFile(bf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	var gen uint64
	onLoop(m, func(m *Master) { gen = m.gen })
	return &fakeLogin{p: &proc{role: proto.RoleIMAPLogin, service: "imap-login", pid: pid, ctl: a, gen: gen}, peer: b}
}

// handoff sends a Handoff as if from the fake login process and returns
// the master's reply and the test's end of the client connection.
func (f *fakeLogin) handoff(t *testing.T, m *Master, h *proto.Handoff) (*proto.HandoffReply, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "server")
	t.Cleanup(func() { mine.Close() })
	onLoop(m, func(m *Master) { m.control(f.p, h, []*os.File{theirs}) })
	f.peer.UnixConn().SetReadDeadline(time.Now().Add(15 * time.Second))
	msg, _, err := f.peer.Recv()
	if err != nil {
		t.Fatalf("no handoff reply: %v", err)
	}
	return msg.(*proto.HandoffReply), mine
}

// workerAnswered checks that the master routed a handoff to a worker and
// that the worker answered its tag on the client connection.
func workerAnswered(t *testing.T, reply *proto.HandoffReply, client *os.File, tag string) {
	t.Helper()
	if reply.Status != proto.HandoffOK || reply.WorkerPID == 0 {
		t.Fatalf("handoff: %+v", reply)
	}
	client.SetReadDeadline(time.Now().Add(15 * time.Second))
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, tag+" OK ") {
		t.Fatalf("worker answered %q, %v; want %s OK", line, err, tag)
	}
}

// TestForgedHandoff: the master redeems every handoff with auth. A real
// login is routed to the user's worker, which answers the tag; the same
// request replayed, a made-up cookie, and a genuine request presented by
// another login process are all refused and logged.
func TestForgedHandoff(t *testing.T) {
	m, dir := startMaster(t)
	a := dialAuth(t, dir)
	me := newFakeLogin(t, m, os.Getpid())
	conn := proto.ConnInfo{Protocol: "imap", LocalAddr: "127.0.0.1:143", RemoteAddr: "127.0.0.1:40000", Secured: true}

	a.login(t, 1, "demo", "demo")
	good := &proto.Handoff{Seq: 1, AuthPID: a.spid, AuthID: 1, Cookie: a.cookie, Conn: conn, Tag: "t1"}
	reply, client := me.handoff(t, m, good)
	workerAnswered(t, reply, client, "t1")

	replay := *good
	replay.Seq = 2
	if reply, _ := me.handoff(t, m, &replay); reply.Status != proto.HandoffRefused {
		t.Errorf("replayed cookie: %+v, want refused", reply)
	}

	a.login(t, 2, "demo", "demo")
	madeUp := &proto.Handoff{Seq: 3, AuthPID: a.spid, AuthID: 2, Cookie: strings.Repeat("ab", 16), Conn: conn, Tag: "t3"}
	if reply, _ := me.handoff(t, m, madeUp); reply.Status != proto.HandoffRefused {
		t.Errorf("made-up cookie: %+v, want refused", reply)
	}

	// A request is redeemable only by the login process that made it.
	a.login(t, 3, "demo", "demo")
	other := newFakeLogin(t, m, os.Getppid())
	stolen := &proto.Handoff{Seq: 4, AuthPID: a.spid, AuthID: 3, Cookie: a.cookie, Conn: conn, Tag: "t4"}
	if reply, _ := other.handoff(t, m, stolen); reply.Status != proto.HandoffRefused {
		t.Errorf("request presented by another process: %+v, want refused", reply)
	}
	// ... while the real owner still can.
	owned := *stolen
	owned.Seq = 5
	if reply, _ := me.handoff(t, m, &owned); reply.Status != proto.HandoffOK {
		t.Errorf("owner's handoff after a foreign attempt: %+v, want OK", reply)
	}

	log, _ := os.ReadFile(filepath.Join(dir, "cote.log"))
	if n := strings.Count(string(log), "forged or replayed"); n < 3 {
		t.Errorf("log has %d refused-handoff lines, want 3:\n%s", n, log)
	}
}
