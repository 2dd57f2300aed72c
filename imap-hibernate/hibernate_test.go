package imaphibernate

import (
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// harness runs the process against a control channel the test holds as
// the master.
type harness struct {
	t      *testing.T
	master *proto.Conn
	done   chan error
	first  *proto.Status // the process's first message
}

func start(t *testing.T, o Options) *harness {
	t.Helper()
	master, child, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := proto.ConnFromFile(child)
	if err != nil {
		t.Fatal(err)
	}
	o.Ctl = ctl
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.Done == nil {
		o.Done = make(chan struct{})
	}
	h := &harness{t: t, master: master, done: make(chan error, 1)}
	go func() { h.done <- Run(o) }()
	t.Cleanup(func() {
		master.Send(&proto.Shutdown{Now: true})
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return")
		}
		master.Close()
		ctl.Close()
	})
	st, ok := h.recv().(*proto.Status)
	if !ok {
		t.Fatal("no initial Status")
	}
	h.first = st
	return h
}

// recv returns the next message other than Status, closing descriptors
// after checking them.
func (h *harness) recv() proto.Message {
	h.t.Helper()
	h.master.UnixConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	m, files, err := h.master.Recv()
	if err != nil {
		h.t.Fatalf("recv: %v", err)
	}
	for _, f := range files {
		f.Close()
	}
	return m
}

func (h *harness) recvSkipStatus() (proto.Message, []*os.File) {
	h.t.Helper()
	for {
		h.master.UnixConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		m, files, err := h.master.Recv()
		if err != nil {
			h.t.Fatalf("recv: %v", err)
		}
		if _, ok := m.(*proto.Status); !ok {
			return m, files
		}
	}
}

// session hibernates a session: it returns the client's end of its socket
// and the eventfd that plays the mailbox's change notifier.
func (h *harness) session(id uint64) (client net.Conn, notify *os.File) {
	h.t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	server := os.NewFile(uintptr(fds[0]), "server")
	cf := os.NewFile(uintptr(fds[1]), "client")
	client, err = net.FileConn(cf)
	cf.Close()
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { client.Close() })
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		h.t.Fatal(err)
	}
	notify = os.NewFile(uintptr(efd), "eventfd")
	h.t.Cleanup(func() { notify.Close() })
	if err := h.master.Send(&proto.Hibernate{ID: id, User: "demo", Conn: proto.ConnInfo{Protocol: "imap"}}, server, notify); err != nil {
		h.t.Fatal(err)
	}
	server.Close()
	return client, notify
}

