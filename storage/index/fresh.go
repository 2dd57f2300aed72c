package index

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// freshImage is a new, empty index exactly as open makes one from schema
// (in WAL mode, at schemaVersion, with the usage row; checkpointed and
// closed). A new user's first worker writes these bytes instead of
// running the schema: parsing and running its statements, the switch to
// WAL and their commit were a fifth of the CPU that worker spent from
// exec to its first delivery. TestFreshImage makes the index from schema
// and fails when the two differ; `go test ./storage/index -run
// TestFreshImage -update` writes the file again after a change of schema
// (or of SQLite's file format).
//
//go:embed fresh.db
var freshImage []byte

// createFromImage makes the index file at path from freshImage, if no
// file is there. The image is written to a temporary name and linked
// into place, so that path never names a partial file. Unless sync is
// "OFF", the image is on disk before it is linked: a commit made later
// to its WAL must not outlive pages of the file it updates. It reports
// false, with nothing made, when a file is there (made meanwhile by
// another process, and then left alone) or the file system takes no
// hard link (the caller then has SQLite make the file).
func createFromImage(path, sync string) (bool, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new"+strconv.Itoa(os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	_, err = f.Write(freshImage)
	if err == nil && sync != "OFF" {
		err = unix.Fdatasync(int(f.Fd()))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("write new index: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) {
			return false, nil // EPERM, ENOTSUP: no hard links here (link(2))
		}
		return false, err
	}
	return true, nil
}
