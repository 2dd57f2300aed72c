package pop3

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/storage"
)

const (
	msg1 = "From: a@example.com\r\nSubject: one\r\n\r\nHello\r\n"
	msg2 = "From: b@example.com\r\nSubject: two\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nline 4\r\nline 5\r\n"
	msg3 = "Subject: three\r\n\r\nno final line end"
)

func size(m string) string { return strconv.Itoa(len(m)) }

func defaultUIDL(uid, uidValidity uint32) string {
	return fmt.Sprintf("%08x%08x", uid, uidValidity)
}

func uidValidity(t *testing.T, st storage.Store) uint32 {
	t.Helper()
	s, err := st.Status("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return s.UIDValidity
}

func TestTransaction(t *testing.T) {
	st := newStore(t, msg1, msg2)
	uv := uidValidity(t, st)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	total := strconv.Itoa(len(msg1) + len(msg2))
	c.send("STAT").want("+OK 2 " + total)
	c.send("LIST").want("+OK 2 messages:").wantMulti("1 "+size(msg1), "2 "+size(msg2))
	c.send("list 2").want("+OK 2 " + size(msg2))
	c.send("LIST 3").want("-ERR There's no message 3.")
	c.send("LIST 0").want("-ERR There's no message 0.")
	c.send("LIST x").want("-ERR Invalid message number: x")
	c.send("LIST 1x").want("-ERR Noise after message number: 1x")
	c.send("LIST 1 2").want("-ERR Noise after message number: 2")
	c.send("LIST 99999999999").want("-ERR Message number too large: 99999999999")
	c.send("UIDL").want("+OK").wantMulti("1 "+defaultUIDL(1, uv), "2 "+defaultUIDL(2, uv))
	c.send("UIDL 2").want("+OK 2 " + defaultUIDL(2, uv))
	c.send("NOOP").want("+OK")
	c.send("CAPA").want("+OK").wantMulti("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "IMPLEMENTATION cote")
	c.send("RETR 1").want("+OK "+size(msg1)+" octets").wantMulti("From: a@example.com", "Subject: one", "", "Hello")
	c.send("TOP 2 1").want("+OK").wantMulti("From: b@example.com", "Subject: two", "", "..leading dot")
	c.send("TOP 2 0").want("+OK").wantMulti("From: b@example.com", "Subject: two", "")
	c.send("TOP 2 100").want("+OK").wantMulti("From: b@example.com", "Subject: two", "", "..leading dot", "...two dots", "..", "line 4", "line 5")
	c.send("TOP 2").want("-ERR Invalid size: ")
	c.send("TOP 2 x").want("-ERR Invalid size: x")
	c.send("DELE 1").want("+OK Marked to be deleted.")
	c.send("DELE 1").want("-ERR Message is deleted.")
	c.send("RETR 1").want("-ERR Message is deleted.")
	c.send("STAT").want("+OK 1 " + size(msg2))
	c.send("LIST").want("+OK 1 messages:").wantMulti("2 " + size(msg2))
	c.send("UIDL").want("+OK").wantMulti("2 " + defaultUIDL(2, uv))
	c.send("RSET").want("+OK")
	c.send("STAT").want("+OK 2 " + total)
	c.send("USER u").want("-ERR Unknown command: USER")
	c.send("QUIT").want("+OK Logging out.")
	c.wantEOF()
	if err := c.wait(); err != nil {
		t.Errorf("Serve = %v", err)
	}
	if got := uids(inbox(t, st)); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("INBOX UIDs after QUIT = %v, want [1 2]", got)
	}
}

// The size LIST gives is the message's size, and it is exactly what a
// client has after removing the dot-stuffing from RETR's lines; lines
// that start with a dot are stuffed on the wire.
func TestRetrSizesAndDotStuffing(t *testing.T) {
	msgs := []string{msg1, msg2, "Subject: dots\r\n\r\n.\r\n..\r\n...\r\n. \r\n.x\r\n", "\r\n.\r\n", strings.Repeat("a", 5000) + "\r\n.\r\n" + strings.Repeat(".b\r\n", 3000)}
	st := newStore(t, msgs...)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	for i, m := range msgs {
		n := strconv.Itoa(i + 1)
		c.send("LIST " + n)
		list := c.wantPrefix("+OK " + n + " ")
		c.send("RETR " + n).want("+OK " + strings.TrimPrefix(list, "+OK "+n+" ") + " octets")
		wire, got := c.body()
		if string(got) != m {
			t.Errorf("RETR %d gave %q, want %q", i+1, got, m)
		}
		if want := "+OK " + n + " " + size(m); list != want {
			t.Errorf("LIST %d = %q, want %q", i+1, list, want)
		}
		stuffed := strings.Count("\n"+m, "\n.")
		if len(wire) != len(m)+stuffed+3 {
			t.Errorf("RETR %d sent %d bytes, want %d (message, %d stuffed dots, terminator)", i+1, len(wire), len(m)+stuffed+3, stuffed)
		}
	}
}

func TestRetrNoFinalLineEnd(t *testing.T) {
	st := newStore(t, msg3)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("RETR 1").want("+OK "+size(msg3)+" octets").wantMulti("Subject: three", "", "no final line end")
}

func TestQuitDeletes(t *testing.T) {
	st := newStore(t, msg1, msg2, msg3)
	uv := uidValidity(t, st)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("DELE 1").want("+OK Marked to be deleted.")
	c.send("DELE 3").want("+OK Marked to be deleted.")
	// Before QUIT nothing has changed for anyone else.
	if got := uids(inbox(t, st)); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("INBOX before QUIT = %v", got)
	}
	c.send("QUIT").want("+OK Logging out, messages deleted.")
	c.wantEOF()
	if err := c.wait(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	msgs := inbox(t, st)
	if got := uids(msgs); !slices.Equal(got, []uint32{2}) {
		t.Fatalf("INBOX after QUIT = %v, want [2]", got)
	}
	// The next session numbers afresh and keeps the UIDL.
	c = start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("LIST").want("+OK 1 messages:").wantMulti("1 " + size(msg2))
	c.send("UIDL").want("+OK").wantMulti("1 " + defaultUIDL(2, uv))
	c.send("QUIT").want("+OK Logging out.")
}

// RFC 1939 section 6: without QUIT there is no UPDATE state. The \Seen
// of a message RETR sent is kept, as Dovecot keeps it.
func TestDroppedConnectionDeletesNothing(t *testing.T) {
	st := newStore(t, msg1, msg2)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("DELE 1").want("+OK Marked to be deleted.")
	c.send("RETR 2").want("+OK " + size(msg2) + " octets")
	c.body()
	c.conn.Close()
	if err := c.wait(); err != nil {
		t.Errorf("Serve = %v", err)
	}
	msgs := inbox(t, st)
	if got := uids(msgs); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("INBOX after a dropped session = %v, want [1 2]", got)
	}
	if slices.Contains(msgs[0].Flags, storage.FlagDeleted) || !slices.Contains(msgs[1].Flags, storage.FlagSeen) {
		t.Errorf("flags after a dropped session: %v %v, want [] [\\Seen]", msgs[0].Flags, msgs[1].Flags)
	}
}

