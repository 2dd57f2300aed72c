package proto

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func sampleMessages() []Message {
	return []Message{
		&Hello{Version: Version, Role: RoleIMAPLogin, PID: 4242},
		&Config{Generation: 3, Size: 1234},
		&Status{Clients: 7, Available: 993},
		&Shutdown{Now: true},
		&AuthConnect{Seq: 9, Socket: AuthSocketUserdb},
		&AuthConnectReply{Seq: 9, OK: true},
		&Handoff{Seq: 1, AuthPID: 100, AuthID: 5, Cookie: "00112233445566778899aabbccddeeff",
			Conn: ConnInfo{Protocol: "imap", LocalAddr: "127.0.0.1:143", RemoteAddr: "127.0.0.1:5555",
				SessionID: "Nn/NgVxhBKp/AAAB", Secured: true, TLS: true, ClientID: `("name" "mutt")`},
			Tag: "a1", SendCapability: true, Leftover: []byte("b SELECT INBOX\r\n")},
		&HandoffReply{Seq: 1, Status: HandoffRefused, WorkerPID: 0, Reason: "refused"},
		&UserSession{Seq: 2, User: "demo", Fields: []string{"uid=1000", "home=/home/demo"}, AuthMech: "PLAIN",
			Conn: ConnInfo{Protocol: "imap"}, Tag: "x", Leftover: []byte{}},
		&WorkerIdle{LastSeq: 2},
		&WorkerIdle{LastSeq: 3, Lingering: true},
		&WorkerExit{},
		&WorkerAssign{User: "demo", UID: 1000, GID: 1000, Groups: []uint32{1000, 50}},
		&WorkerAssign{User: "nogroups", UID: 1001, GID: 1001, Groups: []uint32{}},
		&Deliver{Seq: 3, User: "demo", Fields: []string{"home=/h"}, MailFrom: "a@example.org", RcptTo: "demo+x@example.org",
			Detail: "x", Mailbox: "x", Size: 1234, RemoteAddr: "127.0.0.1:2525", SessionID: "s"},
		&DeliverReply{Seq: 3, Code: 250, Enhanced: "2.0.0", Message: "Saved"},
		&DeliverChannel{User: "demo", Fields: []string{"home=/h"}},
		&DeliverChannel{User: "demo", Fields: []string{}},
		&Admin{Seq: 4, User: "demo", Fields: []string{"uid=1"}, Request: []byte(`{"command":"mailbox list"}`)},
		&AdminReply{Seq: 4, Response: []byte(`{"ok":true}`)},
		&QuotaCheck{Seq: 5, User: "demo", Fields: []string{"home=/h"}, Size: 4096},
		&QuotaCheckReply{Seq: 5, Over: true},
		&Metrics{Snapshot: []byte(`{"c":[{"n":"x","v":1}]}`)},
		&Hibernate{ID: 7, User: "demo", Conn: ConnInfo{Protocol: "imap", RemoteAddr: "127.0.0.1:5555", TLS: true},
			State: []byte{1, 2, 3}},
		&Unhibernate{ID: 7, Reason: UnhibernateInput, ClientInput: []byte("DONE\r\n")},
		&HibernateEnd{ID: 7, Reason: HibernateEndClosed},
		&UserSession{Seq: 5, User: "demo", Fields: []string{"uid=1000"}, Conn: ConnInfo{Protocol: "imap"}, Leftover: []byte("DONE\r\n"),
			Resume: []byte{1, 0, 4}},
		&Unauthenticate{Protocol: "imap", SessionID: "Nn/NgVxhBKp/AAAB", Leftover: []byte("b CAPABILITY\r\n")},
		&Profile{Seq: 6, Kind: ProfileCPU, Seconds: 30},
		&ProfileReply{Seq: 6, Error: "cpu profiling already in use"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		pkt := Encode(m)
		got, err := Decode(pkt, fdCount(m.Type()))
		if err != nil {
			t.Fatalf("Decode(Encode(%T)) error: %v", m, err)
		}
		if hs, ok := m.(*Handoff); ok && hs.Leftover == nil {
			hs.Leftover = []byte{}
		}
		if us, ok := m.(*UserSession); ok && len(us.Leftover) == 0 {
			us.Leftover = nil
			got.(*UserSession).Leftover = nil
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("Decode(Encode(%T)) = %+v, want %+v", m, got, m)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(&Status{Clients: 1, Available: 2})
	tests := []struct {
		name string
		pkt  []byte
		nfds int
	}{
		{"empty", nil, 0},
		{"wrong version", append([]byte{Version + 1}, good[1:]...), 0},
		{"unknown type", []byte{Version, 200}, 0},
		{"trailing bytes", append(append([]byte{}, good...), 0), 0},
		{"truncated", good[:len(good)-1], 0},
		{"descriptor not expected", good, 1},
		{"descriptor missing", Encode(&Handoff{}), 0},
		{"bad bool", []byte{Version, byte(TypeShutdown), 7}, 0},
		{"oversized leftover", append([]byte{Version, byte(TypeHandoff)}, bytes.Repeat([]byte{0xff}, 12)...), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := Decode(tt.pkt, tt.nfds); err == nil {
				t.Errorf("Decode(%q, %d) = %+v, want error", tt.pkt, tt.nfds, m)
			} else if !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode(%q) error %v does not wrap ErrMalformed", tt.pkt, err)
			}
		})
	}
}

func TestPairPassesDescriptors(t *testing.T) {
	a, bf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ConnFromFile(bf)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := &Handoff{Seq: 42, Tag: "a", Leftover: []byte("b NOOP\r\n")}
	if err := a.Send(h, w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	m, files, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*Handoff); got.Seq != 42 || string(got.Leftover) != "b NOOP\r\n" {
		t.Errorf("Recv() = %+v", got)
	}
	if len(files) != 1 {
		t.Fatalf("Recv() gave %d descriptors, want 1", len(files))
	}
	files[0].WriteString("through the passed pipe")
	files[0].Close()
	got, _ := io.ReadAll(r)
	if string(got) != "through the passed pipe" {
		t.Errorf("read %q through the passed descriptor", got)
	}
	// The wrong descriptor count is refused before anything is sent.
	if err := a.Send(&Status{}, r); err == nil {
		t.Error("Send(Status, file) succeeded, want an error")
	}
}

func TestRecvRejectsUnexpectedDescriptor(t *testing.T) {
	peer, b := seqpacketPair(t, "b")
	defer unix.Close(peer)
	defer b.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	// A Status with a descriptor attached: the receiver must refuse it and
	// close the descriptor.
	if err := unix.Sendmsg(peer, Encode(&Status{}), unix.UnixRights(int(w.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Recv(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Recv() error = %v, want ErrMalformed", err)
	}
}

func TestFileConnRefusesStream(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := FileConn(fds[0], "x"); err == nil {
		t.Error("FileConn(stream socket) succeeded, want error")
	}
}

func TestAuthEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb", "a\x01tb"},
		{"\x00\x01\r\n", "\x010\x011\x01r\x01n"},
	}
	for _, tt := range tests {
		if got := AuthEscape(tt.in); got != tt.want {
			t.Errorf("AuthEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := AuthUnescape(tt.want); err != nil || back != tt.in {
			t.Errorf("AuthUnescape(%q) = %q, %v, want %q", tt.want, back, err, tt.in)
		}
	}
	for _, bad := range []string{"\x01", "x\x01z"} {
		if _, err := AuthUnescape(bad); err == nil {
			t.Errorf("AuthUnescape(%q) succeeded, want error", bad)
		}
	}
	fields, err := ParseAuthLine("AUTH\t1\tPLAIN\tservice=imap\tsecured\tresp=AGEAYg==")
	if err != nil || len(fields) != 6 || AuthParams(fields[3:])["secured"] != "" {
		t.Errorf("ParseAuthLine = %q, %v", fields, err)
	}
	if got := AuthLine("USER", "1", "a\tb"); got != "USER\t1\ta\x01tb\n" {
		t.Errorf("AuthLine = %q", got)
	}
}
