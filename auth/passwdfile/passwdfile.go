// Package passwdfile reads Dovecot's passwd-file format
// (src/auth/db-passwd-file.c), shared by the passwd-file passdb and userdb:
//
//	user:password:uid:gid:gecos:home:shell:extra_fields
//
// Empty lines and lines starting with '#' or ':' are skipped. Extra fields
// are space-separated; names with a "userdb_" prefix are userdb fields, the
// rest passdb fields. A file is re-read when its mtime or size changes; a
// bad line is logged with file:line and skipped, a duplicate user is logged
// and the later line ignored.
package passwdfile

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned for a user the file does not have.
var ErrNotFound = errors.New("user not found")

// Entry is one user line.
type Entry struct {
	User     string
	Password string
	UID, GID uint32 // 0 when the line has no uid/gid fields
	Gecos    string
	Home     string
	Shell    string
	// PassFields are the passdb extra fields ("key=value" or "key").
	PassFields []string
	// UserFields are the userdb fields with the "userdb_" prefix removed.
	UserFields []string
}

// ParseLine parses one line. skip is true for lines that carry no user
// (empty, comments, lines starting with ':').
func ParseLine(line string) (e Entry, skip bool, err error) {
	if line == "" || line[0] == '#' || line[0] == ':' {
		return Entry{}, true, nil
	}
	f := strings.Split(line, ":")
	e.User = f[0]
	if len(f) > 1 {
		e.Password = f[1]
	}
	if len(f) > 2 && f[2] != "" {
		if e.UID, err = parseID(f[2], true); err != nil {
			return Entry{}, false, err
		}
	}
	if len(f) > 3 && f[3] != "" {
		if e.GID, err = parseID(f[3], false); err != nil {
			return Entry{}, false, err
		}
	}
	if len(f) > 4 {
		e.Gecos = f[4]
	}
	if len(f) > 5 {
		e.Home = f[5]
	}
	if len(f) > 6 {
		e.Shell = f[6]
	}
	if len(f) > 7 {
		rest := f[7:]
		var extra string
		if rest[0] == "" && len(rest) > 1 {
			// Old format: an empty field 8, then the mail location.
			extra = "userdb_mail=" + strings.Join(rest[1:], ":")
		} else {
			extra = strings.Join(rest, ":")
		}
		for fld := range strings.FieldsSeq(extra) {
			if u, ok := strings.CutPrefix(fld, "userdb_"); ok {
				if u == "" || u[0] == '=' {
					return Entry{}, false, fmt.Errorf("empty userdb field name in %q", fld)
				}
				e.UserFields = append(e.UserFields, u)
			} else {
				if fld[0] == '=' {
					return Entry{}, false, fmt.Errorf("empty field name in %q", fld)
				}
				e.PassFields = append(e.PassFields, fld)
			}
		}
	}
	return e, false, nil
}

// parseID reads a numeric uid/gid, or resolves a name with os/user.
func parseID(s string, isUID bool) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	var id string
	if isUID {
		u, err := user.Lookup(s)
		if err != nil {
			return 0, fmt.Errorf("invalid uid %q: %w", s, err)
		}
		id = u.Uid
	} else {
		g, err := user.LookupGroup(s)
		if err != nil {
			return 0, fmt.Errorf("invalid gid %q: %w", s, err)
		}
		id = g.Gid
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid id %q for %q", id, s)
	}
	return uint32(n), nil
}

// File is one passwd-file, loaded on first use and re-read when it
// changes.
type File struct {
	Path string
	Log  *slog.Logger

	mu     sync.Mutex // guards the fields below
	loaded bool
	mtime  time.Time
	size   int64
	users  map[string]*Entry
	order  []string
}

// refresh re-reads the file when its mtime or size changed.
func (f *File) refresh() error {
	st, err := os.Stat(f.Path)
	if err != nil {
		return fmt.Errorf("passwd-file %s: %w", f.Path, err)
	}
	if f.loaded && st.ModTime().Equal(f.mtime) && st.Size() == f.size {
		return nil
	}
	users, order, err := f.read()
	if err != nil {
		return err
	}
	f.users, f.order = users, order
	f.mtime, f.size, f.loaded = st.ModTime(), st.Size(), true
	return nil
}

func (f *File) read() (map[string]*Entry, []string, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("passwd-file %s: %w", f.Path, err)
	}
	defer fh.Close()
	users := map[string]*Entry{}
	var order []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		e, skip, err := ParseLine(strings.TrimSuffix(sc.Text(), "\r"))
		if skip {
			continue
		}
		if err != nil {
			f.Log.Error("passwd-file: bad line, skipped", "file", f.Path, "line", n, "err", err)
			continue
		}
		if _, dup := users[e.User]; dup {
			f.Log.Warn("passwd-file: duplicate user, later line ignored", "file", f.Path, "line", n, "user", e.User)
			continue
		}
		users[e.User] = &e
		order = append(order, e.User)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("passwd-file %s: line %d: %w", f.Path, n+1, err)
	}
	return users, order, nil
}

// Lookup returns a copy of the user's entry, ErrNotFound, or an error
// reading the file.
func (f *File) Lookup(name string) (Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(); err != nil {
		return Entry{}, err
	}
	e, ok := f.users[name]
	if !ok {
		return Entry{}, ErrNotFound
	}
	c := *e
	c.PassFields = slices.Clone(e.PassFields)
	c.UserFields = slices.Clone(e.UserFields)
	return c, nil
}

// Users returns the user names in file order.
func (f *File) Users() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(); err != nil {
		return nil, err
	}
	return slices.Clone(f.order), nil
}
