package pam

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cote/auth/passdb"
	"cote/auth/varexpand"
)

// The PAM tests run through real libpam with pam_wrapper (LD_PRELOAD
// libpam_wrapper.so reads service files from PAM_WRAPPER_SERVICE_DIR)
// and its pam_matrix module, which checks passwords against a test
// file. The preload must be there when the process starts, so the test
// re-executes its own binary with the environment set.

const childEnv = "COTE_PAM_TEST_DIR"

var libDirs = []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"}

// pamWrapper finds libpam_wrapper.so and pam_matrix.so.
func pamWrapper(t *testing.T) (lib, matrix string) {
	for _, d := range libDirs {
		l := filepath.Join(d, "libpam_wrapper.so")
		m := filepath.Join(d, "pam_wrapper", "pam_matrix.so")
		if _, err := os.Stat(l); err != nil {
			continue
		}
		if _, err := os.Stat(m); err != nil {
			continue
		}
		return l, m
	}
	t.Fatal("libpam_wrapper.so and pam_matrix.so not found: install Debian's libpam-wrapper (scripts/test-deps.sh does)")
	return "", ""
}

func TestPAMWrapper(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return // this process is the child; TestPAMChild runs here
	}
	lib, matrix := pamWrapper(t)
	dir := t.TempDir()
	svc := filepath.Join(dir, "services")
	if err := os.Mkdir(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "passdb")
	users := "alice:wonderland:cote-test\nbob:builder:cote-test\nimapuser:imappass:imap\nmallory:secret:othersvc\n"
	if err := os.WriteFile(db, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	stack := func(extra ...string) string {
		var b strings.Builder
		for _, kind := range []string{"auth", "account", "session"} {
			fmt.Fprintf(&b, "%s required %s passdb=%s\n", kind, matrix, db)
			if kind == "auth" {
				for _, e := range extra {
					fmt.Fprintf(&b, "auth required %s\n", e)
				}
			}
		}
		return b.String()
	}
	services := map[string]string{
		"cote-test": stack(),
		"imap":      stack(),
		// A second module that asks for a password again (as an
		// OTP module would).
		"cote-twice": stack(matrix + " passdb=" + db),
		// pam_chatty writes PAM error messages, then succeeds.
		"cote-chatty": strings.Replace(stack(), "auth required", "auth required "+filepath.Join(filepath.Dir(matrix), "pam_chatty.so")+" num_lines=1 error\nauth required", 1),
	}
	for name, content := range services {
		if err := os.WriteFile(filepath.Join(svc, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPAMChild$", "-test.v")
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+lib, "PAM_WRAPPER=1", "PAM_WRAPPER_SERVICE_DIR="+svc, childEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPAMChild") {
		t.Fatalf("PAM child test failed (%v):\n%s", err, out)
	}
}

// TestPAMChild runs in the re-executed child with pam_wrapper loaded.
func TestPAMChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		return // only meaningful under TestPAMWrapper
	}
	ctx := context.Background()
	open := func(args string) *Passdb {
		p, err := Open(args, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", args, err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	tests := []struct {
		name, args, user, service, pass string
		want                            string // ok, mismatch, notfound, temp
		reason                          string
	}{
		{"good", "cote-test", "alice", "imap", "wonderland", "ok", ""},
		{"wrong", "cote-test", "alice", "imap", "nope", "mismatch", ""},
		// pam_matrix answers PAM_AUTH_ERR for an unknown user.
		{"unknown user", "cote-test", "nobody", "imap", "x", "mismatch", ""},
		{"session and setcred", "session=yes setcred=yes cote-test", "bob", "pop3", "builder", "ok", ""},
		{"service from protocol", "%s", "imapuser", "imap", "imappass", "ok", ""},
		{"star is the protocol", "*", "imapuser", "imap", "imappass", "ok", ""},
		{"account refused for the service", "%Ls", "mallory", "imap", "secret", "mismatch", ""},
		{"failure message shown", "failure_show_msg=yes cote-chatty", "alice", "imap", "nope", "mismatch", "*"},
		{"failure message hidden", "cote-chatty", "alice", "imap", "nope", "mismatch", ""},
		{"asks twice", "cote-twice", "alice", "imap", "wonderland", "temp", ""},
		{"missing service file", "no-such-service", "alice", "imap", "wonderland", "temp", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := open(tt.args)
			r, err := p.VerifyPlain(ctx, varexpand.Values{User: tt.user, Service: tt.service, RemoteIP: "192.0.2.7"}, tt.pass)
			got := "temp"
			var rf *passdb.Refusal
			switch {
			case err == nil:
				got = "ok"
			case errors.Is(err, passdb.ErrNotFound):
				got = "notfound"
			case errors.As(err, &rf):
				got = "mismatch"
			}
			if got != tt.want {
				t.Fatalf("VerifyPlain(%s, %s) = %+v, %v: %s, want %s", tt.args, tt.user, r, err, got, tt.want)
			}
			if tt.reason == "*" && (rf == nil || rf.Reason == "") {
				t.Errorf("failure_show_msg: no PAM message in %v", err)
			}
			if tt.reason == "" && rf != nil && rf.Reason != "" {
				t.Errorf("PAM message %q shown without failure_show_msg", rf.Reason)
			}
		})
	}
	t.Run("pool", func(t *testing.T) {
		// Two threads, each retired after one transaction: twenty
		// parallel logins all get their right answer.
		p := open("workers=2 max_requests=1 cote-test")
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				pass := "wonderland"
				if i%2 == 1 {
					pass = "wrong"
				}
				_, err := p.VerifyPlain(ctx, varexpand.Values{User: "alice", Service: "imap"}, pass)
				if (err == nil) != (i%2 == 0) {
					t.Errorf("login %d with %q = %v", i, pass, err)
				}
			})
		}
		wg.Wait()
	})
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		in   string
		want Args
		err  bool
	}{
		{"", Args{Service: "cote", MaxRequests: 100, Workers: 30}, false},
		{"session=yes setcred=yes failure_show_msg=yes max_requests=5 dovecot", Args{Service: "dovecot", Session: true, SetCred: true, FailureShowMsg: true, MaxRequests: 5, Workers: 30}, false},
		{"*", Args{Service: "%s", MaxRequests: 100, Workers: 30}, false},
		{"cache_key=%u%s %Ls", Args{Service: "%Ls", MaxRequests: 100, Workers: 30}, false},
		{"session=maybe", Args{}, true},
		{"blocking=yes", Args{}, true},
		{"max_requests=-1", Args{}, true},
		{"a b", Args{}, true},
		{"%q", Args{}, true},
	}
	for _, tt := range tests {
		got, err := ParseArgs(tt.in)
		if (err != nil) != tt.err || !tt.err && got != tt.want {
			t.Errorf("ParseArgs(%q) = %+v, %v, want %+v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestLookupNeedsPassword(t *testing.T) {
	p, _ := Open("", nil)
	defer p.Close()
	if _, err := p.Lookup(context.Background(), varexpand.Values{User: "x"}); !errors.Is(err, passdb.ErrNoLookup) {
		t.Errorf("Lookup = %v, want ErrNoLookup", err)
	}
}
