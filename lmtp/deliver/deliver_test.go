package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"cote/proto"
	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

const testMsg = "Received: from mx (local)\r\n\tby test with LMTP; Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: hello\r\nFrom: a@example.org\r\n\r\nbody line\r\n"

// sealed returns a sealed memfd holding s, as the lmtp process sends it.
func sealed(t *testing.T, s string) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		t.Fatalf("seal: %v", err)
	}
	return f
}

func request(msg string) *proto.Deliver {
	return &proto.Deliver{Seq: 7, User: "alice", MailFrom: "a@example.org", RcptTo: "alice+lists@example.com",
		Detail: "lists", Size: uint64(len(msg)), SessionID: "TXID"}
}

// contents returns the messages of mailbox name.
func contents(t *testing.T, st storage.Store, name string) []string {
	t.Helper()
	mb, err := st.Open(name, true)
	if err != nil {
		return nil
	}
	defer mb.Close()
	var out []string
	for _, m := range mb.Messages() {
		rc, err := mb.Read(m.UID)
		if err != nil {
			t.Fatalf("Read(%d) = %v", m.UID, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}

func flagsOf(t *testing.T, st storage.Store, name string) [][]string {
	mb, err := st.Open(name, true)
	if err != nil {
		return nil
	}
	defer mb.Close()
	var out [][]string
	for _, m := range mb.Messages() {
		out = append(out, m.Flags)
	}
	return out
}

type filterFunc func(context.Context, FilterEnv) (Actions, error)

func (f filterFunc) Filter(ctx context.Context, env FilterEnv) (Actions, error) { return f(ctx, env) }

func actions(a Actions) Filter {
	return filterFunc(func(context.Context, FilterEnv) (Actions, error) { return a, nil })
}

type fakeSender struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (s *fakeSender) Send(_ context.Context, from string, to []string, msg io.Reader) error {
	b, _ := io.ReadAll(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, strings.Join(to, ",")+"|"+string(b))
	return s.err
}

func TestDeliver(t *testing.T) {
	saved := "250 2.0.0 TXID Saved"
	tests := []struct {
		name    string
		opts    Options
		mailbox string   // req.Mailbox
		boxes   []string // mailboxes that exist before
		want    string   // reply
		counts  map[string]int
	}{
		{name: "keep", want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "detail mailbox exists", mailbox: "lists", boxes: []string{"lists"}, want: saved, counts: map[string]int{"INBOX": 0, "lists": 1}},
		{name: "detail mailbox missing", mailbox: "lists", want: saved, counts: map[string]int{"INBOX": 1, "lists": 0}},
		{name: "detail mailbox autocreated", mailbox: "lists", opts: Options{Autocreate: true}, want: saved, counts: map[string]int{"INBOX": 0, "lists": 1}},
		{name: "filter error keeps", opts: Options{Filter: filterFunc(func(context.Context, FilterEnv) (Actions, error) {
			return Actions{Discard: true}, errors.New("script broken")
		})}, want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "no actions is keep", opts: Options{Filter: actions(Actions{})}, want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "discard", opts: Options{Filter: actions(Actions{Discard: true})}, want: saved, counts: map[string]int{"INBOX": 0}},
		{name: "fileinto existing", boxes: []string{"Work"}, opts: Options{Filter: actions(Actions{FileInto: []FileInto{{Mailbox: "Work"}}})}, want: saved, counts: map[string]int{"INBOX": 0, "Work": 1}},
		{name: "fileinto missing falls back to INBOX", opts: Options{Filter: actions(Actions{FileInto: []FileInto{{Mailbox: "Work"}}})}, want: saved, counts: map[string]int{"INBOX": 1, "Work": 0}},
		{name: "fileinto create", opts: Options{Filter: actions(Actions{FileInto: []FileInto{{Mailbox: "Work", Create: true}}})}, want: saved, counts: map[string]int{"INBOX": 0, "Work": 1}},
		{name: "fileinto autocreate", opts: Options{Autocreate: true, Filter: actions(Actions{FileInto: []FileInto{{Mailbox: "Work"}}})}, want: saved, counts: map[string]int{"INBOX": 0, "Work": 1}},
		{name: "keep and fileinto INBOX is one copy", opts: Options{Filter: actions(Actions{Keep: true, FileInto: []FileInto{{Mailbox: "inbox"}}})}, want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "two missing mailboxes give one INBOX copy", opts: Options{Filter: actions(Actions{FileInto: []FileInto{{Mailbox: "A"}, {Mailbox: "B"}}})}, want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "keep and fileinto", boxes: []string{"Work"}, opts: Options{Filter: actions(Actions{Keep: true, FileInto: []FileInto{{Mailbox: "Work"}}})}, want: saved, counts: map[string]int{"INBOX": 1, "Work": 1}},
		{name: "reject without sender keeps", opts: Options{Filter: actions(Actions{Reject: "no thanks"})}, want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "reject with reply", opts: Options{RejectWithReply: true, Filter: actions(Actions{Reject: "no\r\nthanks"})}, want: "550 5.7.1 nothanks", counts: map[string]int{"INBOX": 0}},
		{name: "ereject", opts: Options{Filter: actions(Actions{Reject: "go away", Ereject: true})}, want: "550 5.7.1 go away", counts: map[string]int{"INBOX": 0}},
		{name: "redirect without sender keeps", opts: Options{Filter: actions(Actions{Redirect: []string{"bob@example.net"}})}, want: saved, counts: map[string]int{"INBOX": 1}},
		{name: "redirect", opts: Options{Sender: &fakeSender{}, Filter: actions(Actions{Redirect: []string{"bob@example.net"}})}, want: saved, counts: map[string]int{"INBOX": 0}},
		{name: "redirect failure keeps", opts: Options{Sender: &fakeSender{err: errors.New("down")}, Filter: actions(Actions{Redirect: []string{"bob@example.net"}})}, want: saved, counts: map[string]int{"INBOX": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memstore.New()
			defer st.Close()
			for _, b := range tt.boxes {
				if err := st.Create(b, nil); err != nil {
					t.Fatal(err)
				}
			}
			o := tt.opts
			o.Store = st
			req := request(testMsg)
			req.Mailbox = tt.mailbox
			r := Deliver(context.Background(), o, req, sealed(t, testMsg))
			if got := replyString(r); got != tt.want || r.Seq != 7 {
				t.Errorf("Deliver = %q (seq %d), want %q (seq 7)", got, r.Seq, tt.want)
			}
			for box, n := range tt.counts {
				msgs := contents(t, st, box)
				if len(msgs) != n {
					t.Errorf("%s holds %d messages, want %d", box, len(msgs), n)
				}
				for _, m := range msgs {
					want := "Return-Path: <a@example.org>\r\nDelivered-To: alice+lists@example.com\r\n" + testMsg
					if m != want {
						t.Errorf("%s message = %q, want %q", box, m, want)
					}
				}
			}
			if s, ok := o.Sender.(*fakeSender); ok && len(s.sent) > 0 {
				want := "bob@example.net|Delivered-To: alice+lists@example.com\r\n" + testMsg
				if s.sent[0] != want {
					t.Errorf("redirected %q, want %q", s.sent[0], want)
				}
			}
		})
	}
}

func replyString(r *proto.DeliverReply) string {
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Message)
}

func TestFilterEnvAndFlags(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	st.Create("Work", nil)
	var env FilterEnv
	var whole []byte
	f := filterFunc(func(_ context.Context, e FilterEnv) (Actions, error) {
		env = e
		whole = make([]byte, e.Size)
		if _, err := e.Message.ReadAt(whole, 0); err != nil && err != io.EOF {
			t.Errorf("ReadAt = %v", err)
		}
		if !e.MailboxExists("Work") || e.MailboxExists("Nope") || !e.MailboxExists("INBOX") {
			t.Errorf("MailboxExists wrong")
		}
		return Actions{Keep: true, KeepFlags: []string{`\Flagged`}, FileInto: []FileInto{{Mailbox: "Work", Flags: []string{`\Seen`, "$Label1"}}}}, nil
	})
	req := request(testMsg)
	req.Mailbox = "Work"
	r := Deliver(context.Background(), Options{Store: st, Filter: f}, req, sealed(t, testMsg))
	if r.Code != 250 {
		t.Fatalf("Deliver = %+v", r)
	}
	if env.User != "alice" || env.RcptTo != "alice+lists@example.com" || env.Detail != "lists" || env.MailFrom != "a@example.org" || env.Mailbox != "Work" {
		t.Errorf("FilterEnv = %+v", env)
	}
	if want := "Return-Path: <a@example.org>\r\nDelivered-To: alice+lists@example.com\r\n" + testMsg; string(whole) != want {
		t.Errorf("FilterEnv.Message = %q, want %q", whole, want)
	}
	// Keep went to the detail mailbox Work, as did the fileinto: one copy
	// with the union of the flags.
	fl := flagsOf(t, st, "Work")
	if len(fl) != 1 || !slices.Contains(fl[0], `\Flagged`) || !slices.Contains(fl[0], `\Seen`) || !slices.Contains(fl[0], "$Label1") {
		t.Errorf("Work flags = %v, want one message with \\Flagged \\Seen $Label1", fl)
	}
	if n := len(contents(t, st, "INBOX")); n != 0 {
		t.Errorf("INBOX holds %d", n)
	}
}

func TestHeaders(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	req := request(testMsg)
	req.MailFrom = ""
	req.RcptTo = "bob@example.com\r\nX-Injected: yes"
	Deliver(context.Background(), Options{Store: st}, req, sealed(t, testMsg))
	req.RcptTo = "bob@example.com"
	Deliver(context.Background(), Options{Store: st, HdrDeliveryAddress: "none"}, req, sealed(t, testMsg))
	// One of several recipients of the transaction: no Delivered-To,
	// as in Dovecot, whatever lmtp_hdr_delivery_address says.
	req.Shared = true
	Deliver(context.Background(), Options{Store: st, HdrDeliveryAddress: "final"}, req, sealed(t, testMsg))
	got := contents(t, st, "INBOX")
	want := []string{
		"Return-Path: <>\r\nDelivered-To: bob@example.comX-Injected: yes\r\n" + testMsg,
		"Return-Path: <>\r\n" + testMsg,
		"Return-Path: <>\r\n" + testMsg,
	}
	if !slices.Equal(got, want) {
		t.Errorf("INBOX = %q, want %q", got, want)
	}
}

func TestBadDescriptor(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	writable, err := os.CreateTemp(t.TempDir(), "spool")
	if err != nil {
		t.Fatal(err)
	}
	defer writable.Close()
	writable.WriteString(testMsg)
	readOnly, err := os.Open(writable.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer readOnly.Close()
	tests := []struct {
		name string
		f    *os.File
		size int
		want uint32
	}{
		{"writable unsealed file", writable, len(testMsg), 451},
		{"size mismatch", sealed(t, testMsg), len(testMsg) + 1, 451},
		{"read-only file", readOnly, len(testMsg), 250},
		{"sealed memfd", sealed(t, testMsg), len(testMsg), 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(testMsg)
			req.Size = uint64(tt.size)
			r := Deliver(context.Background(), Options{Store: st}, req, tt.f)
			if r.Code != tt.want {
				t.Errorf("Deliver = %+v, want code %d", r, tt.want)
			}
		})
	}
	if n := len(contents(t, st, "INBOX")); n != 2 {
		t.Errorf("INBOX holds %d messages, want 2", n)
	}
}

func openMaildir(t *testing.T, root string, rules ...string) storage.Store {
	t.Helper()
	st, err := maildir.Open(maildir.Options{Location: "maildir:" + root, Home: filepath.Dir(root), User: "alice", PollInterval: -1, QuotaRules: rules})
	if err != nil {
		t.Fatalf("maildir.Open = %v", err)
	}
	return st
}

// TestMaildirQuotaAndDurability delivers into a real Maildir with a quota:
// a reply of 250 means the copy is there after the store is closed and
// reopened; over quota is 552 5.2.2, or 452 4.2.2 with
// quota_full_tempfail, and leaves nothing behind.
func TestMaildirQuotaAndDurability(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	big := testMsg + strings.Repeat("x", 700) + "\r\n"
	st := openMaildir(t, root, "*:storage=2K")
	var replies []string
	for _, tempfail := range []bool{false, false, false, true} {
		r := Deliver(context.Background(), Options{Store: st, QuotaFullTempfail: tempfail}, request(big), sealed(t, big))
		replies = append(replies, replyString(r))
	}
	want := []string{"250 2.0.0 TXID Saved", "250 2.0.0 TXID Saved",
		"552 5.2.2 Quota exceeded (mailbox for user is full)", "452 4.2.2 Quota exceeded (mailbox for user is full)"}
	if !slices.Equal(replies, want) {
		t.Errorf("replies = %q, want %q", replies, want)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openMaildir(t, root)
	defer st.Close()
	got := contents(t, st, "INBOX")
	if len(got) != 2 {
		t.Fatalf("after reopening, INBOX holds %d messages, want 2", len(got))
	}
	for _, m := range got {
		if !strings.HasPrefix(m, "Return-Path: <a@example.org>\r\nDelivered-To: alice+lists@example.com\r\nReceived: ") || !bytes.HasSuffix([]byte(m), []byte("xxx\r\n")) {
			t.Errorf("stored message = %q", m)
		}
	}
	// The files are in new/ or cur/, nothing left in tmp/.
	tmp, _ := os.ReadDir(filepath.Join(root, "tmp"))
	if len(tmp) != 0 {
		t.Errorf("tmp/ holds %d files", len(tmp))
	}
}

// TestMaildirDetailAutocreate files into a created Maildir++ folder.
func TestMaildirDetailAutocreate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	st := openMaildir(t, root)
	defer st.Close()
	req := request(testMsg)
	req.Mailbox = "lists"
	r := Deliver(context.Background(), Options{Store: st, Autocreate: true, Autosubscribe: true}, req, sealed(t, testMsg))
	if r.Code != 250 {
		t.Fatalf("Deliver = %+v", r)
	}
	if n := len(contents(t, st, "lists")); n != 1 {
		t.Errorf("lists holds %d messages", n)
	}
	list, _ := st.List()
	for _, mb := range list {
		if mb.Name == "lists" && !mb.Subscribed {
			t.Errorf("lists not subscribed")
		}
	}
}

// failStore fails every Append with err.
type failStore struct {
	storage.Store
	err error
}

func (s failStore) Append(string, io.Reader, storage.AppendOptions) (uint32, uint32, error) {
	return 0, 0, s.err
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{storage.ErrTemporary, "451 4.2.0 Temporary failure storing the message"},
		{errors.Join(storage.ErrTemporary, unix.ENOSPC), "452 4.3.1 Insufficient system storage"},
		{storage.ErrTooBig, "552 5.2.3 Message too large for mailbox"},
		{errors.New("boom"), "451 4.3.0 Temporary internal failure"},
	}
	for _, tt := range tests {
		st := failStore{memstore.New(), tt.err}
		r := Deliver(context.Background(), Options{Store: st}, request(testMsg), sealed(t, testMsg))
		if got := replyString(r); got != tt.want {
			t.Errorf("Deliver with Append failing %v = %q, want %q", tt.err, got, tt.want)
		}
	}
}
