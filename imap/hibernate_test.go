package imap

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
	"cote/storage/memstore"
)

// notifyStore is a store that can hibernate: its change notifier is an
// eventfd nobody writes (the tests resume by hand).
type notifyStore struct{ storage.Store }

func (notifyStore) ChangeNotifier(string) (*os.File, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "eventfd"), nil
}

// hibernated is what Options.Hibernate was given.
type hibernated struct {
	state []byte
	conn  *os.File // a copy of the server's end of the connection
}

// hibernatingSession serves a session that hibernates after d in IDLE and
// returns the client's end and where the hibernation arrives.
func hibernatingSession(t *testing.T, store storage.Store, d time.Duration) (*tconn, <-chan hibernated) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan hibernated, 1)
	o := testOptions(store)
	o.Tag = "L"
	o.HibernateAfter = d
	o.Hibernate = func(state []byte, notify *os.File) error {
		notify.Close()
		f, err := server.(*net.TCPConn).File()
		if err != nil {
			return err
		}
		got <- hibernated{state: state, conn: f}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), server, o) }()
	t.Cleanup(func() {
		client.Close()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, ErrHibernated) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
	})
	client.SetDeadline(time.Now().Add(30 * time.Second))
	c := &tconn{t: t, conn: client, r: bufio.NewReader(client), store: store}
	if line := c.readResponse(); !strings.HasPrefix(line, "L OK ") {
		t.Fatalf("login reply = %q", line)
	}
	return c, got
}

func testOptions(store storage.Store) Options {
	return Options{Store: store, User: "test", NoAutoMailboxes: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// resume runs Resume on h's connection with leftover as the client's
// input read meanwhile.
func resume(t *testing.T, store storage.Store, h hibernated, leftover string) {
	t.Helper()
	conn, err := net.FileConn(h.conn)
	h.conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(store)
	o.Leftover = []byte(leftover)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Resume(ctx, conn, o, h.state) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Resume: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Resume did not return")
		}
	})
}

func waitHibernated(t *testing.T, got <-chan hibernated) hibernated {
	t.Helper()
	select {
	case h := <-got:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not hibernate")
	}
	return hibernated{}
}

