package master

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"cote/child"
)

// WorkerExeName is the separate worker binary's file name
// (cmd/cote-worker).
const WorkerExeName = "cote-worker"

// workerExe is the separate worker binary the master starts workers
// from: a descriptor of the file it checked, so that a package upgrade
// replacing the file on disk does not change what runs until the master
// is restarted, as the master's own binary does not change either.
type workerExe struct {
	path string   // where it was found, for argv[0] and the log
	f    *os.File // held open, numbered above any ExtraFiles slot
}

// execPath is the name to exec: the held descriptor.
func (w *workerExe) execPath() string { return "/proc/self/fd/" + strconv.Itoa(int(w.f.Fd())) }

// describe says what the held descriptor is now, for a failed start's
// log line.
func (w *workerExe) describe() string {
	fd := int(w.f.Fd())
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Sprintf("fd %d: %v", fd, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Sprintf("fd %d -> %s: %v", fd, target, err)
	}
	return fmt.Sprintf("fd %d -> %s, mode %07o, uid %d", fd, target, st.Mode, st.Uid)
}

// workerExeCandidates are where cote-worker is looked for: beside the
// cote binary (bin/ of a build tree, or a single install directory), and
// in PREFIX/lib/cote when cote is in PREFIX/sbin or PREFIX/bin, where
// `make install` puts it, as Dovecot keeps its per-process binaries in
// /usr/lib/dovecot.
func workerExeCandidates(masterExe string) []string {
	dir := filepath.Dir(masterExe)
	return []string{
		filepath.Join(dir, WorkerExeName),
		filepath.Join(filepath.Dir(dir), "lib", "cote", WorkerExeName),
	}
}

// minHeldFD is the lowest descriptor number a held worker binary gets:
// above the slots exec.Cmd.ExtraFiles fills in a child (3 and up, one per
// passed descriptor), which would overwrite it before the exec.
const minHeldFD = 100

// findWorkerExe returns the separate worker binary to start workers from,
// or nil to start them from the master's own binary. A candidate is used
// only when it is a regular executable file owned by the owner of the
// master's binary and writable by no one else, and when it reports the
// master's identity (child.Identity, computed only once a file passes
// the other checks): a cote-worker left from another build is passed
// over with a warning rather than started.
func findWorkerExe(masterExe string, identity func() string) (*workerExe, []string) {
	var notes []string
	mst, err := os.Stat(masterExe)
	if err != nil {
		return nil, []string{fmt.Sprintf("cannot stat own binary %s: %v", masterExe, err)}
	}
	owner := mst.Sys().(*syscall.Stat_t).Uid
	for _, path := range workerExeCandidates(masterExe) {
		w, err := openWorkerExe(path, owner)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = checkIdentity(w, identity())
			if err != nil {
				w.f.Close()
			}
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("not using %s: %v", path, err))
			continue
		}
		return w, notes
	}
	return nil, notes
}

// openWorkerExe opens path and checks the opened file.
func openWorkerExe(path string, owner uint32) (*workerExe, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, minHeldFD)
	unix.Close(fd)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	f := os.NewFile(uintptr(high), path)
	var st unix.Stat_t
	if err := unix.Fstat(high, &st); err != nil {
		f.Close()
		return nil, err
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		err = errors.New("not a regular file")
	case st.Mode&0o111 == 0:
		err = errors.New("not executable")
	case st.Uid != owner:
		err = fmt.Errorf("owned by uid %d, the cote binary by uid %d", st.Uid, owner)
	case st.Mode&0o022 != 0:
		err = fmt.Errorf("writable by group or others (mode %04o)", st.Mode&0o7777)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &workerExe{path: path, f: f}, nil
}

// checkIdentity runs the held binary with child.IdentityFlag and compares
// what it prints with identity.
func checkIdentity(w *workerExe, identity string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.execPath(), child.IdentityFlag)
	cmd.Args[0] = w.path
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s %s: %w", w.path, child.IdentityFlag, err)
	}
	if got := string(bytes.TrimSpace(out)); got != identity {
		return errors.New("built from other source than this cote (its identity differs; rebuild both, e.g. make build)")
	}
	return nil
}

// useWorkerExe looks for the separate worker binary and logs what it
// found.
func (m *Master) useWorkerExe() {
	w, notes := findWorkerExe(m.exe, sync.OnceValue(child.Identity))
	for _, n := range notes {
		m.log.Warn(n + "; workers run from " + m.exe)
	}
	if w != nil {
		m.workerExe = w
		m.log.Info("workers run from " + w.path)
	}
}
