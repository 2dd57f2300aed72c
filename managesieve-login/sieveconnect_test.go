package managesievelogin

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cote/proto"
	"cote/sieve/managesieve"
	"cote/sieve/script"
)

// TestSieveConnect runs Debian's sieve-connect against the whole
// ManageSieve path but the master: this login protocol in a
// login.Server (greeting, STARTTLS with certificate verification,
// AUTHENTICATE PLAIN through the fake auth), the handoff, and the
// engine of package managesieve on the handed-over descriptor, behind
// the login's TLS proxy, as the worker runs it.
func TestSieveConnect(t *testing.T) {
	bin, err := exec.LookPath("sieve-connect")
	if err != nil {
		t.Fatal("sieve-connect is not installed: run scripts/test-deps.sh (Debian package sieve-connect)")
	}
	store := script.New(t.TempDir())
	h := start(t, setup{
		options: Options{Sieve: "fileinto vacation", MaxRedirects: 4},
		worker: func(m *proto.Handoff, c net.Conn) {
			if !m.Conn.TLS {
				t.Errorf("sieve-connect logged in without TLS: %+v", m.Conn)
			}
			managesieve.Serve(context.Background(), c, managesieve.Options{
				Store: store, User: testUser, Leftover: m.Leftover, Log: testLog(t),
			})
		},
	})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	src := "require [\"fileinto\", \"vacation\"];\r\nif header :contains \"subject\" \"cote\" {\r\n  fileinto \"Cote\";\r\n}\r\n"
	local := filepath.Join(dir, "filter.sieve")
	back := filepath.Join(dir, "back.sieve")
	cmds := filepath.Join(dir, "commands")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ca, string(h.caPEM))
	write(local, src)
	write(cmds, strings.Join([]string{
		"upload " + local + " filter",
		"upload " + local + " spare",
		"activate filter",
		"list",
		"download filter " + back,
		"delete spare",
		"deactivate",
		"delete filter",
		"list",
		"quit",
	}, "\n")+"\n")
	host, port, _ := net.SplitHostPort(h.local)
	cmd := exec.Command(bin, "--server", host, "--port", port, "--nosrv", "--user", testUser,
		"--passwordfd", "0", "--tlscafile", ca, "--noclearauth", "--exec", cmds)
	cmd.Stdin = strings.NewReader(testPass + "\n")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("sieve-connect output:\n%s", out)
	if err != nil {
		t.Fatalf("sieve-connect: %v", err)
	}
	got, err := os.ReadFile(back)
	if err != nil || string(got) != src {
		t.Errorf("downloaded script %q, %v; want %q", got, err, src)
	}
	if !strings.Contains(string(out), "\"filter\" ACTIVE\n\"spare\"\n") {
		t.Errorf("sieve-connect's list does not show filter as active")
	}
	if list, err := store.List(); err != nil || len(list) != 0 {
		t.Errorf("scripts left on the server: %v, %v", list, err)
	}
}