// TestHibernateResume: expunges, a flag change and new messages while the
// session is hibernated reach the client on resume with the sequence
// numbers of its view, and DONE completes the IDLE it started before. The
// session had \Recent for the first five messages and keeps it.
func TestHibernateResume(t *testing.T) {
	for _, tt := range []struct {
		name, enable, leftover string
		want                   []string
	}{
		{name: "plain", want: []string{
			"* 4 EXPUNGE", "* 2 EXPUNGE",
			`* 3 FETCH (UID 5 FLAGS (\Flagged \Recent))`,
			"* 5 EXISTS", "* 5 RECENT",
		}},
		{name: "qresync", enable: "QRESYNC", want: []string{
			"* VANISHED 2,4",
			`* 3 FETCH (UID 5 FLAGS (\Flagged \Recent) MODSEQ (*))`,
			"* 5 EXISTS", "* 5 RECENT",
		}},
		{name: "input read while hibernated", leftover: "DONE\r\n", want: []string{
			"* 4 EXPUNGE", "* 2 EXPUNGE",
			`* 3 FETCH (UID 5 FLAGS (\Flagged \Recent))`,
			"* 5 EXISTS", "* 5 RECENT",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := notifyStore{memstore.New()}
			for range 5 {
				appendMsg(t, st, "INBOX", "Subject: x\r\n\r\nx\r\n")
			}
			c, got := hibernatingSession(t, st, 50*time.Millisecond)
			if tt.enable != "" {
				c.cmd("e ENABLE " + tt.enable).ok()
			}
			c.cmd("a SELECT INBOX").ok()
			c.send("b IDLE\r\n")
			if line := c.readResponse(); line != "+ idling" {
				t.Fatalf("IDLE: %q", line)
			}
			h := waitHibernated(t, got)

			// Changes while hibernated, by another session.
			mb, err := st.Open("INBOX", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mb.Store([]uint32{2, 4}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := mb.Expunge([]uint32{2, 4}); err != nil {
				t.Fatal(err)
			}
			if _, err := mb.Store([]uint32{5}, storage.FlagsAdd, []string{storage.FlagFlagged}, 0); err != nil {
				t.Fatal(err)
			}
			mb.Close()
			appendMsg(t, st, "INBOX", "Subject: y\r\n\r\ny\r\n")
			appendMsg(t, st, "INBOX", "Subject: z\r\n\r\nz\r\n")

			if tt.leftover == "" {
				resume(t, st, h, "")
			} else {
				// imap-hibernate read the client's DONE.
				c.send(tt.leftover)
				time.Sleep(20 * time.Millisecond)
				buf := make([]byte, 64)
				n, err := unix.Read(int(h.conn.Fd()), buf)
				if err != nil || string(buf[:n]) != tt.leftover {
					t.Fatalf("read the client's input: %q, %v", buf[:n], err)
				}
				resume(t, st, h, tt.leftover)
			}
			var lines []string
			for range tt.want {
				lines = append(lines, c.readResponse())
			}
			(&result{c: c, cmd: "resume", lines: lines}).want(tt.want...)
			if tt.leftover == "" {
				c.send("DONE\r\n")
			}
			c.until("DONE", "b").want("b OK Idle completed.")
			c.cmd("c UID FETCH 1:* (FLAGS)").want(
				`* 1 FETCH (UID 1 FLAGS (\Recent)*`,
				`* 2 FETCH (UID 3 FLAGS (\Recent)*`,
				`* 3 FETCH (UID 5 FLAGS (\Flagged \Recent)*`,
				`* 4 FETCH (UID 6 FLAGS (\Recent)*`,
				`* 5 FETCH (UID 7 FLAGS (\Recent)*`,
				"c OK *")
			c.cmd("d LOGOUT").ok()
		})
	}
}

// TestHibernateUnselected: a session idling with no mailbox selected
// hibernates too and resumes in IDLE.
func TestHibernateUnselected(t *testing.T) {
	st := notifyStore{memstore.New()}
	c, got := hibernatingSession(t, st, 20*time.Millisecond)
	c.send("i1 IDLE\r\n")
	if line := c.readResponse(); line != "+ idling" {
		t.Fatalf("IDLE: %q", line)
	}
	h := waitHibernated(t, got)
	resume(t, st, h, "")
	c.send("DONE\r\n")
	c.until("DONE", "i1").want("i1 OK Idle completed.")
	c.cmd("n NOOP").want("n OK Noop completed.")
}

// TestHibernateDeletedMailbox: the selected mailbox deleted while
// hibernated ends the session with BYE.
func TestHibernateDeletedMailbox(t *testing.T) {
	st := notifyStore{memstore.New()}
	if err := st.Create("box", nil); err != nil {
		t.Fatal(err)
	}
	c, got := hibernatingSession(t, st, 20*time.Millisecond)
	c.cmd("s SELECT box").ok()
	c.send("i IDLE\r\n")
	c.readResponse()
	h := waitHibernated(t, got)
	if err := st.Delete("box"); err != nil {
		t.Fatal(err)
	}
	resume(t, st, h, "")
	if line := c.readResponse(); !strings.HasPrefix(line, "* BYE ") {
		t.Fatalf("after resume: %q, want BYE", line)
	}
}

// TestHibernateNotWithoutNotifier: a store that cannot notify of changes
// keeps the session.
func TestHibernateNotWithoutNotifier(t *testing.T) {
	st := memstore.New()
	c, got := hibernatingSession(t, st, 10*time.Millisecond)
	c.cmd("s SELECT INBOX").ok()
	c.send("i IDLE\r\n")
	c.readResponse()
	select {
	case <-got:
		t.Fatal("hibernated without change notification")
	case <-time.After(100 * time.Millisecond):
	}
	c.send("DONE\r\n")
	c.until("DONE", "i").want("i OK Idle completed.")
}

func TestResumeStateRoundTrip(t *testing.T) {
	tests := []resumeState{
		{tag: "a1"},
		{tag: "x", mode: modes{condstore: true, utf8: true}},
		{tag: "t", mode: modes{qresync: true, condstore: true}, mailbox: "INBOX/Ünï", readOnly: true,
			uidValidity: 1700000000, highestModSeq: 1 << 40,
			uids:   []uint32{1, 2, 3, 7, 9, 10, 4294967295},
			recent: []uint32{9, 10}, saved: []uint32{2, 3},
			flags: []string{`\Seen`, "$Junk"}},
	}
	for _, st := range tests {
		b := st.encode()
		got, err := decodeState(b)
		if err != nil {
			t.Fatalf("decodeState(encode(%+v)): %v", st, err)
		}
		if !reflect.DeepEqual(*got, st) {
			t.Errorf("decodeState(encode(%+v)) = %+v", st, *got)
		}
	}
	// 100,000 messages with every tenth expunged stay well under the limit.
	var many []uint32
	for u := uint32(1); u <= 100000; u++ {
		if u%10 != 0 {
			many = append(many, u)
		}
	}
	if n := len((&resumeState{tag: "a", mailbox: "INBOX", uids: many}).encode()); n > maxStateBytes {
		t.Errorf("state of 90,000 UIDs is %d bytes", n)
	}
}

func FuzzResumeState(f *testing.F) {
	f.Add((&resumeState{tag: "a"}).encode())
	f.Add((&resumeState{tag: "t", mailbox: "INBOX", uids: []uint32{1, 2, 5}, recent: []uint32{5},
		flags: []string{`\Seen`}}).encode())
	f.Add([]byte{1, 1, 'a', 0, 1, 1, 'I', 0, 1, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			return
		}
		again, err := decodeState(st.encode())
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Errorf("decodeState(encode(%+v)) = %+v, %v", st, again, err)
		}
	})
}