func TestClientInputWakes(t *testing.T) {
	h := start(t, Options{})
	client, _ := h.session(1)
	time.Sleep(50 * time.Millisecond)
	io.WriteString(client, "DONE\r\n")
	m, files := h.recvSkipStatus()
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	u, ok := m.(*proto.Unhibernate)
	if !ok || u.ID != 1 || u.Reason != proto.UnhibernateInput || string(u.ClientInput) != "DONE\r\n" {
		t.Fatalf("got %T %+v, want Unhibernate of 1 with DONE", m, m)
	}
	// The socket handed back is the session's: the client reaches it.
	back, err := net.FileConn(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	io.WriteString(client, "x NOOP\r\n")
	buf := make([]byte, 64)
	back.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := back.Read(buf)
	if string(buf[:n]) != "x NOOP\r\n" {
		t.Errorf("after hand-back the socket read %q", buf[:n])
	}
}

func TestChangeWakes(t *testing.T) {
	h := start(t, Options{})
	_, notify := h.session(2)
	unix.Write(int(notify.Fd()), []byte{1, 0, 0, 0, 0, 0, 0, 0})
	m, files := h.recvSkipStatus()
	for _, f := range files {
		f.Close()
	}
	if u, ok := m.(*proto.Unhibernate); !ok || u.ID != 2 || u.Reason != proto.UnhibernateChange || len(files) != 1 {
		t.Fatalf("got %T %+v with %d descriptors, want Unhibernate of 2 for a change", m, m, len(files))
	}
}

func TestClientGone(t *testing.T) {
	h := start(t, Options{})
	client, _ := h.session(3)
	client.Close()
	m, _ := h.recvSkipStatus()
	if e, ok := m.(*proto.HibernateEnd); !ok || e.ID != 3 || e.Reason != proto.HibernateEndClosed {
		t.Fatalf("got %T %+v, want HibernateEnd of 3", m, m)
	}
}

func TestKeepalive(t *testing.T) {
	h := start(t, Options{IdleNotify: 100 * time.Millisecond})
	client, _ := h.session(4)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != keepalive {
		t.Fatalf("read %q, %v; want %q", buf[:n], err, keepalive)
	}
}

func TestLimitGivesBack(t *testing.T) {
	h := start(t, Options{MaxSessions: 1})
	h.session(5)
	h.session(6)
	m, files := h.recvSkipStatus()
	for _, f := range files {
		f.Close()
	}
	if u, ok := m.(*proto.Unhibernate); !ok || u.ID != 6 {
		t.Fatalf("got %T %+v, want session 6 given back", m, m)
	}
}

func TestShutdownGivesBack(t *testing.T) {
	master, child, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	ctl, err := proto.ConnFromFile(child)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(Options{Ctl: ctl, Log: slog.New(slog.DiscardHandler), Done: make(chan struct{})})
	}()
	h := &harness{t: t, master: master}
	h.recv()
	h.session(7)
	time.Sleep(50 * time.Millisecond)
	master.Send(&proto.Shutdown{})
	m, files := h.recvSkipStatus()
	for _, f := range files {
		f.Close()
	}
	if u, ok := m.(*proto.Unhibernate); !ok || u.ID != 7 || u.Reason != proto.UnhibernateStop {
		t.Fatalf("got %T %+v, want session 7 given back", m, m)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownNowSaysBye: when the server stops, hibernated clients get
// BYE.
func TestShutdownNowSaysBye(t *testing.T) {
	h := start(t, Options{})
	client, _ := h.session(8)
	time.Sleep(50 * time.Millisecond)
	h.master.Send(&proto.Shutdown{Now: true})
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(client)
	if string(b) != "* BYE Server shutting down.\r\n" {
		t.Errorf("client read %q, want BYE", b)
	}
}

// TestOpenFileLimitBoundsSessions: a process whose open-file limit holds
// fewer sessions than client_limit takes only what fits, says so in its
// Status, gives the rest back and goes on serving. (Past the limit the
// kernel would drop the descriptors of the next session handed over.)
func TestOpenFileLimitBoundsSessions(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = reservedDescriptors + 3*descriptorsPerSession
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })

	h := start(t, Options{MaxSessions: 1000})
	if h.first.Available != 3 {
		t.Fatalf("first Status %+v; want 3 available", h.first)
	}
	var clients []net.Conn
	for id := uint64(1); id <= 5; id++ {
		c, _ := h.session(id)
		clients = append(clients, c)
	}
	for _, want := range []uint64{4, 5} {
		m, files := h.recvSkipStatus()
		for _, f := range files {
			f.Close()
		}
		if u, ok := m.(*proto.Unhibernate); !ok || u.ID != want || u.Reason != proto.UnhibernateStop {
			t.Fatalf("got %T %+v, want session %d given back", m, m, want)
		}
	}
	// The three it holds are still served: a client's input brings its
	// session back.
	if _, err := clients[1].Write([]byte("DONE\r\n")); err != nil {
		t.Fatal(err)
	}
	m, files := h.recvSkipStatus()
	for _, f := range files {
		f.Close()
	}
	if u, ok := m.(*proto.Unhibernate); !ok || u.ID != 2 || string(u.ClientInput) != "DONE\r\n" {
		t.Fatalf("got %T %+v, want session 2 back with its input", m, m)
	}
}
