package lmtp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/proto"
)

// fakeMaster is the master's end of an lmtp process's control channel.
type fakeMaster struct {
	t    *testing.T
	conn *proto.Conn
}

// newControl returns a running ControlDeliverer and the fake master.
func newControl(t *testing.T, onShutdown func(bool)) (*ControlDeliverer, *fakeMaster, chan error) {
	t.Helper()
	parent, child, err := proto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := proto.ConnFromFile(child)
	if err != nil {
		t.Fatal(err)
	}
	cd := NewControlDeliverer(cc, nil, onShutdown)
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		done <- cd.Run()
		close(ended)
	}()
	t.Cleanup(func() {
		parent.Close()
		cc.Close()
		<-ended
	})
	return cd, &fakeMaster{t: t, conn: parent}, done
}

func (m *fakeMaster) recv() (proto.Message, []*os.File) {
	m.t.Helper()
	msg, files, err := m.conn.Recv()
	if err != nil {
		m.t.Fatalf("master Recv: %v", err)
	}
	return msg, files
}

func sealedSpool(t *testing.T, s string) *os.File {
	t.Helper()
	sp, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(sp, s)
	f, err := sp.seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestControlDeliver(t *testing.T) {
	cd, m, _ := newControl(t, nil)
	msg := sealedSpool(t, "Subject: x\r\n\r\nbody\r\n")
	type result struct {
		r   *proto.DeliverReply
		err error
	}
	results := map[string]chan result{"alice": make(chan result, 1), "bob": make(chan result, 1)}
	for user, ch := range results {
		go func() {
			r, err := cd.Deliver(context.Background(), &proto.Deliver{User: user, RcptTo: user + "@example.com", Size: 20}, msg)
			ch <- result{r, err}
		}()
	}
	// The master gets both, each with the message, and answers in
	// reverse order of arrival.
	var got []*proto.Deliver
	for range 2 {
		msg, files := m.recv()
		d, ok := msg.(*proto.Deliver)
		if !ok || len(files) != 1 {
			t.Fatalf("master got %T with %d files", msg, len(files))
		}
		b := make([]byte, 64)
		n, _ := files[0].ReadAt(b, 0)
		if string(b[:n]) != "Subject: x\r\n\r\nbody\r\n" {
			t.Errorf("passed message = %q", b[:n])
		}
		if _, err := files[0].WriteAt([]byte("X"), 0); err == nil {
			t.Errorf("the passed message is writable")
		}
		files[0].Close()
		got = append(got, d)
	}
	if got[0].Seq == got[1].Seq {
		t.Fatalf("two deliveries with Seq %d", got[0].Seq)
	}
	for i := len(got) - 1; i >= 0; i-- {
		m.conn.Send(&proto.DeliverReply{Seq: got[i].Seq, Code: 250, Enhanced: "2.0.0", Message: got[i].User + " Saved"})
	}
	for user, ch := range results {
		r := <-ch
		if r.err != nil || r.r.Message != user+" Saved" {
			t.Errorf("Deliver(%s) = %+v, %v", user, r.r, r.err)
		}
	}
}

// TestControlBroken: when the master goes away, deliveries under way and
// later ones fail (the recipients get 4xx), and Run returns.
func TestControlBroken(t *testing.T) {
	cd, m, done := newControl(t, nil)
	msg := sealedSpool(t, "x")
	errc := make(chan error, 1)
	go func() {
		_, err := cd.Deliver(context.Background(), &proto.Deliver{User: "alice", Size: 1}, msg)
		errc <- err
	}()
	_, files := m.recv()
	files[0].Close()
	m.conn.Close()
	if err := <-errc; !errors.Is(err, ErrControlClosed) {
		t.Errorf("pending Deliver = %v, want ErrControlClosed", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := cd.Deliver(context.Background(), &proto.Deliver{User: "alice", Size: 1}, msg); err == nil {
		t.Errorf("Deliver after the channel broke succeeded")
	}
	if reply := replyError(nil, ErrControlClosed); reply.Code != 451 || reply.EnhancedCode[0] != 4 {
		t.Errorf("reply for a broken channel = %v", reply)
	}
}

func TestControlShutdownAndStatus(t *testing.T) {
	shut := make(chan bool, 1)
	cd, m, _ := newControl(t, func(now bool) { shut <- now })
	// A reply nobody waits for is dropped, with its descriptor.
	m.conn.Send(&proto.DeliverReply{Seq: 999, Code: 250})
	m.conn.Send(&proto.Shutdown{Now: true})
	if now := <-shut; !now {
		t.Errorf("onShutdown(%v), want true", now)
	}
	cd.ReportClients(3, 10)
	msg, _ := m.recv()
	if st, ok := msg.(*proto.Status); !ok || st.Clients != 3 || st.Available != 7 {
		t.Errorf("master got %#v, want Status 3/7", msg)
	}
}

// fakeAuth serves the auth-master protocol's USER on one connection.
func fakeAuth(t *testing.T, c net.Conn, users map[string]string) {
	defer c.Close()
	io.WriteString(c, "VERSION\t1\t1\nSPID\t42\n")
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
		switch {
		case f[0] == "VERSION":
		case f[0] == "USER" && len(f) >= 4 && f[3] == "service=lmtp":
			switch {
			case f[2] == "hangup":
				return
			case f[2] == "tempfail":
				io.WriteString(c, "FAIL\t"+f[1]+"\treason=db down\n")
			case users[f[2]] != "":
				io.WriteString(c, "USER\t"+f[1]+"\t"+users[f[2]]+"\tuid=1000\thome=/home/x\n")
			default:
				io.WriteString(c, "NOTFOUND\t"+f[1]+"\n")
			}
		default:
			t.Errorf("auth got %q", l)
			return
		}
	}
}

// TestAuthUserdbThroughControl gets auth-userdb connections from the
// master with AuthConnect, looks users up, and reconnects when auth hangs
// up.
func TestAuthUserdbThroughControl(t *testing.T) {
	cd, m, _ := newControl(t, nil)
	users := map[string]string{"alice@example.com": "alice"}
	var wg sync.WaitGroup
	defer wg.Wait()
	connects := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			msg, files, err := m.conn.Recv()
			if err != nil {
				return
			}
			for _, f := range files {
				f.Close()
			}
			ac, ok := msg.(*proto.AuthConnect)
			if !ok || ac.Socket != proto.AuthSocketUserdb {
				t.Errorf("master got %#v, want AuthConnect for auth-userdb", msg)
				continue
			}
			connects++
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			ours := os.NewFile(uintptr(fds[0]), "auth")
			theirs := os.NewFile(uintptr(fds[1]), "lmtp")
			ac2, _ := net.FileConn(ours)
			ours.Close()
			wg.Add(1)
			go func() { defer wg.Done(); fakeAuth(t, ac2, users) }()
			m.conn.Send(&proto.AuthConnectReply{Seq: ac.Seq, OK: true}, theirs)
			theirs.Close()
		}
	}()
	udb := NewAuthUserdb(cd.AuthConnect, nil)
	ctx := context.Background()
	check := func(user, wantName string, wantErr error) {
		t.Helper()
		name, fields, err := udb.Lookup(ctx, user)
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Errorf("Lookup(%q) = %v, want %v", user, err, wantErr)
			}
			return
		}
		if err != nil || name != wantName || len(fields) != 2 || fields[0] != "uid=1000" {
			t.Errorf("Lookup(%q) = %q, %q, %v", user, name, fields, err)
		}
	}
	check("alice@example.com", "alice", nil)
	check("nobody@example.com", "", ErrUnknownUser)
	if _, _, err := udb.Lookup(ctx, "tempfail"); err == nil || errors.Is(err, ErrUnknownUser) {
		t.Errorf("Lookup(tempfail) = %v, want a temporary error", err)
	}
	// auth hangs up: the lookup is retried once on a new connection, which
	// hangs up too; then a new one serves.
	if _, _, err := udb.Lookup(ctx, "hangup"); err == nil || errors.Is(err, ErrUnknownUser) {
		t.Errorf("Lookup(hangup) = %v, want a temporary error", err)
	}
	check("alice@example.com", "alice", nil)
	udb.Close()
	m.conn.Close()
	wg.Wait()
	if connects != 3 {
		t.Errorf("%d auth connections, want 3", connects)
	}
}

func TestAuthConnectRefused(t *testing.T) {
	cd, m, _ := newControl(t, nil)
	go func() {
		msg, _, err := m.conn.Recv()
		if err != nil {
			return
		}
		// AuthConnectReply always carries a descriptor (proto's fdCount),
		// a refusal too.
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Error(err)
			return
		}
		defer null.Close()
		if err := m.conn.Send(&proto.AuthConnectReply{Seq: msg.(*proto.AuthConnect).Seq, Reason: "no auth"}, null); err != nil {
			t.Error(err)
		}
	}()
	udb := NewAuthUserdb(cd.AuthConnect, nil)
	defer udb.Close()
	if _, _, err := udb.Lookup(context.Background(), "alice"); err == nil || !strings.Contains(err.Error(), "no auth") || errors.Is(err, ErrUnknownUser) {
		t.Errorf("Lookup with auth unreachable = %v", err)
	}
}
