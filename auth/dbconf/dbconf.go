// Package dbconf reads the small configuration files that Dovecot's LDAP
// and SQL drivers take as their args (dovecot-ldap.conf.ext,
// dovecot-sql.conf.ext, src/lib-settings/settings.c without sections), and
// parses the %-variable templates in their filters, queries and
// attribute maps.
//
// A file is a list of "key = value" lines. Blank lines and lines starting
// with '#' are ignored; a line ending in a backslash continues on the next
// line; a value in double quotes has C-style escapes (\", \\, \n, \t), one
// in single quotes is taken as is; "!include PATH" and "!include_try PATH"
// read another file (relative to the including file's directory). Keys are
// checked by the driver, so that an unknown key is an error with file and
// line.
package dbconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Setting is one key = value line.
type Setting struct {
	Key, Value string
	File       string
	Line       int
}

// Pos is "file:line" for error messages.
func (s Setting) Pos() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Limits on what a file may hold, so that a bad file cannot exhaust the
// auth process.
const (
	MaxLine     = 64 << 10
	MaxIncludes = 16 // nesting depth
)

// ParseFile reads the file at path.
func ParseFile(path string) ([]Setting, error) {
	return parseFile(path, 0)
}

func parseFile(path string, depth int) ([]Setting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path, depth)
}

// Parse reads settings from r; name is used in error messages and as the
// base for relative !include paths.
func Parse(r io.Reader, name string) ([]Setting, error) {
	return parse(r, name, 0)
}

func parse(r io.Reader, name string, depth int) ([]Setting, error) {
	var out []Setting
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	n := 0
	var cont strings.Builder
	contStart := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasSuffix(line, "\\") {
			if cont.Len() == 0 {
				contStart = n
			}
			cont.WriteString(strings.TrimSuffix(line, "\\"))
			if cont.Len() > MaxLine {
				return nil, fmt.Errorf("%s:%d: line too long", name, contStart)
			}
			continue
		}
		at := n
		if cont.Len() > 0 {
			cont.WriteString(line)
			line = cont.String()
			cont.Reset()
			at = contStart
		}
		s, inc, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, at, err)
		}
		switch {
		case inc.path != "":
			if depth >= MaxIncludes {
				return nil, fmt.Errorf("%s:%d: !include nested too deeply", name, at)
			}
			p := inc.path
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(name), p)
			}
			sub, err := parseFile(p, depth+1)
			if err != nil {
				if inc.try && errors.Is(err, os.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("%s:%d: %w", name, at, err)
			}
			out = append(out, sub...)
		case s.Key != "":
			s.File, s.Line = name, at
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	if cont.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: file ends in a continued line", name, contStart)
	}
	return out, nil
}

type include struct {
	path string
	try  bool
}

func parseLine(line string) (Setting, include, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return Setting{}, include{}, nil
	}
	if rest, ok := strings.CutPrefix(line, "!include"); ok {
		try := false
		if r, ok := strings.CutPrefix(rest, "_try"); ok {
			try, rest = true, r
		}
		if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			return Setting{}, include{}, fmt.Errorf("bad directive %q", line)
		}
		p, err := unquote(strings.TrimSpace(rest))
		if err != nil || p == "" {
			return Setting{}, include{}, fmt.Errorf("bad !include path")
		}
		return Setting{}, include{path: p, try: try}, nil
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return Setting{}, include{}, fmt.Errorf("expected key = value")
	}
	k = strings.TrimSpace(k)
	if k == "" || strings.ContainsAny(k, " \t\"'{}") {
		return Setting{}, include{}, fmt.Errorf("bad key %q", k)
	}
	val, err := unquote(strings.TrimSpace(v))
	if err != nil {
		return Setting{}, include{}, fmt.Errorf("%s: %w", k, err)
	}
	return Setting{Key: k, Value: val}, include{}, nil
}

// unquote removes one level of quotes around a whole value.
func unquote(v string) (string, error) {
	if v == "" {
		return v, nil
	}
	switch q := v[0]; q {
	case '\'':
		if len(v) < 2 || v[len(v)-1] != q {
			return "", errors.New("unterminated quote")
		}
		return v[1 : len(v)-1], nil
	case '"':
		if len(v) < 2 || v[len(v)-1] != q {
			return "", errors.New("unterminated quote")
		}
		var b strings.Builder
		in := v[1 : len(v)-1]
		for i := 0; i < len(in); i++ {
			c := in[i]
			if c == '"' {
				return "", errors.New("unescaped quote inside a quoted value")
			}
			if c != '\\' {
				b.WriteByte(c)
				continue
			}
			i++
			if i == len(in) {
				return "", errors.New("quoted value ends in a backslash")
			}
			switch in[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(in[i])
			}
		}
		return b.String(), nil
	}
	return v, nil
}

// Apply hands every setting to set, in order, and collects the errors it
// returns with their file and line. A key given twice is an error.
func Apply(settings []Setting, set func(key, value string) error) error {
	var errs []error
	seen := map[string]Setting{}
	for _, s := range settings {
		if prev, dup := seen[s.Key]; dup {
			errs = append(errs, fmt.Errorf("%s: %s set again (first at %s)", s.Pos(), s.Key, prev.Pos()))
			continue
		}
		seen[s.Key] = s
		if err := set(s.Key, s.Value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", s.Pos(), s.Key, err))
		}
	}
	return errors.Join(errs...)
}

// ParseBool reads Dovecot's booleans.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "y", "true", "1":
		return true, nil
	case "no", "n", "false", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}
