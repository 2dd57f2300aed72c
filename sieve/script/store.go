// Package script keeps a user's Sieve scripts on disk in the layout
// Pigeonhole's file storage uses, so that ManageSieve (RFC 5804) and the
// delivery share them and an existing Dovecot home keeps working:
//
//	~/sieve/NAME.sieve   one file per script
//	~/.cote.sieve        a symlink to the active script, "sieve/NAME.sieve"
//
// Dovecot's active link is ~/.dovecot.sieve; a Store with ActivePath set
// to that name manages a Dovecot home unchanged.
package script

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Suffix is the file name suffix of a stored script.
const Suffix = ".sieve"

// maxNameBytes keeps NAME.sieve within a 255-byte file name.
const maxNameBytes = 255 - len(Suffix)

var (
	ErrNotFound    = errors.New("script does not exist")
	ErrExists      = errors.New("script already exists")
	ErrActive      = errors.New("script is active")
	ErrInvalidName = errors.New("invalid script name")
	// ErrQuota is wrapped by every *QuotaError.
	ErrQuota = errors.New("over script quota")
)

// QuotaError says which limit a Put would exceed; ManageSieve maps Limit
// to its QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE and QUOTA response codes
// (RFC 5804 section 1.3).
type QuotaError struct {
	Limit string // "maxscripts", "maxsize" or "maxstorage"
	Msg   string
}

func (e *QuotaError) Error() string { return e.Msg }
func (e *QuotaError) Unwrap() error { return ErrQuota }

// Info describes a stored script.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
	Active  bool
}

// Store is one user's scripts. Its methods are safe for concurrent use;
// changes also take an flock on Dir/.lock, so that another process (the
// admin tool) may share the directory.
type Store struct {
	Dir        string // where scripts live, ~/sieve
	ActivePath string // the active-script symlink, ~/.cote.sieve
	MaxScripts int    // 0: unlimited
	MaxSize    int64  // bytes per script; 0: unlimited
	MaxStorage int64  // bytes of all scripts; 0: unlimited

	mu sync.Mutex // serialises this process's changes
}

// New returns the Store of the user whose home is home, with cote's
// names and no quota.
func New(home string) *Store {
	return &Store{Dir: filepath.Join(home, "sieve"), ActivePath: filepath.Join(home, ".cote.sieve")}
}

// ValidName checks a script name: RFC 5804 section 1.6 (UTF-8 without
// control characters or line separators), and what a file name needs
// (no "/", no leading ".", at most 249 bytes).
func ValidName(name string) error {
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) ||
		strings.HasPrefix(name, ".") || strings.Contains(name, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for _, r := range name {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
	}
	return nil
}

// Path returns the file of script name.
func (s *Store) Path(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, name+Suffix), nil
}

// lock takes the in-process mutex and the directory's flock.
func (s *Store) lock() (func(), error) {
	s.mu.Lock()
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		s.mu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", s.Dir, err)
	}
	return func() { f.Close(); s.mu.Unlock() }, nil
}

// List returns the scripts, sorted by name.
func (s *Store) List() ([]Info, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	active, err := s.Active()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), Suffix)
		if !ok || !e.Type().IsRegular() || ValidName(name) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime(), Active: name == active})
	}
	return out, nil
}

// Get returns a script's source.
func (s *Store) Get(name string) ([]byte, error) {
	p, err := s.Path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return b, err
}

// HaveSpace reports whether a script of size bytes could be stored as
// name (RFC 5804 section 2.3).
func (s *Store) HaveSpace(name string, size int64) error {
	if err := ValidName(name); err != nil {
		return err
	}
	list, err := s.List()
	if err != nil {
		return err
	}
	return s.checkQuota(list, name, size)
}

func (s *Store) checkQuota(list []Info, name string, size int64) error {
	if s.MaxSize > 0 && size > s.MaxSize {
		return &QuotaError{Limit: "maxsize", Msg: fmt.Sprintf("script is larger than %d bytes", s.MaxSize)}
	}
	count, total := 0, size
	for _, i := range list {
		if i.Name == name {
			continue
		}
		count++
		total += i.Size
	}
	if s.MaxScripts > 0 && count+1 > s.MaxScripts {
		return &QuotaError{Limit: "maxscripts", Msg: fmt.Sprintf("more than %d scripts", s.MaxScripts)}
	}
	if s.MaxStorage > 0 && total > s.MaxStorage {
		return &QuotaError{Limit: "maxstorage", Msg: fmt.Sprintf("scripts would take more than %d bytes", s.MaxStorage)}
	}
	return nil
}

