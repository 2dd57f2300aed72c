package itest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCoteadmForms covers what TestCoteadm leaves out, through the real
// binaries: finding the instance with --dev DIR instead of -c, the table
// and flow output formats of a command answered in the worker, and sieve
// delete (the active script is refused).
func TestCoteadmForms(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := login(t, s, "demo")
	appendMsg(t, c, "INBOX", "forms")

	// --dev DIR: base_dir from the development default of DIR.
	cmd := exec.Command(coteadmBin(t), "--dev", s.dir, "-f", "flow", "mailbox", "status", "-u", "demo", "messages unseen", "INBOX")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("coteadm --dev %s mailbox status: %v\n%s", s.dir, err, errOut.String())
	}
	if got := strings.TrimSpace(out.String()); got != "mailbox=INBOX messages=1 unseen=0" {
		t.Errorf("coteadm -f flow mailbox status = %q, want %q", got, "mailbox=INBOX messages=1 unseen=0")
	}
	if r := exec.Command(coteadmBin(t), "--dev", t.TempDir(), "who"); r.Run() == nil || r.ProcessState.ExitCode() != 1 {
		t.Errorf("coteadm --dev on a directory that is no instance: exit %d, want 1", r.ProcessState.ExitCode())
	}

	// The table format: a header line of the columns, then the rows.
	lines := strings.Split(strings.TrimSpace(s.ok(t, "mailbox", "status", "-u", "demo", "messages", "INBOX")), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "mailbox messages" || strings.Join(strings.Fields(lines[1]), " ") != "INBOX 1" {
		t.Errorf("mailbox status (table) = %q", lines)
	}

	// sieve delete: not the active script; the others go.
	for _, name := range []string{"keep", "spare"} {
		if r := s.coteadm(t, "keep;\n", "sieve", "put", "-u", "demo", name); r.code != 0 {
			t.Fatalf("sieve put %s: exit %d %s", name, r.code, r.errOut)
		}
	}
	s.ok(t, "sieve", "activate", "-u", "demo", "keep")
	s.exits(t, 1, "sieve", "delete", "-u", "demo", "keep")
	s.ok(t, "sieve", "delete", "-u", "demo", "spare")
	s.exits(t, 68, "sieve", "delete", "-u", "demo", "spare")
	if l := s.records(t, "sieve", "list", "-u", "demo"); len(l) != 1 || l[0]["script"] != "keep" || l[0]["active"] != "ACTIVE" {
		t.Errorf("sieve list after delete = %v", l)
	}
	if _, err := os.Stat(s.dir + "/home/demo/sieve/spare.sieve"); !os.IsNotExist(err) {
		t.Errorf("spare.sieve after sieve delete: %v", err)
	}
}
