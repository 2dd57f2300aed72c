package sieve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxDuplicateEntries bounds the file; the entries expiring soonest go
// first when it is full.
const maxDuplicateEntries = 10000

// FileDuplicateStore is a DuplicateStore in one small text file in the
// user's home (cote uses ~/.cote.sieve-dupes): one "EXPIRY ID" line per
// identifier, EXPIRY in Unix seconds. Writers take an flock on the file
// beside it ("….lock") and replace the file atomically, so that deliveries
// in several processes may share it.
type FileDuplicateStore struct {
	path string
	now  func() time.Time

	mu sync.Mutex // guards the writes of this process
}

// NewFileDuplicateStore returns a store kept at path. now may be nil for
// time.Now.
func NewFileDuplicateStore(path string, now func() time.Time) *FileDuplicateStore {
	if now == nil {
		now = time.Now
	}
	return &FileDuplicateStore{path: path, now: now}
}

func (s *FileDuplicateStore) load() (map[string]int64, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := make(map[string]int64)
	now := s.now().Unix()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		exp, id, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		t, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || t <= now {
			continue
		}
		if t > m[id] {
			m[id] = t
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	return m, nil
}

// Seen reports whether id is remembered and unexpired.
func (s *FileDuplicateStore) Seen(ctx context.Context, id string) (bool, error) {
	m, err := s.load()
	if err != nil {
		return false, err
	}
	_, ok := m[id]
	return ok, nil
}

// Mark remembers id until expires.
func (s *FileDuplicateStore) Mark(ctx context.Context, id string, expires time.Time) error {
	if strings.ContainsAny(id, " \r\n") {
		return fmt.Errorf("duplicate id %q contains white space", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lock, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", s.path, err)
	}
	m, err := s.load()
	if err != nil {
		return err
	}
	m[id] = expires.Unix()
	type entry struct {
		id  string
		exp int64
	}
	entries := make([]entry, 0, len(m))
	for k, v := range m {
		entries = append(entries, entry{k, v})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].exp != entries[j].exp {
			return entries[i].exp > entries[j].exp
		}
		return entries[i].id < entries[j].id
	})
	if len(entries) > maxDuplicateEntries {
		entries = entries[:maxDuplicateEntries]
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %s\n", e.exp, e.id)
	}
	return writeFileAtomic(s.path, []byte(b.String()), 0o600)
}

// writeFileAtomic writes a temporary file beside path, syncs it and
// renames it over path, then syncs the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
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
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