// Put stores a script, replacing one of the same name, atomically and
// durably. Checking the script's syntax is the caller's business.
func (s *Store) Put(name string, data []byte) error {
	p, err := s.Path(name)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	list, err := s.List()
	if err != nil {
		return err
	}
	if err := s.checkQuota(list, name, int64(len(data))); err != nil {
		return err
	}
	return writeAtomic(p, data)
}

// Delete removes a script that is not active (RFC 5804 section 2.10).
func (s *Store) Delete(name string) error {
	p, err := s.Path(name)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	active, err := s.Active()
	if err != nil {
		return err
	}
	if active == name {
		return fmt.Errorf("%w: %q", ErrActive, name)
	}
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	} else if err != nil {
		return err
	}
	return syncDir(s.Dir)
}

// Rename renames a script (RFC 5804 section 2.11.1); an active script
// stays active under its new name, and the active link never dangles.
func (s *Store) Rename(oldName, newName string) error {
	oldPath, err := s.Path(oldName)
	if err != nil {
		return err
	}
	newPath, err := s.Path(newName)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Link(oldPath, newPath); err != nil {
		switch {
		case errors.Is(err, fs.ErrExist):
			return fmt.Errorf("%w: %q", ErrExists, newName)
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: %q", ErrNotFound, oldName)
		}
		return err
	}
	active, err := s.Active()
	if err != nil {
		return err
	}
	if active == oldName {
		if err := s.link(newName); err != nil {
			return err
		}
	}
	if err := os.Remove(oldPath); err != nil {
		return err
	}
	return syncDir(s.Dir)
}

// Active returns the name of the active script, or "" when there is
// none or the active path is not a link into Dir.
func (s *Store) Active() (string, error) {
	target, err := os.Readlink(s.ActivePath)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.EINVAL) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(s.ActivePath), target)
	}
	dir, file := filepath.Split(filepath.Clean(target))
	name, ok := strings.CutSuffix(file, Suffix)
	if !ok || filepath.Clean(dir) != filepath.Clean(s.Dir) || ValidName(name) != nil {
		return "", nil
	}
	return name, nil
}

// SetActive makes name the active script by swapping the symlink
// atomically; "" deactivates (RFC 5804 section 2.8). A regular file at
// the active path (a script written by hand) is first moved into Dir as
// "cote-orig", as Pigeonhole does, so nothing is lost.
func (s *Store) SetActive(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if fi, err := os.Lstat(s.ActivePath); err == nil && fi.Mode().IsRegular() {
		if err := s.migrate(); err != nil {
			return err
		}
	}
	if name == "" {
		if err := os.Remove(s.ActivePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return syncDir(filepath.Dir(s.ActivePath))
	}
	p, err := s.Path(name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	} else if err != nil {
		return err
	}
	return s.link(name)
}

// link points the active symlink at name: a new link beside it, renamed
// over it.
func (s *Store) link(name string) error {
	dir := filepath.Dir(s.ActivePath)
	target, err := filepath.Rel(dir, filepath.Join(s.Dir, name+Suffix))
	if err != nil {
		target = filepath.Join(s.Dir, name+Suffix)
	}
	tmp := fmt.Sprintf("%s.tmp%d", s.ActivePath, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.ActivePath); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func (s *Store) migrate() error {
	name := "cote-orig"
	for i := 1; ; i++ {
		if _, err := os.Lstat(filepath.Join(s.Dir, name+Suffix)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("cote-orig-%d", i)
	}
	if err := os.Rename(s.ActivePath, filepath.Join(s.Dir, name+Suffix)); err != nil {
		return fmt.Errorf("move hand-written %s into %s: %w", s.ActivePath, s.Dir, err)
	}
	return syncDir(s.Dir)
}

// writeAtomic writes a temporary file in path's directory, syncs it,
// renames it over path and syncs the directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*"+Suffix+"~")
	if err != nil {
		return err
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	done = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
