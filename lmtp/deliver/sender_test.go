package deliver

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"cote/storage/memstore"
)

// fakeSendmail writes a script that saves its arguments and input to
// out (one file per run: out.N.args, out.N.msg) and exits with code.
func fakeSendmail(t *testing.T, code int) (path, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "sent")
	path = filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\nn=$(ls " + dir + " | grep -c '\\.args$')\nprintf '%s\\n' \"$@\" > " + out + ".$n.args\ncat > " + out + ".$n.msg\n"
	if code != 0 {
		script += "echo 'sendmail: refused' >&2\nexit " + string(rune('0'+code)) + "\n"
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, out
}

func TestSendmailSender(t *testing.T) {
	path, out := fakeSendmail(t, 0)
	s := NewSender(path, "", "mx.example.com")
	if _, ok := s.(*SendmailSender); !ok {
		t.Fatalf("NewSender = %T, want *SendmailSender", s)
	}
	msg := "Subject: hi\r\n\r\nbody\r\n"
	if err := s.Send(context.Background(), "a@example.org", []string{"b@example.net", "-oi@x"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(out + ".0.args")
	if got, want := string(args), "-i\n-f\na@example.org\n--\nb@example.net\n-oi@x\n"; got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	if got, _ := os.ReadFile(out + ".0.msg"); string(got) != msg {
		t.Errorf("stdin = %q, want %q", got, msg)
	}
	// The null sender is "<>".
	if err := s.Send(context.Background(), "", []string{"b@example.net"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if args, _ := os.ReadFile(out + ".1.args"); !strings.HasPrefix(string(args), "-i\n-f\n<>\n--\n") {
		t.Errorf("null sender args = %q", args)
	}
}

func TestSendmailFailure(t *testing.T) {
	path, _ := fakeSendmail(t, 3)
	err := (&SendmailSender{Path: path}).Send(context.Background(), "a@example.org", []string{"b@example.net"}, strings.NewReader("x\r\n"))
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Send = %v, want the exit status and stderr", err)
	}
	err = (&SendmailSender{Path: filepath.Join(t.TempDir(), "missing")}).Send(context.Background(), "", []string{"b@example.net"}, strings.NewReader("x\r\n"))
	if err == nil {
		t.Error("Send with a missing program succeeded")
	}
}

// sink is an SMTP server that records what it receives.
type sink struct {
	mu   sync.Mutex
	msgs []sinkMsg
}

type sinkMsg struct {
	from string
	to   []string
	data string
}

func (k *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }

type sinkSession struct {
	k   *sink
	cur sinkMsg
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "bad") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, s.cur)
	s.k.mu.Unlock()
	s.cur = sinkMsg{}
	return nil
}
func (s *sinkSession) Reset()        { s.cur = sinkMsg{} }
func (s *sinkSession) Logout() error { return nil }

func startSink(t *testing.T) (*sink, string) {
	t.Helper()
	k := &sink{}
	srv := smtp.NewServer(k)
	srv.Domain = "sink.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k, ln.Addr().String()
}

func TestSMTPSender(t *testing.T) {
	k, addr := startSink(t)
	s := NewSender("/usr/sbin/sendmail", addr, "mx.example.com")
	if _, ok := s.(*SMTPSender); !ok {
		t.Fatalf("NewSender = %T, want *SMTPSender (submission_host wins)", s)
	}
	msg := "Subject: hi\r\n\r\nbody\r\n"
	if err := s.Send(context.Background(), "", []string{"b@example.net", "c@example.net"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.msgs) != 1 {
		t.Fatalf("sink got %d messages", len(k.msgs))
	}
	m := k.msgs[0]
	if m.from != "" || strings.Join(m.to, ",") != "b@example.net,c@example.net" || m.data != msg {
		t.Errorf("sink got %+v", m)
	}
}

func TestSMTPSenderErrors(t *testing.T) {
	_, addr := startSink(t)
	err := NewSender("", addr, "").Send(context.Background(), "a@example.org", []string{"bad@example.net"}, strings.NewReader("x\r\n"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("Send to a refused recipient = %v, want the 550", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if err := NewSender("", closed, "").Send(context.Background(), "", []string{"b@example.net"}, strings.NewReader("x\r\n")); err == nil {
		t.Error("Send to a closed port succeeded")
	}
	if NewSender("", "", "") != nil {
		t.Error("NewSender without settings is not nil")
	}
}

// TestRejectMessage: a reject sends an MDN-style rejection to the
// envelope sender from the null sender and stores nothing; with the null
// sender nothing is sent and nothing stored.
func TestRejectMessage(t *testing.T) {
	for _, nullSender := range []bool{false, true} {
		st := memstore.New()
		fs := &fakeSender{}
		var done []bool
		o := Options{Store: st, Sender: fs, Hostname: "mx.example.com", Filter: actions(Actions{
			Reject: "I do not want it", Done: func(_ context.Context, ok bool) { done = append(done, ok) },
		})}
		msg := "Subject: offer\r\nMessage-ID: <1@example.org>\r\n\r\nbuy\r\n"
		req := request(msg)
		if nullSender {
			req.MailFrom = ""
		}
		r := Deliver(context.Background(), o, req, sealed(t, msg))
		if got := replyString(r); got != "250 2.0.0 TXID Saved" {
			t.Errorf("null sender %v: reply %q", nullSender, got)
		}
		if n := len(contents(t, st, "INBOX")); n != 0 {
			t.Errorf("null sender %v: INBOX holds %d", nullSender, n)
		}
		if len(done) != 1 || !done[0] {
			t.Errorf("null sender %v: Done calls %v", nullSender, done)
		}
		if nullSender {
			if len(fs.sent) != 0 {
				t.Errorf("rejection sent to the null sender: %q", fs.sent)
			}
			continue
		}
		if len(fs.sent) != 1 {
			t.Fatalf("sent %d messages", len(fs.sent))
		}
		for _, want := range []string{"a@example.org|", "From: Mail Delivery System <postmaster@example.com>", "To: <a@example.org>",
			"Auto-Submitted: auto-replied (rejected)", "report-type=disposition-notification", "I do not want it",
			"Disposition: automatic-action/MDN-sent-automatically; deleted", "Original-Message-ID: <1@example.org>",
			"Final-Recipient: rfc822; alice+lists@example.com", "Subject: offer\r\nMessage-ID"} {
			if !strings.Contains(fs.sent[0], want) {
				t.Errorf("rejection lacks %q:\n%s", want, fs.sent[0])
			}
		}
		st.Close()
	}
}

// TestMessagesAfterDelivery: the filter's messages go out only once the
// message is stored, and Done reports a failed delivery.
func TestMessagesAfterDelivery(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	fs := &fakeSender{}
	var done []bool
	o := Options{Store: st, Sender: fs, Filter: actions(Actions{Keep: true,
		Messages: []Outgoing{{Kind: "vacation", To: []string{"a@example.org"}, Data: []byte("Subject: away\r\n\r\nx\r\n")}},
		Done:     func(_ context.Context, ok bool) { done = append(done, ok) }})}
	r := Deliver(context.Background(), o, request(testMsg), sealed(t, testMsg))
	if replyString(r) != "250 2.0.0 TXID Saved" || len(fs.sent) != 1 || fs.sent[0] != "a@example.org|Subject: away\r\n\r\nx\r\n" || len(done) != 1 || !done[0] {
		t.Errorf("reply %q, sent %q, done %v", replyString(r), fs.sent, done)
	}
	fs.sent, done = nil, nil
	o.Store = failStore{st, errors.New("disk on fire")}
	r = Deliver(context.Background(), o, request(testMsg), sealed(t, testMsg))
	if r.Code == 250 || len(fs.sent) != 0 || len(done) != 1 || done[0] {
		t.Errorf("failed delivery: reply %q, sent %q, done %v", replyString(r), fs.sent, done)
	}
}
