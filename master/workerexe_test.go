package master

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"cote/child"
	"cote/proto"
)

// installFake copies the cote binary under test to dir/name, made
// executable by its owner only when mode says so.
func installFake(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(testExe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// identityOf runs the binary that w holds with child.IdentityFlag.
func identityOf(t *testing.T, w *workerExe) string {
	t.Helper()
	out, err := exec.Command(w.execPath(), child.IdentityFlag).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestFindWorkerExe: the master starts workers from a cote-worker beside
// its binary or in ../lib/cote only when the file is its owner's alone
// and reports the master's identity; otherwise it says why and uses its
// own binary. The file it checked is the one it keeps executing, even
// when another is put in its place.
func TestFindWorkerExe(t *testing.T) {
	id := child.Identity()
	ids := func() string { return id }
	root := t.TempDir()
	os.Chmod(root, 0o755)
	sbin := filepath.Join(root, "sbin")
	master := installFake(t, sbin, "cote", 0o755)

	if w, notes := findWorkerExe(master, ids); w != nil || len(notes) != 0 {
		t.Fatalf("without cote-worker: got %v, notes %q; want none", w, notes)
	}

	// The cote binary under test answers -identity like cote-worker,
	// with the identity of its build, which this test shares.
	lib := installFake(t, filepath.Join(root, "lib", "cote"), WorkerExeName, 0o755)
	w, notes := findWorkerExe(master, ids)
	if w == nil || w.path != lib || len(notes) != 0 {
		t.Fatalf("with %s: got %+v, notes %q; want it used", lib, w, notes)
	}
	w.f.Close()

	// Beside cote comes first; group-writable is refused there, and the
	// search goes on to lib/cote.
	beside := installFake(t, sbin, WorkerExeName, 0o775)
	w, notes = findWorkerExe(master, ids)
	if w == nil || w.path != lib || len(notes) != 1 || !strings.Contains(notes[0], "writable by group") {
		t.Fatalf("group-writable %s: got %+v, notes %q; want lib/cote with a note", beside, w, notes)
	}
	w.f.Close()
	os.Chmod(beside, 0o755)

	// Another build's identity: passed over, both of them.
	w, notes = findWorkerExe(master, func() string { return "another build" })
	if w != nil || len(notes) != 2 || !strings.Contains(notes[0], "identity differs") {
		t.Fatalf("other identity: got %+v, notes %q; want none used, two notes", w, notes)
	}

	w, _ = findWorkerExe(master, ids)
	if w == nil || w.path != beside {
		t.Fatalf("got %+v, want %s", w, beside)
	}
	defer w.f.Close()
	if int(w.f.Fd()) < minHeldFD {
		t.Errorf("held descriptor %d is below %d, where ExtraFiles may land", w.f.Fd(), minHeldFD)
	}
	// A package upgrade renames a new file over the old one: what the
	// master executes stays the file it checked.
	repl := filepath.Join(sbin, "new")
	if err := os.WriteFile(repl, []byte("#!/bin/sh\necho replaced\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repl, beside); err != nil {
		t.Fatal(err)
	}
	if got := identityOf(t, w); got != id {
		t.Errorf("after the file was replaced, the held binary says %q, want %q", got, id)
	}
}

// TestWorkerStartFallsBack: when executing the held cote-worker fails
// (here the held descriptor is /dev/null, which execve refuses with
// EACCES, as one cold start under load once did with the real file), the
// worker starts from cote: the login gets its worker and answers, and the
// log says what the held descriptor was.
func TestWorkerStartFallsBack(t *testing.T) {
	m, dir := startMaster(t)
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, minHeldFD)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	bad := &workerExe{path: "/dev/null", f: os.NewFile(uintptr(high), "/dev/null")}
	t.Cleanup(func() { bad.f.Close() })
	onLoop(m, func(m *Master) { m.workerExe = bad })

	a := dialAuth(t, dir)
	me := newFakeLogin(t, m, os.Getpid())
	a.login(t, 1, "demo", "demo")
	h := &proto.Handoff{Seq: 1, AuthPID: a.spid, AuthID: 1, Cookie: a.cookie, Tag: "t1",
		Conn: proto.ConnInfo{Protocol: "imap", LocalAddr: "127.0.0.1:143", RemoteAddr: "127.0.0.1:40000", Secured: true}}
	reply, client := me.handoff(t, m, h)
	workerAnswered(t, reply, client, "t1")
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", reply.WorkerPID))
	if err != nil || exe != testExe {
		t.Errorf("worker runs %q (%v), want %s", exe, err, testExe)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "cote.log"))
	want := fmt.Sprintf("held=\"fd %d -> /dev/null, mode 0020666", high)
	if !strings.Contains(string(log), "cannot start a worker from /dev/null; starting it from "+testExe) ||
		!strings.Contains(string(log), want) {
		t.Errorf("log lacks the fallback warning with %s:\n%s", want, log)
	}
}