// Server shutdown is not QUIT either.
func TestShutdownDeletesNothing(t *testing.T) {
	st := newStore(t, msg1)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("DELE 1").want("+OK Marked to be deleted.")
	c.cancel()
	c.want("-ERR [SYS/TEMP] Server shutting down.")
	c.wantEOF()
	c.wait()
	if got := uids(inbox(t, st)); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("INBOX after shutdown = %v, want [1]", got)
	}
}

func TestSeenFlags(t *testing.T) {
	for _, tt := range []struct {
		name    string
		noFlags bool
		cmds    []string
		want    bool // \Seen on message 1 afterwards
	}{
		{"RETR", false, []string{"RETR 1"}, true},
		{"TOP", false, []string{"TOP 1 5"}, false},
		{"pop3_no_flag_updates", true, []string{"RETR 1"}, false},
		{"RSET forgets", false, []string{"RETR 1", "RSET"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t, msg1)
			c := start(t, Options{Store: st, User: "u", NoFlagUpdates: tt.noFlags})
			c.want("+OK Logged in.")
			for _, cmd := range tt.cmds {
				c.send(cmd).wantPrefix("+OK")
				if !strings.HasPrefix(cmd, "RSET") {
					c.body()
				}
			}
			c.send("QUIT").want("+OK Logging out.")
			c.wait()
			if got := slices.Contains(inbox(t, st)[0].Flags, storage.FlagSeen); got != tt.want {
				t.Errorf("\\Seen = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeleteTypeFlag(t *testing.T) {
	st := newStore(t, msg1, msg2)
	o := Options{Store: st, User: "u", DeleteType: "flag", DeletedFlag: "$POP3Deleted"}
	c := start(t, o)
	c.want("+OK Logged in.")
	c.send("DELE 1").want("+OK Marked to be deleted.")
	c.send("QUIT").want("+OK Logging out, messages deleted.")
	c.wait()
	msgs := inbox(t, st)
	if len(msgs) != 2 || !slices.Contains(msgs[0].Flags, "$POP3Deleted") {
		t.Fatalf("INBOX after flag deletion: %+v", msgs)
	}
	// The flagged message is hidden from the next POP3 session.
	c = start(t, o)
	c.want("+OK Logged in.")
	c.send("STAT").want("+OK 1 " + size(msg2))
	c.send("UIDL").want("+OK").wantMulti("1 " + defaultUIDL(2, uidValidity(t, st)))
}

func TestInUse(t *testing.T) {
	st := newStore(t, msg1)
	locks := &Locks{}
	c1 := start(t, Options{Store: st, User: "u", Lock: locks})
	c1.want("+OK Logged in.")
	c2 := start(t, Options{Store: st, User: "u", Lock: locks})
	c2.want("-ERR [IN-USE] Mailbox is locked by another POP3 session.")
	c2.wantEOF()
	if err := c2.wait(); !errors.Is(err, ErrInUse) {
		t.Errorf("second Serve = %v, want ErrInUse", err)
	}
	// Another user is not affected.
	c3 := start(t, Options{Store: newStore(t), User: "other", Lock: locks})
	c3.want("+OK Logged in.")
	c1.send("DELE 1").want("+OK Marked to be deleted.")
	c1.send("QUIT").want("+OK Logging out, messages deleted.")
	c1.wait()
	c4 := start(t, Options{Store: st, User: "u", Lock: locks})
	c4.want("+OK Logged in.")
	c4.send("STAT").want("+OK 0 0")
}

// TestQuitFreesMaildrop: the maildrop lock is released before QUIT's
// answer, so that a client that logs in again as soon as it has read it
// is not refused with [IN-USE] while the first session winds down.
func TestQuitFreesMaildrop(t *testing.T) {
	st := newStore(t, msg1)
	locks := &Locks{}
	for i := range 50 {
		c := start(t, Options{Store: st, User: "u", Lock: locks})
		c.want("+OK Logged in.")
		c.send("QUIT").want("+OK Logging out.")
		unlock, ok := locks.TryLock("u")
		if !ok {
			t.Fatalf("round %d: the maildrop is still locked after QUIT's answer", i)
		}
		unlock()
		if err := c.wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// Commands pipelined after PASS arrive as Leftover and are answered
// after "+OK Logged in."; further pipelined commands come in one write
// and are answered in order.
func TestPipelining(t *testing.T) {
	st := newStore(t, msg1, msg2)
	c := start(t, Options{Store: st, User: "u", Leftover: []byte("STAT\r\nLIST 1\r\nRE")})
	c.write("TR 1\r\nDELE 1\r\nLIST\r\nNOOP\r\nQUIT\r\n")
	c.want("+OK Logged in.")
	c.want("+OK 2 " + strconv.Itoa(len(msg1)+len(msg2)))
	c.want("+OK 1 " + size(msg1))
	c.want("+OK "+size(msg1)+" octets").wantMulti("From: a@example.com", "Subject: one", "", "Hello")
	c.want("+OK Marked to be deleted.")
	c.want("+OK 1 messages:").wantMulti("2 " + size(msg2))
	c.want("+OK")
	c.want("+OK Logging out, messages deleted.")
	c.wantEOF()
}

func TestBadCommands(t *testing.T) {
	st := newStore(t, msg1)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("FOO").want("-ERR Unknown command: FOO")
	c.send("").want("-ERR Empty command.")
	c.send("A\x00B").want("-ERR Invalid command.")
	c.send("LIST " + strings.Repeat("9", MaxLine)).want("-ERR Input line too long.")
	c.send("STAT").want("+OK 1 " + size(msg1)) // resets the count
	for range maxBadCommands - 1 {
		c.send("XYZZY").want("-ERR Unknown command: XYZZY")
	}
	c.send("XYZZY").want("-ERR Unknown command: XYZZY")
	c.want("-ERR Too many bad commands.")
	c.wantEOF()
}

// UIDLs from the storage (Dovecot's P records) win over the format.
type uidlStore struct {
	storage.Store
	uidls map[uint32]string
}

func (s uidlStore) Open(name string, readOnly bool) (storage.Mailbox, error) {
	mb, err := s.Store.Open(name, readOnly)
	if err != nil {
		return nil, err
	}
	return uidlMailbox{mb, s.uidls}, nil
}

type uidlMailbox struct {
	storage.Mailbox
	uidls map[uint32]string
}

func (m uidlMailbox) POP3UIDL(uid uint32) (string, bool) {
	u, ok := m.uidls[uid]
	return u, ok
}

func (m uidlMailbox) MaildirBaseName(uid uint32) (string, bool) {
	return fmt.Sprintf("1700000000.M%dP1.host", uid), true
}

func TestUIDLSources(t *testing.T) {
	xuidl := "X-UIDL: fromheader\r\nSubject: x\r\n\r\nbody\r\n"
	folded := "x-uidl:\r\n  folded-1\r\n\r\n"
	spaces := "X-UIDL: has spaces\r\n\r\n"
	tests := []struct {
		name string
		o    Options
		want []string // for UIDs 1..4
	}{
		{"storage UIDL wins", Options{UIDLFormat: "%u"}, []string{"1", "P-two", "3", "4"}},
		{"X-UIDL", Options{ReuseXUIDL: true, UIDLFormat: "%u"}, nil},
		{"format %f", Options{UIDLFormat: "%f"}, []string{"1700000000.M1P1.host", "P-two", "1700000000.M3P1.host", "1700000000.M4P1.host"}},
		{"format %v.%u", Options{UIDLFormat: "%v.%u"}, nil},
		{"duplicates renamed", Options{UIDLFormat: "x", UIDLDuplicates: "rename"}, []string{"x", "P-two", "x-2", "x-3"}},
		{"duplicates allowed", Options{UIDLFormat: "x"}, []string{"x", "P-two", "x", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := uidlStore{newStore(t, msg1, msg2, xuidl, folded), map[uint32]string{2: "P-two"}}
			uv := strconv.FormatUint(uint64(uidValidity(t, st)), 10)
			want := tt.want
			switch tt.name {
			case "X-UIDL":
				want = []string{"1", "P-two", "fromheader", "folded-1"}
			case "format %v.%u":
				want = []string{uv + ".1", "P-two", uv + ".3", uv + ".4"}
			}
			o := tt.o
			o.Store, o.User = st, "u"
			c := start(t, o)
			c.want("+OK Logged in.")
			c.send("UIDL").want("+OK")
			got := c.multi()
			var wantLines []string
			for i, u := range want {
				wantLines = append(wantLines, strconv.Itoa(i+1)+" "+u)
			}
			if !slices.Equal(got, wantLines) {
				t.Errorf("UIDL = %q, want %q", got, wantLines)
			}
		})
	}
	// An X-UIDL that is no valid UIDL is not used.
	st := newStore(t, spaces)
	c := start(t, Options{Store: st, User: "u", ReuseXUIDL: true})
	c.want("+OK Logged in.")
	c.send("UIDL 1").want("+OK 1 " + defaultUIDL(1, uidValidity(t, st)))
}

// A format variable the storage cannot give ends the session, as in
// Dovecot; nothing is deleted.
func TestUIDLUnsupportedVariable(t *testing.T) {
	st := newStore(t, msg1)
	c := start(t, Options{Store: st, User: "u", UIDLFormat: "%g"})
	c.want("+OK Logged in.")
	c.send("DELE 1").want("+OK Marked to be deleted.")
	c.send("UIDL").want("-ERR " + textInternal)
	c.wantEOF()
	if len(inbox(t, st)) != 1 {
		t.Error("message deleted")
	}
}

func TestBadOptions(t *testing.T) {
	c := start(t, Options{Store: newStore(t), User: "u", DeleteType: "flag"})
	c.want("-ERR " + textInternal)
	c.wantEOF()
	if err := c.wait(); err == nil {
		t.Error("Serve accepted pop3_delete_type=flag without pop3_deleted_flag")
	}
}

func TestCapaOptions(t *testing.T) {
	c := start(t, Options{Store: newStore(t), User: "u", LoginDelay: 15 * time.Minute, Expire: "NEVER"})
	c.want("+OK Logged in.")
	c.send("CAPA").want("+OK").wantMulti("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE",
		"LOGIN-DELAY 900", "EXPIRE NEVER", "IMPLEMENTATION cote")
}

func TestLocks(t *testing.T) {
	var l Locks
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 16 {
		wg.Go(func() {
			if _, ok := l.TryLock("u"); ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d sessions got the lock, want 1", won)
	}
	if _, ok := l.TryLock("v"); !ok {
		t.Fatal("another user's lock is taken")
	}
}

// A RETR of a large message streams: what is read equals what was
// stored, and the reply starts before the message is read whole.
func TestRetrLarge(t *testing.T) {
	line := strings.Repeat("x", 998) + "\r\n"
	big := "Subject: big\r\n\r\n" + strings.Repeat(line, 4<<10) // 4 MiB
	st := newStore(t, big)
	c := start(t, Options{Store: st, User: "u"})
	c.want("+OK Logged in.")
	c.send("RETR 1").want("+OK " + size(big) + " octets")
	_, got := c.body()
	if len(got) != len(big) {
		t.Fatalf("RETR gave %d bytes, want %d", len(got), len(big))
	}
}
