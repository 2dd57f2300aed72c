// Package itest runs the real cote binary, built once, on temporary
// directories and free loopback ports, and talks to it with real clients:
// go-imap's imapclient and Python's imaplib. As root it checks every
// process's uid, gid and root directory in /proc; the same tests run again
// with the master as an unprivileged user (the development default's
// non-root mode).
package itest

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cote/config"
	"cote/master"
)

var (
	binPath string // the cote binary under test
	binDir  string // it, and cote-worker beside it
)

// Non-root runs use this uid; the binary and state dirs are made
// reachable for it.
const unprivUID = 50500

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "cote-itest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(binDir, 0o755)
	binPath = filepath.Join(binDir, "cote")
	// cote-worker beside cote, as `make build` and a package lay them
	// out, so that workers run from it (master/workerexe.go). Without
	// the race detector it is linked statically, as the Makefile does.
	for _, b := range []struct{ out, pkg string }{{binPath, "cote/cmd/cote"}, {filepath.Join(binDir, "cote-worker"), "cote/cmd/cote-worker"}} {
		args := []string{"build", "-o", b.out}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, b.pkg)
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = os.Environ()
		if !raceEnabled && b.pkg == "cote/cmd/cote-worker" {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
		}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b.pkg+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// syncBuffer collects a server's log.
type syncBuffer struct {
	mu sync.Mutex // guards b
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

// server is a running cote master.
type server struct {
	t       *testing.T
	dir     string
	conf    string // path of the config file
	cmd     *exec.Cmd
	log     *syncBuffer
	ports   map[string]int // imap, imaps, ...
	uid     int            // uid the master runs as
	stopped bool
}

type serverOpts struct {
	asUser bool           // run the master as unprivUID
	extra  string         // config text appended to the development default
	users  map[string]int // extra passwd-file users (password = name) -> uid offset
	// userExtra are passwd-file extra fields (the eighth field) by user.
	userExtra map[string]string
	edit      func(string) string
	// bin is the cote binary to start instead of binPath.
	bin string
}

// handedOut are the ports freePort has returned in this test binary.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a port nothing listens on now and that no other
// caller in this binary got: the kernel may give a just-closed port out
// again soon after, and a server given one port twice would not start
// or would serve one protocol on another's port.
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

// devPorts are the development default's ports, replaced by free ones.
var devPorts = map[string]int{"imap": 10143, "imaps": 10993, "pop3": 10110, "pop3s": 10995, "lmtp": 10024, "sieve": 14190, "metrics": 10090}

// startServer writes a config (the development default with free ports)
// and starts the master on it.
func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	dir, err := os.MkdirTemp("", "cote-itest-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	s := &server{t: t, dir: dir, log: &syncBuffer{}, ports: map[string]int{}, uid: os.Getuid()}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
		os.RemoveAll(dir)
	})
	root := os.Getuid() == 0 && !o.asUser
	ids := config.DevIDs{Root: root, UID: os.Getuid(), GID: os.Getgid()}
	userUID := 50100
	if o.asUser {
		ids.UID, ids.GID = unprivUID, unprivUID
		userUID = unprivUID
		s.uid = unprivUID
	}
	// The users file: demo and any extra users, each with a home.
	var users strings.Builder
	addUser := func(name string, uid int) {
		home := filepath.Join(dir, "home", name)
		must(t, os.MkdirAll(home, 0o700))
		if os.Getuid() == 0 {
			must(t, os.Chown(home, uid, uid))
		}
		fmt.Fprintf(&users, "%s:{PLAIN}%s:%d:%d::%s::%s\n", name, name, uid, uid, home, o.userExtra[name])
	}
	must(t, os.MkdirAll(filepath.Join(dir, "home"), 0o755))
	addUser("demo", userUID)
	for name, off := range o.users {
		uid := userUID + off
		if o.asUser {
			uid = unprivUID
		}
		addUser(name, uid)
	}
	must(t, os.WriteFile(filepath.Join(dir, "users"), []byte(users.String()), 0o644))
	text := config.DevText(dir, ids)
	for name, p := range devPorts {
		port := freePort(t)
		s.ports[name] = port
		// Only the port at a line's end: a temporary directory's name in
		// the same text may hold the same digits.
		text = regexp.MustCompile(`(?m)([ :])`+strconv.Itoa(p)+`$`).ReplaceAllString(text, "${1}"+strconv.Itoa(port))
	}
	text += "\n" + o.extra + "\n"
	if o.edit != nil {
		text = o.edit(text)
	}
	s.conf = filepath.Join(dir, "cote.conf")
	must(t, os.WriteFile(s.conf, []byte(text), 0o644))
	s.start(o)
	return s
}

func chownTree(t *testing.T, dir string, uid int) {
	t.Helper()
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, uid, uid)
		}
		return nil
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sharedTempDir is t.TempDir made reachable by every uid (t.TempDir's
// parent is 0700): the server's children start as their own users and
// read from it at start (a binary, a preloaded library's files).
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.Chmod(filepath.Dir(dir), 0o755))
	must(t, os.Chmod(dir, 0o755))
	return dir
}

// installBin copies the built binary name (cote or cote-worker) into dir
// with mode and returns its path.
func installBin(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(binDir, name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	must(t, os.WriteFile(path, data, mode))
	must(t, os.Chmod(path, mode)) // WriteFile's mode is under the umask
	return path
}

func (s *server) start(o serverOpts) {
	t := s.t
	t.Helper()
	// The master creates the certificate through --dev's setup only; a
	// config run needs them made here.
	if _, err := master.SetupDev(s.dir); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 && o.asUser {
		chownTree(t, s.dir, unprivUID)
	}
	cmd := exec.Command(cmp.Or(o.bin, binPath), "-c", s.conf)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	if o.asUser && os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivUID, Gid: unprivUID}}
	}
	must(t, cmd.Start())
	s.cmd = cmd
	s.waitListening("imap")
}

func (s *server) addr(name string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports[name]))
}

// waitListening waits for a greeting on a listener.
func (s *server) waitListening(name string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.addr(name), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && strings.HasPrefix(line, "* OK") {
				return
			}
		}
		if s.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("server did not greet on %s; log:\n%s", name, s.log.String())
}

// stop sends SIGTERM and waits for the master.
func (s *server) stop() {
	if s.stopped || s.cmd == nil {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.t.Errorf("master did not stop within 30s of SIGTERM")
	}
	s.checkLog()
}

var badLog = regexp.MustCompile(`(?m)^.*(panic:|WARNING: DATA RACE|fatal error:|session panic).*$`)

// checkLog fails the test on panics and data races in any process.
func (s *server) checkLog() {
	if m := badLog.FindString(s.log.String()); m != "" {
		s.t.Errorf("server log has %q", m)
	}
}

func (s *server) signal(sig syscall.Signal) {
	must(s.t, s.cmd.Process.Signal(sig))
}

// tlsConfig trusts the server's self-signed certificate.
func tlsClientConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
}

// netDialGreeting returns the greeting line of a new connection.
func netDialGreeting(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}
