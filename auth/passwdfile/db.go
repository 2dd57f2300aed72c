package passwdfile

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"cote/auth/varexpand"
)

// Args are a passwd-file driver's arguments:
// "[scheme=S] [username_format=F] PATH".
type Args struct {
	Scheme         string // default scheme for passwords without {SCHEME}; CRYPT
	UsernameFormat string // lookup key; %u
	Path           string // may contain variables such as %d
}

// ParseArgs parses a driver argument string.
func ParseArgs(s string) (Args, error) {
	a := Args{Scheme: "CRYPT", UsernameFormat: "%u"}
	for w := range strings.FieldsSeq(s) {
		switch k, v, ok := strings.Cut(w, "="); {
		case ok && k == "scheme":
			a.Scheme = strings.ToUpper(v)
		case ok && k == "username_format":
			a.UsernameFormat = v
		case a.Path == "" && !strings.Contains(k, "=") && !ok:
			a.Path = w
		default:
			return Args{}, fmt.Errorf("unknown passwd-file argument %q", w)
		}
	}
	if a.Path == "" {
		return Args{}, errors.New("passwd-file: no file path in args")
	}
	if err := varexpand.Check(a.UsernameFormat); err != nil {
		return Args{}, fmt.Errorf("passwd-file username_format: %w", err)
	}
	if err := varexpand.Check(a.Path); err != nil {
		return Args{}, fmt.Errorf("passwd-file path: %w", err)
	}
	return a, nil
}

// DB is a passwd-file source: one file, or one per expanded path.
type DB struct {
	Args Args
	log  *slog.Logger

	mu    sync.Mutex // guards files
	files map[string]*File
}

// Open checks the arguments and, for a path without variables, that the
// file can be read now.
func Open(args string, log *slog.Logger) (*DB, error) {
	a, err := ParseArgs(args)
	if err != nil {
		return nil, err
	}
	db := &DB{Args: a, log: log, files: map[string]*File{}}
	if !strings.Contains(a.Path, "%") {
		if _, err := db.file(a.Path).Users(); err != nil {
			return nil, err
		}
	}
	return db, nil
}

func (db *DB) file(path string) *File {
	db.mu.Lock()
	defer db.mu.Unlock()
	f, ok := db.files[path]
	if !ok {
		f = &File{Path: path, Log: db.log}
		db.files[path] = f
	}
	return f
}

// Lookup finds the user named by v.User after username_format.
func (db *DB) Lookup(v varexpand.Values) (Entry, error) {
	key, err := varexpand.Expand(db.Args.UsernameFormat, v)
	if err != nil {
		return Entry{}, err
	}
	path, err := varexpand.Expand(db.Args.Path, v)
	if err != nil {
		return Entry{}, err
	}
	if strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") {
		// A user name must not walk the path out of its directory.
		return Entry{}, ErrNotFound
	}
	return db.file(path).Lookup(key)
}

// Users lists every user; only for a path without variables.
func (db *DB) Users() ([]string, error) {
	if strings.Contains(db.Args.Path, "%") {
		return nil, errors.New("passwd-file: cannot list users of a path with variables")
	}
	return db.file(db.Args.Path).Users()
}
