package itest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runSieveConnect runs Debian's sieve-connect against the ManageSieve
// listener as demo, over STARTTLS with the server's certificate as the
// CA, with the password on descriptor 3.
func runSieveConnect(t *testing.T, s *server, args ...string) (string, error) {
	t.Helper()
	prog := requireProgram(t, "sieve-connect", "sieve-connect")
	host, port, _ := strings.Cut(s.addr("sieve"), ":")
	r, w, err := os.Pipe()
	must(t, err)
	defer r.Close()
	_, err = w.WriteString("demo\n")
	must(t, err)
	w.Close()
	cmd := exec.Command(prog, append([]string{"--server", host, "--port", port, "--user", "demo", "--passwordfd", "3",
		"--tlscafile", filepath.Join(s.dir, "ssl", "cert.pem"), "--tlshostname", "localhost"}, args...)...)
	cmd.ExtraFiles = []*os.File{r}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sieveConnect(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, err := runSieveConnect(t, s, args...)
	if err != nil {
		t.Fatalf("sieve-connect %q: %v\n%s", args, err, out)
	}
	return out
}

// TestSieveConnect manages scripts with sieve-connect (RFC 5804 over
// STARTTLS): upload, list, check, activate, download; then an LMTP
// delivery is filed by the new script, which includes a :global one.
func TestSieveConnect(t *testing.T) {
	global, err := os.MkdirTemp("", "cote-sieve-global-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(global) })
	must(t, os.Chmod(global, 0o755))
	must(t, os.WriteFile(filepath.Join(global, "lists.sieve"), []byte("require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"[list]\" { fileinto :create \"Lists\"; }\n"), 0o644))
	s := startServer(t, serverOpts{extra: "plugin {\n  sieve_global = " + global + "\n}\n"})

	local := filepath.Join(t.TempDir(), "sort.sieve")
	script := "require [\"fileinto\", \"mailbox\", \"include\"];\r\ninclude :global \"lists\";\r\nif header :contains \"subject\" \"filed\" {\r\n  fileinto :create \"Filed\";\r\n}\r\n"
	must(t, os.WriteFile(local, []byte(script), 0o644))
	sieveConnect(t, s, "--checkscript", "--localsieve", local)
	sieveConnect(t, s, "--upload", "--localsieve", local, "--remotesieve", "sort")
	sieveConnect(t, s, "--activate", "--remotesieve", "sort")
	if out := sieveConnect(t, s, "--list"); !strings.Contains(out, `"sort" ACTIVE`) {
		t.Errorf("--list = %q, want sort active", out)
	}
	back := filepath.Join(t.TempDir(), "back.sieve")
	sieveConnect(t, s, "--download", "--remotesieve", "sort", "--localsieve", back)
	if b, err := os.ReadFile(back); err != nil || string(b) != script {
		t.Errorf("downloaded %q, %v; want %q", b, err, script)
	}

	deliverOK(t, s, "please get filed")
	deliverOK(t, s, "[list] news")
	deliverOK(t, s, "plain mail")
	waitFor(t, "the script's mailboxes", func() bool {
		return strings.Join(inboxSubjects(t, s, "demo", "Filed"), "|") == "please get filed" &&
			strings.Join(inboxSubjects(t, s, "demo", "Lists"), "|") == "[list] news" &&
			strings.Join(inboxSubjects(t, s, "demo", "INBOX"), "|") == "plain mail"
	})

	// A script whose :global include does not exist is refused: the
	// user cannot upload the missing one.
	bad := filepath.Join(t.TempDir(), "bad.sieve")
	must(t, os.WriteFile(bad, []byte("require \"include\";\r\ninclude :global \"nothere\";\r\n"), 0o644))
	out := sieveConnectFail(t, s, "--upload", "--localsieve", bad, "--remotesieve", "bad")
	if !strings.Contains(out, "nothere") {
		t.Errorf("upload of a script with a missing :global include: %q", out)
	}
}

// sieveConnectFail is sieveConnect for a command that must fail; it
// returns the output.
func sieveConnectFail(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, err := runSieveConnect(t, s, args...)
	if err == nil {
		t.Fatalf("sieve-connect %q succeeded, want a failure\n%s", args, out)
	}
	return out
}
