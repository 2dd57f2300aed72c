package lmtp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/sys/unix"

	"cote/proto"
)

// fakeUserdb knows users by lookup name: "alice@example.com" and "bob"
// (and "bob@example.com"); "broken@..." fails temporarily.
type fakeUserdb struct {
	mu      sync.Mutex
	lookups []string
}

func (u *fakeUserdb) Lookup(_ context.Context, user string) (string, []string, error) {
	u.mu.Lock()
	u.lookups = append(u.lookups, user)
	u.mu.Unlock()
	switch strings.ToLower(user) {
	case "alice@example.com":
		return "alice", []string{"uid=1000", "home=/home/alice"}, nil
	case "bob@example.com", "bob":
		return "bob", []string{"uid=1001"}, nil
	case "full@example.com":
		return "full", nil, nil
	case "flaky@example.com":
		return "flaky", nil, nil
	case "slow@example.com":
		return "slow", nil, nil
	case "evil@example.com":
		return "evil", nil, nil
	case "broken@example.com":
		return "", nil, errors.New("auth is down")
	}
	return "", nil, ErrUnknownUser
}

// delivery is what the fake deliverer saw for one recipient.
type delivery struct {
	d   proto.Deliver
	msg string
}

// fakeDeliverer plays the worker: it checks the descriptor and answers
// per user.
type fakeDeliverer struct {
	t       *testing.T
	release chan struct{} // "slow" waits on it

	mu   sync.Mutex
	got  []delivery
	busy map[string]int
	peak map[string]int
}

func (f *fakeDeliverer) Deliver(ctx context.Context, d *proto.Deliver, msg *os.File) (*proto.DeliverReply, error) {
	f.mu.Lock()
	if f.busy == nil {
		f.busy, f.peak = map[string]int{}, map[string]int{}
	}
	f.busy[d.User]++
	f.peak[d.User] = max(f.peak[d.User], f.busy[d.User])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.busy[d.User]--
		f.mu.Unlock()
	}()
	if err := checkSealed(msg); err != nil {
		f.t.Errorf("descriptor for %s: %v", d.RcptTo, err)
	}
	b := make([]byte, d.Size)
	if _, err := msg.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	f.mu.Lock()
	f.got = append(f.got, delivery{*d, string(b)})
	f.mu.Unlock()
	switch d.User {
	case "full":
		return &proto.DeliverReply{Seq: d.Seq, Code: 552, Enhanced: "5.2.2", Message: "Quota exceeded (mailbox for user is full)"}, nil
	case "flaky":
		return nil, errors.New("worker died")
	case "evil":
		return &proto.DeliverReply{Seq: d.Seq, Code: 250, Enhanced: "4.0.0", Message: "ok\r\n250 2.0.0 <x> Saved"}, nil
	case "slow":
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &proto.DeliverReply{Seq: d.Seq, Code: 250, Enhanced: "2.0.0", Message: d.SessionID + " Saved"}, nil
}

