package script

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"cote/sieve"
)

// DirResolver resolves includes (RFC 6609) from two directories of
// NAME.sieve files: the user's script directory for :personal and the
// administrator's sieve_global directory for :global.
type DirResolver struct {
	Personal string
	Global   string
}

// File returns the file an include names.
func (d DirResolver) File(loc sieve.Location, name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	dir := d.Personal
	if loc == sieve.Global {
		dir = d.Global
	}
	if dir == "" {
		return "", fmt.Errorf("no %s script directory: %w", loc, sieve.ErrScriptNotFound)
	}
	return filepath.Join(dir, name+Suffix), nil
}

// ResolveInclude implements sieve.IncludeResolver.
func (d DirResolver) ResolveInclude(loc sieve.Location, name string) ([]byte, error) {
	p, err := d.File(loc, name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, sieve.ErrScriptNotFound)
	}
	return b, err
}

// stamp identifies a version of a file: what the cache compares.
type stamp struct {
	path    string
	exists  bool
	size    int64
	modTime time.Time
	ino     uint64 // a file replaced by rename within one mtime tick
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{path: path}, nil
	}
	if err != nil {
		return stamp{}, err
	}
	st := stamp{path: path, exists: true, size: fi.Size(), modTime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

type cacheEntry struct {
	files  []stamp // the script and everything it includes
	script *sieve.Script
	err    error // a compile error is cached too
	used   time.Time
}

// Cache keeps compiled scripts, keyed by path and by the size and
// modification time of the script and of each script it includes, so a
// changed file is compiled again on its next use. Safe for concurrent use.
type Cache struct {
	opts     sieve.CompileOptions
	resolver DirResolver
	max      int

	mu      sync.Mutex // guards entries
	entries map[string]*cacheEntry
}

// NewCache returns a cache that compiles with opts (its Include is
// replaced by resolver) and holds at most max scripts (0: 64).
func NewCache(opts sieve.CompileOptions, resolver DirResolver, max int) *Cache {
	if max <= 0 {
		max = 64
	}
	return &Cache{opts: opts, resolver: resolver, max: max, entries: make(map[string]*cacheEntry)}
}

// Load returns the compiled script at path. A missing file is an error
// wrapping fs.ErrNotExist; a script that does not compile returns its
// *sieve.Error.
func (c *Cache) Load(path string) (*sieve.Script, error) {
	c.mu.Lock()
	e := c.entries[path]
	c.mu.Unlock()
	if e != nil && fresh(e.files) {
		c.mu.Lock()
		e.used = time.Now()
		c.mu.Unlock()
		return e.script, e.err
	}
	e, err := c.compile(path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[path] = e
	return e.script, e.err
}

func fresh(files []stamp) bool {
	for _, f := range files {
		now, err := stampOf(f.path)
		if err != nil || now.exists != f.exists || now.size != f.size || now.ino != f.ino || !now.modTime.Equal(f.modTime) {
			return false
		}
	}
	return true
}

// evict drops the least recently used entry; c.mu is held.
func (c *Cache) evict() {
	var oldest string
	var t time.Time
	for k, e := range c.entries {
		if oldest == "" || e.used.Before(t) {
			oldest, t = k, e.used
		}
	}
	delete(c.entries, oldest)
}

// recorder resolves includes and remembers the files it read.
type recorder struct {
	DirResolver
	files []stamp
}

func (r *recorder) ResolveInclude(loc sieve.Location, name string) ([]byte, error) {
	p, err := r.File(loc, name)
	if err != nil {
		return nil, err
	}
	st, err := stampOf(p)
	if err != nil {
		return nil, err
	}
	r.files = append(r.files, st)
	return r.DirResolver.ResolveInclude(loc, name)
}

func (c *Cache) compile(path string) (*cacheEntry, error) {
	st, err := stampOf(path)
	if err != nil {
		return nil, err
	}
	if !st.exists {
		return nil, fmt.Errorf("sieve script %s: %w", path, fs.ErrNotExist)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rec := &recorder{DirResolver: c.resolver}
	opts := c.opts
	opts.Include = rec
	if opts.Name == "" {
		opts.Name = filepath.Base(path)
	}
	s, cerr := sieve.Compile(src, opts)
	return &cacheEntry{files: append([]stamp{st}, rec.files...), script: s, err: cerr, used: time.Now()}, nil
}
