package itest

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestCoteadmAdminGroup runs the real coteadm as an unprivileged user
// against a master with admin_group set: a member of the group (as a
// supplementary group) is let in, anyone else is refused by the socket's
// mode and the peer-credential check.
func TestCoteadmAdminGroup(t *testing.T) {
	requireRoot(t, "coteadm as other users")
	const adminGID, uid = 50600, 50601
	s := startServer(t, serverOpts{extra: "admin_group = #50600"})
	run := func(groups []uint32) (string, int) {
		t.Helper()
		cmd := exec.Command(coteadmBin(t), "-c", s.conf, "who")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: groups}}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("coteadm as uid %d: %v", uid, err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
	if out, code := run([]uint32{adminGID}); code != 0 {
		t.Errorf("coteadm who as a member of admin_group: exit %d\n%s", code, out)
	}
	if out, code := run(nil); code == 0 || !strings.Contains(out, "admin socket") {
		t.Errorf("coteadm who as a non-member: exit %d, want a refusal\n%s", code, out)
	}
}