func (f *fakeDeliverer) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// checkSealed checks what a worker checks: nobody can write the message.
func checkSealed(f *os.File) error {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if fl&unix.O_ACCMODE == unix.O_RDONLY {
		return nil
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&spoolSeals != spoolSeals {
		return fmt.Errorf("writable and not sealed (seals %#x, %v)", seals, err)
	}
	return nil
}

type testServer struct {
	*Server
	addr string
	udb  *fakeUserdb
	dlv  *fakeDeliverer
	done chan error
}

func startServer(t *testing.T, configure func(*Server)) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{udb: &fakeUserdb{}, dlv: &fakeDeliverer{t: t, release: make(chan struct{})}, done: make(chan error, 1)}
	ts.Server = &Server{
		Listeners:          []Listener{{Name: "lmtp", L: l}},
		Log:                slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Hostname:           "mx.test",
		Userdb:             ts.udb,
		Deliverer:          ts.dlv,
		RecipientDelimiter: "+",
		MaxMessageSize:     10000,
	}
	if configure != nil {
		configure(ts.Server)
	}
	ts.addr = l.Addr().String()
	go func() { ts.done <- ts.Serve(context.Background()) }()
	t.Cleanup(func() {
		ts.Close()
		select {
		case err := <-ts.done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	return ts
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client is a raw LMTP connection with helpers that read like the
// protocol.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	cl.expect("220 mx.test LMTP Service Ready")
	return cl
}

// send writes lines, each ending in CRLF, in one write (pipelining).
func (c *client) send(lines ...string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, strings.Join(lines, "\r\n")+"\r\n"); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// sendRaw writes bytes as they are.
func (c *client) sendRaw(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// reply reads one reply, multi-line replies joined with "\n".
func (c *client) reply() string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply: %v (so far %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// expect reads one reply and checks it; "*" in want matches any text.
func (c *client) expect(want string) string {
	c.t.Helper()
	got := c.reply()
	if !match(want, got) {
		c.t.Fatalf("reply %q, want %q", got, want)
	}
	return got
}

// match reports whether s matches pattern, where "*" matches any text.
func match(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return s == ""
}

const body = "From: sender@example.org\r\nSubject: test\r\n\r\nHello.\r\n..dot-stuffed line\r\n"

func TestLHLO(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.send("LHLO mta.example.org")
	got := c.reply()
	for _, ext := range []string{"PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE 10000", "CHUNKING", "SMTPUTF8"} {
		if !strings.Contains(got, "250-"+ext+"\n") && !strings.HasSuffix(got, "250 "+ext) {
			t.Errorf("LHLO reply %q lacks %s", got, ext)
		}
	}
	c.send("EHLO mta.example.org")
	c.expect("500 5.5.1 This is a LMTP server, use LHLO")
}

// TestPipelinedMixedRecipients sends a whole transaction in one write
// (RFC 2920) and gets one reply per RCPT, then one per accepted
// recipient after DATA in RCPT order (RFC 2033 section 4.2).
func TestPipelinedMixedRecipients(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.send("LHLO mta.example.org")
	c.expect("250-Hello mta.example.org*")
	c.send("MAIL FROM:<sender@example.org> BODY=8BITMIME",
		"RCPT TO:<alice+lists@example.com>",
		"RCPT TO:<nobody@example.com>",
		"RCPT TO:<full@example.com>",
		"RCPT TO:<broken@example.com>",
		"RCPT TO:<flaky@example.com>",
		"RCPT TO:<Bob@Example.com>",
		"DATA")
	c.expect("250 2.0.0 Roger, accepting mail from <sender@example.org>")
	c.expect("250 2.0.0 I'll make sure <alice+lists@example.com> gets this")
	c.expect("550 5.1.1 <nobody@example.com> User doesn't exist")
	c.expect("250 2.0.0 *")
	c.expect("451 4.3.0 <broken@example.com> Temporary internal failure")
	c.expect("250 2.0.0 *")
	c.expect("250 2.0.0 *")
	c.expect("354 *")
	c.sendRaw(body + ".\r\n")
	c.expect("250 2.0.0 <alice+lists@example.com> * Saved")
	c.expect("552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)")
	c.expect("451 4.3.0 <flaky@example.com> Temporary internal failure")
	c.expect("250 2.0.0 <Bob@Example.com> * Saved")
	c.send("QUIT")
	c.expect("221 2.0.0 *")

	got := ts.dlv.deliveries()
	if len(got) != 4 {
		t.Fatalf("%d deliveries, want 4", len(got))
	}
	var alice *delivery
	for i := range got {
		if got[i].d.User == "alice" {
			alice = &got[i]
		}
	}
	if alice == nil {
		t.Fatal("no delivery for alice")
	}
	d := alice.d
	if d.MailFrom != "sender@example.org" || d.RcptTo != "alice+lists@example.com" || d.Detail != "lists" || d.Mailbox != "" ||
		!slices.Equal(d.Fields, []string{"uid=1000", "home=/home/alice"}) || d.Size != uint64(len(alice.msg)) || !strings.HasPrefix(d.RemoteAddr, "127.0.0.1:") || d.SessionID == "" {
		t.Errorf("Deliver = %+v", d)
	}
	wantBody := strings.ReplaceAll(body, "\r\n..dot", "\r\n.dot")
	if !strings.HasPrefix(alice.msg, "Received: from mta.example.org ([127.0.0.1])\r\n\tby mx.test with LMTP\r\n\tid "+d.SessionID+"\r\n\t(envelope-from <sender@example.org>); ") ||
		!strings.HasSuffix(alice.msg, "\r\n"+wantBody) {
		t.Errorf("message = %q", alice.msg)
	}
	ts.udb.mu.Lock()
	lookups := slices.Clone(ts.udb.lookups)
	ts.udb.mu.Unlock()
	if !slices.Contains(lookups, "alice@example.com") || slices.Contains(lookups, "alice+lists@example.com") {
		t.Errorf("lookups = %q, want alice@example.com without the detail", lookups)
	}
}

func TestBDAT(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.send("LHLO mta.example.org")
	c.reply()
	chunk1 := "Subject: chunked\r\n\r\nfirst "
	chunk2 := "second\r\n.not stuffed\r\n"
	// BDAT chunks pipelined with the envelope (RFC 3030 section 4.2).
	c.sendRaw("MAIL FROM:<>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<full@example.com>\r\n" +
		fmt.Sprintf("BDAT %d\r\n%s", len(chunk1), chunk1) +
		fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk2), chunk2))
	c.expect("250 2.0.0 Roger, accepting mail from <>")
	c.expect("250 2.0.0 *")
	c.expect("250 2.0.0 *")
	c.expect("250 2.0.0 Continue")
	c.expect("250 2.0.0 <alice@example.com> * Saved")
	c.expect("552 5.2.2 <full@example.com> *")
	got := ts.dlv.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d deliveries, want 2", len(got))
	}
	for _, g := range got {
		if !strings.HasSuffix(g.msg, "\r\n"+chunk1+chunk2) || g.d.MailFrom != "" {
			t.Errorf("delivered %+v %q", g.d, g.msg)
		}
		// One recipient per Received "for" only with a single one.
		if strings.Contains(g.msg, "\tfor <") {
			t.Errorf("Received names a recipient of a two-recipient transaction: %q", g.msg)
		}
	}
}

func TestOversized(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxMessageSize = 1000 })
	c := dial(t, ts.addr)
	c.send("LHLO mta.example.org")
	c.reply()
	c.send("MAIL FROM:<s@example.org> SIZE=5000")
	c.expect("552 5.3.4 Max message size exceeded")
	c.send("MAIL FROM:<s@example.org>", "RCPT TO:<alice@example.com>", "RCPT TO:<bob@example.com>", "DATA")
	c.expect("250 *")
	c.expect("250 *")
	c.expect("250 *")
	c.expect("354 *")
	c.sendRaw("Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30) + ".\r\n")
	c.expect("552 5.3.4 <alice@example.com> Maximum message size exceeded")
	c.expect("552 5.3.4 <bob@example.com> Maximum message size exceeded")
	// BDAT over the limit.
	c.send("MAIL FROM:<s@example.org>", "RCPT TO:<alice@example.com>")
	c.expect("250 *")
	c.expect("250 *")
	c.sendRaw("BDAT 2000 LAST\r\n" + strings.Repeat("y", 2000))
	c.expect("552 5.3.4 Max message size exceeded")
	// The session goes on.
	c.send("NOOP")
	c.expect("250 2.0.0 I have successfully done nothing")
	if n := len(ts.dlv.deliveries()); n != 0 {
		t.Errorf("%d deliveries of an oversized message", n)
	}
}

func TestSaveToDetailMailbox(t *testing.T) {
	ts := startServer(t, func(s *Server) {
		s.SaveToDetailMailbox = true
		s.RecipientDelimiter = "+-"
	})
	c := dial(t, ts.addr)
	c.send("LHLO mta.example.org")
	c.reply()
	c.send("MAIL FROM:<s@example.org>", "RCPT TO:<alice-news@example.com>", "RCPT TO:<alice@example.com>", "DATA")
	for range 3 {
		c.expect("250 *")
	}
	c.expect("354 *")
	c.sendRaw(body + ".\r\n")
	c.expect("250 *")
	c.expect("250 *")
	got := ts.dlv.deliveries()
	slices.SortFunc(got, func(a, b delivery) int { return strings.Compare(a.d.RcptTo, b.d.RcptTo) })
	if len(got) != 2 || got[0].d.Mailbox != "news" || got[0].d.Detail != "news" || got[1].d.Mailbox != "" || got[1].d.Detail != "" {
		t.Errorf("deliveries = %+v", got)
	}
	if !strings.Contains(got[0].msg, "\tfor <alice-news@example.com>") == strings.Contains(got[1].msg, "\tfor <") {
		// Both are in one two-recipient transaction: neither names one.
		t.Logf("Received of two-recipient transaction: %q", got[0].msg)
	}
}

// TestWorkerReplySanitized: a worker (running as its user) cannot put
// lines into the MTA's session or claim 250 with a 4.x.x code.
func TestWorkerReplySanitized(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.send("LHLO mta.example.org")
	c.reply()
	c.send("MAIL FROM:<s@example.org>", "RCPT TO:<evil@example.com>", "DATA")
	c.expect("250 *")
	c.expect("250 *")
	c.expect("354 *")
	c.sendRaw(body + ".\r\n")
	c.expect("250 2.0.0 <evil@example.com> ok  250 2.0.0 <x> Saved")
	c.send("NOOP")
	c.expect("250 2.0.0 I have successfully done nothing")
}

func TestUserConcurrencyLimit(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.UserConcurrencyLimit = 1 })
	a := dial(t, ts.addr)
	a.send("LHLO a")
	a.reply()
	a.send("MAIL FROM:<s@example.org>", "RCPT TO:<slow@example.com>", "DATA")
	a.expect("250 *")
	a.expect("250 *")
	a.expect("354 *")
	a.sendRaw(body + ".\r\n")
	// While slow's delivery hangs, another RCPT for slow is deferred.
	b := dial(t, ts.addr)
	b.send("LHLO b")
	b.reply()
	b.send("MAIL FROM:<s@example.org>", "RCPT TO:<slow@example.com>", "RCPT TO:<alice@example.com>")
	b.expect("250 *")
	b.expect("451 4.3.0 <slow@example.com> Too many concurrent deliveries for user")
	b.expect("250 *")
	close(ts.dlv.release)
	a.expect("250 2.0.0 <slow@example.com> * Saved")
	// The transaction has ended once the next command is answered; the
	// slot is free again.
	a.send("NOOP")
	a.expect("250 *")
	b.send("RSET", "MAIL FROM:<s@example.org>", "RCPT TO:<slow@example.com>")
	b.expect("250 *")
	b.expect("250 *")
	b.expect("250 *")
}

