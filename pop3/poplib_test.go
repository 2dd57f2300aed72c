package pop3

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// poplibScript drives a session with Python's poplib, the way a
// retrieving client does, and prints what it saw as JSON.
const poplibScript = `
import json, poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
out = {"welcome": p.getwelcome().decode()}
out["capa"] = sorted(p.capa().keys())
out["stat"] = list(p.stat())
resp, lines, octets = p.list()
out["list"] = [l.decode() for l in lines]
resp, lines, octets = p.uidl()
out["uidl"] = [l.decode() for l in lines]
out["retr"] = []
for i in range(1, out["stat"][0] + 1):
    resp, lines, octets = p.retr(i)
    out["retr"].append({"resp": resp.decode(), "octets": octets, "body": (b"\r\n".join(lines) + b"\r\n").decode()})
resp, lines, octets = p.top(2, 1)
out["top"] = [l.decode() for l in lines]
out["dele"] = p.dele(1).decode()
out["quit"] = p.quit().decode()
print(json.dumps(out))
`

type poplibResult struct {
	Welcome string   `json:"welcome"`
	Capa    []string `json:"capa"`
	Stat    []int    `json:"stat"`
	List    []string `json:"list"`
	UIDL    []string `json:"uidl"`
	Retr    []struct {
		Resp   string `json:"resp"`
		Octets int    `json:"octets"`
		Body   string `json:"body"`
	} `json:"retr"`
	Top  []string `json:"top"`
	Dele string   `json:"dele"`
	Quit string   `json:"quit"`
}

func TestPoplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/test-deps.sh installs it)")
	}
	st := newStore(t, msg1, msg2)
	uv := uidValidity(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	locks := &Locks{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				if err := Serve(ctx, c, Options{Store: st, User: "u", Lock: locks}); err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Serve = %v", err)
				}
			})
		}
	})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cmdCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	out, err := exec.CommandContext(cmdCtx, python, "-c", poplibScript, port).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("poplib: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got poplibResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("poplib output %q: %v", out, err)
	}
	if got.Welcome != "+OK Logged in." {
		t.Errorf("welcome %q", got.Welcome)
	}
	for _, c := range []string{"TOP", "UIDL", "PIPELINING", "RESP-CODES", "IMPLEMENTATION"} {
		if !slices.Contains(got.Capa, c) {
			t.Errorf("CAPA %v lacks %s", got.Capa, c)
		}
	}
	if want := []int{2, len(msg1) + len(msg2)}; !slices.Equal(got.Stat, want) {
		t.Errorf("stat %v, want %v", got.Stat, want)
	}
	if want := []string{"1 " + size(msg1), "2 " + size(msg2)}; !slices.Equal(got.List, want) {
		t.Errorf("list %q, want %q", got.List, want)
	}
	if want := []string{"1 " + defaultUIDL(1, uv), "2 " + defaultUIDL(2, uv)}; !slices.Equal(got.UIDL, want) {
		t.Errorf("uidl %q, want %q", got.UIDL, want)
	}
	for i, m := range []string{msg1, msg2} {
		r := got.Retr[i]
		// poplib counts the octets it received after un-stuffing; they
		// are the size LIST announced.
		if r.Body != m || r.Octets != len(m) || r.Resp != "+OK "+size(m)+" octets" {
			t.Errorf("retr %d = %+v, want body %q with %d octets", i+1, r, m, len(m))
		}
	}
	if want := []string{"From: b@example.com", "Subject: two", "", ".leading dot"}; !slices.Equal(got.Top, want) {
		t.Errorf("top %q, want %q", got.Top, want)
	}
	if got.Dele != "+OK Marked to be deleted." || got.Quit != "+OK Logging out, messages deleted." {
		t.Errorf("dele %q quit %q", got.Dele, got.Quit)
	}
	if n := len(inbox(t, st)); n != 1 {
		t.Errorf("%d messages after poplib's QUIT, want 1", n)
	}
}
