package masterclient

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeAuth answers each line with what reply returns for it.
func fakeAuth(t *testing.T, reply func(fields []string) string) *Client {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		b.Write([]byte("VERSION\t1\t1\nSPID\t1\n"))
		r := bufio.NewReader(b)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
			if f[0] == "VERSION" {
				continue
			}
			if out := reply(f); out != "" {
				b.Write([]byte(out + "\n"))
			}
		}
	}()
	c := New(a)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReplies(t *testing.T) {
	c := fakeAuth(t, func(f []string) string {
		switch f[2] {
		case "1":
			return "USER\t" + f[1] + "\tdemo\tuid=1000\tauth_mech=PLAIN"
		case "2":
			return "NOTFOUND\t" + f[1]
		case "3":
			return "FAIL\t" + f[1] + "\treason=db down"
		case "4":
			return "FAIL\t" + f[1]
		}
		return "" // never answers
	})
	ctx := context.Background()
	tests := []struct {
		pid     uint32
		user    string
		wantErr error
	}{
		{1, "demo", nil},
		{2, "", ErrRefused},
		{3, "", ErrTemporary},
		{4, "", ErrTemporary},
	}
	for _, tt := range tests {
		user, _, err := c.Request(ctx, tt.pid, 1, strings.Repeat("0", 32))
		if user != tt.user || !errors.Is(err, tt.wantErr) {
			t.Errorf("Request(pid %d) = %q, %v, want %q, %v", tt.pid, user, err, tt.user, tt.wantErr)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Request(ctx2, 9, 1, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered Request = %v, want DeadlineExceeded", err)
	}
}

func TestClosed(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		buf := make([]byte, 100)
		b.Read(buf)
		b.Close()
	}()
	c := New(a)
	if _, _, err := c.User(context.Background(), "demo", "lmtp"); err == nil {
		t.Error("User on a closed connection succeeded")
	}
	c.Close()
}

func FuzzUserReply(f *testing.F) {
	f.Add("USER\t1\tdemo\tuid=1\tgid=1")
	f.Add("FAIL\t1\treason=x")
	f.Add("NOTFOUND\t1")
	f.Fuzz(func(t *testing.T, line string) {
		f := strings.Split(line, "\t")
		_, _, _ = userReply(f, ErrRefused)
	})
}