func TestDeliveryConcurrency(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.DeliveryConcurrency = 2 })
	c := dial(t, ts.addr)
	c.send("LHLO a")
	c.reply()
	cmds := []string{"MAIL FROM:<s@example.org>"}
	for range 6 {
		cmds = append(cmds, "RCPT TO:<alice@example.com>")
	}
	c.send(append(cmds, "DATA")...)
	for range 7 {
		c.expect("250 *")
	}
	c.expect("354 *")
	c.sendRaw(body + ".\r\n")
	for range 6 {
		c.expect("250 2.0.0 <alice@example.com> * Saved")
	}
	ts.dlv.mu.Lock()
	peak := ts.dlv.peak["alice"]
	ts.dlv.mu.Unlock()
	if peak > 2 {
		t.Errorf("%d deliveries at once, want at most 2", peak)
	}
}

// TestGoSMTPClient delivers with go-smtp's own LMTP client.
func TestGoSMTPClient(t *testing.T) {
	ts := startServer(t, nil)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"alice@example.com", "full@example.com"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	if err := c.Rcpt("ghost@example.com", nil); err == nil {
		t.Errorf("RCPT ghost accepted")
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	resp, err := w.CloseWithLMTPResponse()
	var lerr smtp.LMTPDataError
	if !errors.As(err, &lerr) || lerr["full@example.com"] == nil || lerr["full@example.com"].Code != 552 {
		t.Errorf("LMTP DATA error = %v, want 552 for full", err)
	}
	if resp["alice@example.com"] == nil || !strings.HasSuffix(resp["alice@example.com"].StatusText, "Saved") {
		t.Errorf("responses = %v", resp)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

// TestPythonLMTP talks to the server with Python's smtplib.LMTP, reading
// the extra per-recipient replies after DATA itself (smtplib reads one).
func TestPythonLMTP(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/test-deps.sh installs it)")
	}
	ts := startServer(t, nil)
	host, port, _ := net.SplitHostPort(ts.addr)
	script := `
import smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
c = smtplib.LMTP(host, port)
code, msg = c.ehlo_or_helo_if_needed() or (None, None)
assert c.does_esmtp, "no LHLO"
for ext in ("pipelining", "chunking", "8bitmime", "smtputf8", "enhancedstatuscodes", "size"):
    assert c.has_extn(ext), ext
c.mail("sender@example.org")
ok = []
for r in ("alice@example.com", "nobody@example.com", "full@example.com", "bob+x@example.com"):
    code, msg = c.rcpt(r)
    print("RCPT", r, code, msg.decode())
    if code == 250:
        ok.append(r)
code, msg = c.data(b"Subject: from python\r\n\r\nhi\r\n")
print("DATA", ok[0], code, msg.decode())
for r in ok[1:]:
    code, msg = c.getreply()
    print("DATA", r, code, msg.decode())
c.quit()
`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		"RCPT alice@example.com 250 2.0.0 I'll make sure <alice@example.com> gets this",
		"RCPT nobody@example.com 550 5.1.1 <nobody@example.com> User doesn't exist",
		"RCPT full@example.com 250 2.0.0 I'll make sure <full@example.com> gets this",
		"RCPT bob+x@example.com 250 2.0.0 I'll make sure <bob+x@example.com> gets this",
		"DATA alice@example.com 250 2.0.0 <alice@example.com> * Saved",
		"DATA full@example.com 552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)",
		"DATA bob+x@example.com 250 2.0.0 <bob+x@example.com> * Saved",
	}
	if len(lines) != len(want) {
		t.Fatalf("python printed %q, want %d lines", lines, len(want))
	}
	for i, w := range want {
		if !match(w, lines[i]) {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}

// TestUnixSocketAndShutdown serves a Unix socket (Postfix's lmtp:unix:),
// and a graceful Shutdown lets a delivery under way answer.
func TestUnixSocketAndShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lmtp")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	dlv := &fakeDeliverer{t: t, release: make(chan struct{})}
	var clients []int
	var cmu sync.Mutex
	s := &Server{
		Listeners: []Listener{{Name: "lmtp", L: l}},
		Hostname:  "mx.test", Userdb: &fakeUserdb{}, Deliverer: dlv,
		OnClients: func(n int) { cmu.Lock(); clients = append(clients, n); cmu.Unlock() },
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &client{t: t, c: conn, r: bufio.NewReader(conn)}
	c.expect("220 *")
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	c.send("LHLO a", "MAIL FROM:<s@example.org>", "RCPT TO:<slow@example.com>", "DATA")
	c.reply()
	c.expect("250 *")
	c.expect("250 *")
	c.expect("354 *")
	c.sendRaw(body + ".\r\n")
	for {
		if len(dlv.deliveries()) == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(dlv.release)
	reply := c.expect("250 2.0.0 <slow@example.com> * Saved")
	if strings.Contains(reply, "(local)") {
		t.Errorf("reply %q", reply)
	}
	// Then the connection ends.
	if _, err := c.r.ReadString('\n'); err == nil {
		t.Errorf("connection still open after Shutdown")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	if got := dlv.deliveries()[0].msg; !strings.HasPrefix(got, "Received: from a\r\n\tby mx.test") || !strings.Contains(got, "\tfor <slow@example.com>; ") {
		t.Errorf("message = %q", got)
	}
	cmu.Lock()
	defer cmu.Unlock()
	if len(clients) < 4 || clients[len(clients)-1] != 0 {
		t.Errorf("OnClients saw %v, want up to 2 and back to 0", clients)
	}
}

func TestClientLimit(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.ClientLimit = 1 })
	dial(t, ts.addr)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if string(b) != "421 4.3.2 Too many connections, try again later\r\n" {
		t.Errorf("over client_limit got %q", b)
	}
}

// TestSessionReusesLookups: a connection that brings several messages
// for the same recipient asks the userdb once for it; an unknown user is
// asked again each time (it may have been added), and a new connection
// asks again.
func TestSessionReusesLookups(t *testing.T) {
	ts := startServer(t, nil)
	count := func(name string) int {
		ts.udb.mu.Lock()
		defer ts.udb.mu.Unlock()
		n := 0
		for _, l := range ts.udb.lookups {
			if l == name {
				n++
			}
		}
		return n
	}
	for conn := 1; conn <= 2; conn++ {
		c := dial(t, ts.addr)
		c.send("LHLO mta.example.org")
		c.reply()
		for range 3 {
			c.send("MAIL FROM:<s@example.org>", "RCPT TO:<alice@example.com>", "RCPT TO:<nosuch@example.com>", "DATA")
			c.expect("250 *")
			c.expect("250 *")
			c.expect("550 5.1.1 *")
			c.expect("354 *")
			c.sendRaw(body + ".\r\n")
			c.expect("250 *")
		}
		c.send("QUIT")
		c.expect("221 *")
		if got := count("alice@example.com"); got != conn {
			t.Errorf("after %d connections of 3 messages each, %d userdb lookups of alice@example.com, want %d", conn, got, conn)
		}
		if got := count("nosuch@example.com"); got != 3*conn {
			t.Errorf("after %d connections of 3 messages each, %d userdb lookups of nosuch@example.com, want %d", conn, got, 3*conn)
		}
	}
	if n := len(ts.dlv.deliveries()); n != 6 {
		t.Errorf("%d deliveries, want 6", n)
	}
}
