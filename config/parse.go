package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// maxIncludeDepth bounds !include nesting, which also stops include loops.
const maxIncludeDepth = 20

// ParseFile reads the configuration file at path (and what it includes),
// applies it over the defaults and validates the result. On error the
// returned Settings is still filled in as far as possible (for printing),
// and the error is an ErrorList with every problem found, unless path itself
// could not be read.
func ParseFile(path string) (*Settings, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, filepath.Dir(path), string(text))
}

// ParseString is ParseFile for a configuration held in memory; name stands
// for the file name in error messages. Relative !include and <file paths are
// relative to the current directory.
func ParseString(name, text string) (*Settings, error) {
	return parse(name, "", text)
}

func parse(name, dir, text string) (*Settings, error) {
	s, errs := parseOnly(name, dir, text, newParser)
	if err := s.Validate(); err != nil {
		errs = append(errs, err.(ErrorList)...)
	}
	return s, errs.err()
}

func newParser(s *Settings) *parser {
	return &parser{s: s, root: rootOf(s), stack: []frame{{v: rootOf(s)}}, readFile: os.ReadFile, glob: filepath.Glob}
}

// parseOnly parses and finalizes without validating.
func parseOnly(name, dir, text string, mk func(*Settings) *parser) (*Settings, ErrorList) {
	s := rawDefaults()
	p := mk(s)
	p.parseText(name, dir, text, 0)
	finalize(s)
	return s, p.errs
}

func rootOf(s *Settings) reflect.Value { return reflect.ValueOf(s).Elem() }

// frame is one open block.
type frame struct {
	// kind is the block keyword ("" at top level, "service", "plugin",
	// "protocol", ...) or "ignore" for a block that had an error, whose
	// contents are skipped.
	kind  string
	v     reflect.Value // the struct being filled, for struct blocks
	m     reflect.Value // the map being filled, for plugin and dict
	proto int           // index into ProtocolOverrides, for protocol
	path  string        // position path prefix: "", "service/auth/"
}

type parser struct {
	s     *Settings
	root  reflect.Value
	stack []frame
	errs  ErrorList
	// readFile and glob reach the file system; the fuzz test replaces
	// them.
	readFile func(string) ([]byte, error)
	glob     func(string) ([]string, error)
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) top() *frame { return &p.stack[len(p.stack)-1] }

// parseText parses one file's text. Blocks opened in a file must be closed
// in it.
func (p *parser) parseText(file, dir, text string, depth int) {
	start := len(p.stack)
	lines := strings.Split(text, "\n")
	last := 0
	for i := 0; i < len(lines); i++ {
		pos := Pos{file, i + 1}
		line := strings.TrimRight(lines[i], "\r")
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimRight(line[:len(line)-1], " \t") + " " +
				strings.TrimSpace(strings.TrimRight(lines[i], "\r"))
		}
		line = strings.TrimSpace(stripComment(line))
		if line == "" {
			continue
		}
		last = i + 1
		p.parseLine(pos, dir, line, start, depth)
	}
	for len(p.stack) > start {
		p.errorf(Pos{file, max(last, 1)}, "missing } at end of file")
		p.stack = p.stack[:len(p.stack)-1]
	}
}

func (p *parser) parseLine(pos Pos, dir, line string, start, depth int) {
	switch {
	case line == "}":
		if len(p.stack) <= start || len(p.stack) == 1 {
			p.errorf(pos, "unexpected }")
			return
		}
		p.stack = p.stack[:len(p.stack)-1]
		return
	case strings.HasPrefix(line, "!"):
		p.include(pos, dir, line, depth)
		return
	}
	j := strings.IndexAny(line, " \t={")
	if j < 0 {
		j = len(line)
	}
	key, rest := line[:j], strings.TrimSpace(line[j:])
	switch {
	case key == "":
		p.errorf(pos, "syntax error: %q", line)
	case !validKey(key):
		p.errorf(pos, "invalid setting name %q", key)
	case strings.HasPrefix(rest, "="):
		p.setting(pos, dir, key, strings.TrimSpace(rest[1:]))
	case strings.HasSuffix(rest, "{"):
		name := strings.TrimSpace(rest[:len(rest)-1])
		if name != "" && (name[0] == '"' || name[0] == '\'') {
			n, junk, err := unquote(name)
			if err != nil || junk != "" {
				p.errorf(pos, "invalid block name %s", name)
				p.stack = append(p.stack, frame{kind: "ignore"})
				return
			}
			name = n
		} else if strings.ContainsAny(name, " \t") {
			p.errorf(pos, "invalid block name %q (quote names with spaces)", name)
			p.stack = append(p.stack, frame{kind: "ignore"})
			return
		}
		p.block(pos, key, name)
	default:
		p.errorf(pos, "expected '=' or '{' after %q", key)
	}
}

func validKey(k string) bool {
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-./", c)) {
			return false
		}
	}
	return true
}

// stripComment removes a comment: a # outside quotes that starts the line
// or follows white space, unless a digit follows it (a `#UID` value).
func stripComment(line string) string {
	var quote byte
	first := true
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && (i == 0 || strings.IndexByte(" \t=", line[i-1]) >= 0):
			quote = c
		case c == '#':
			if first || (line[i-1] == ' ' || line[i-1] == '\t') && !(i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9') {
				return line[:i]
			}
		}
		if c != ' ' && c != '\t' {
			first = false
		}
	}
	return line
}

// unquote reads a quoted string at the start of s. It returns the string and
// what follows the closing quote, trimmed. Escapes: \n, \t, \r; a backslash
// before any other character stands for that character.
func unquote(s string) (string, string, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), strings.TrimSpace(s[i+1:]), nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("missing closing quote")
}

// value turns the text after '=' into a value: a quoted string is taken
// literally, `<path` is the content of that file, and otherwise each word of
// the form $name is replaced by the current value of that global setting.
// file is the path a <file value came from.
func (p *parser) value(dir, raw string) (val, file string, err error) {
	switch {
	case raw == "":
		return "", "", nil
	case raw[0] == '"' || raw[0] == '\'':
		v, junk, err := unquote(raw)
		if err != nil {
			return "", "", err
		}
		if junk != "" {
			return "", "", fmt.Errorf("unexpected %q after quoted value", junk)
		}
		return v, "", nil
	case raw[0] == '<':
		path := strings.TrimSpace(raw[1:])
		if path == "" {
			return "", "", errors.New("missing file name after <")
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		b, err := p.readFile(path)
		if err != nil {
			return "", "", fmt.Errorf("read %s: %w", path, unwrapPathError(err))
		}
		return string(b), path, nil
	}
	return p.expand(raw)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// expand replaces each whitespace-separated word of the form $name.
func (p *parser) expand(raw string) (string, string, error) {
	if !strings.Contains(raw, "$") {
		return raw, "", nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] == ' ' || raw[i] == '\t' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		j := i
		for j < len(raw) && raw[j] != ' ' && raw[j] != '\t' {
			j++
		}
		word := raw[i:j]
		i = j
		if !isVarRef(word) {
			b.WriteString(word)
			continue
		}
		f, ok := fieldsOf(p.root.Type())[word[1:]]
		if !ok || f.section {
			return "", "", fmt.Errorf("unknown variable %s", word)
		}
		b.WriteString(formatField(p.root.FieldByIndex(f.index), f))
	}
	return strings.TrimSpace(b.String()), "", nil
}

// isVarRef reports whether w is $ followed by a setting-like name.
func isVarRef(w string) bool {
	if len(w) < 2 || w[0] != '$' || w[1] >= '0' && w[1] <= '9' {
		return false
	}
	for _, c := range w[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// setting handles `key = value`.
func (p *parser) setting(pos Pos, dir, key, raw string) {
	fr := p.top()
	if fr.kind == "ignore" {
		return
	}
	val, file, err := p.value(dir, raw)
	if err != nil {
		p.errorf(pos, "%s: %v", key, err)
		return
	}
	switch fr.kind {
	case "plugin", "dict":
		fr.m.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(val))
		p.s.setPos(fr.path+key, pos)
		p.s.noteFile(fr.path+key, file)
		return
	case "protocol":
		// Check the value against a scratch copy now, so that errors
		// carry this line; ForProtocol applies it later.
		scratch := rawDefaults()
		if !p.set(pos, rootOf(scratch), "", key, val, "protocol block") {
			return
		}
		po := &p.s.ProtocolOverrides[fr.proto]
		po.Settings = append(po.Settings, KeyValue{Key: key, Value: val, File: file, Pos: pos})
		return
	}
	where := ""
	if fr.kind != "" {
		where = fr.kind + " block"
	}
	if p.set(pos, fr.v, fr.kind, key, val, where) {
		p.s.setPos(fr.path+key, pos)
		p.s.noteFile(fr.path+key, file)
	}
}

// set parses val into the field key of struct v (a block of kind). where
// names the block for errors.
func (p *parser) set(pos Pos, v reflect.Value, kind, key, val, where string) bool {
	f, ok := fieldsOf(v.Type())[key]
	if where != "" {
		where = " in " + where
	}
	switch {
	case !ok:
		p.errorf(pos, "unknown setting %q%s", key, where)
		return false
	case f.section:
		p.errorf(pos, "%q is a block%s: write %s { ... }", key, where, key)
		return false
	}
	if choices := choicesOf(kind, key); choices != nil {
		c, ok := choose(choices, val)
		if !ok {
			p.errorf(pos, "%s: invalid value %q (want %s)", key, val, orList(choices))
			return false
		}
		val = c
	}
	if err := setField(v.FieldByIndex(f.index), f, val); err != nil {
		p.errorf(pos, "%s: %v", key, err)
		return false
	}
	return true
}

// choose matches val against choices ignoring case and returns the
// canonical spelling.
func choose(choices []string, val string) (string, bool) {
	for _, c := range choices {
		if strings.EqualFold(c, strings.TrimSpace(val)) {
			return c, true
		}
	}
	return "", false
}

func orList(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = strconv.Quote(c)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// block handles `kind [name] {`.
func (p *parser) block(pos Pos, kind, name string) {
	fr := p.top()
	ignore := func(format string, args ...any) {
		p.errorf(pos, format, args...)
		p.stack = append(p.stack, frame{kind: "ignore"})
	}
	switch fr.kind {
	case "ignore":
		p.stack = append(p.stack, frame{kind: "ignore"})
		return
	case "protocol", "plugin", "dict":
		ignore("%s block not allowed inside %s block", kind, fr.kind)
		return
	}
	if fr.kind == "" && kind == "protocol" {
		if name == "" {
			ignore("protocol block needs a name")
			return
		}
		idx := -1
		for i, po := range p.s.ProtocolOverrides {
			if po.Protocol == name {
				idx = i
			}
		}
		if idx < 0 {
			idx = len(p.s.ProtocolOverrides)
			p.s.ProtocolOverrides = append(p.s.ProtocolOverrides, ProtocolOverride{Protocol: name, Settings: []KeyValue{}})
		}
		p.stack = append(p.stack, frame{kind: "protocol", proto: idx})
		return
	}
	f, ok := fieldsOf(fr.v.Type())[kind]
	where := ""
	if fr.kind != "" {
		where = " in " + fr.kind + " block"
	}
	switch {
	case !ok:
		ignore("unknown block %q%s", kind, where)
		return
	case !f.section:
		ignore("%q is a setting%s: write %s = value", kind, where, kind)
		return
	}
	fv := fr.v.FieldByIndex(f.index)
	if fv.Kind() == reflect.Map {
		if name != "" {
			ignore("%s block takes no name", kind)
			return
		}
		if fv.IsNil() {
			fv.Set(reflect.MakeMap(fv.Type()))
		}
		p.stack = append(p.stack, frame{kind: kind, m: fv, path: fr.path + kind + "/"})
		return
	}
	if name == "" && f.named {
		ignore("%s block needs a name", kind)
		return
	}
	idx := -1
	if name != "" {
		idx = findNamed(fv, name)
	}
	if idx < 0 {
		fv.Set(reflect.Append(fv, newElem(fv.Type().Elem(), kind, name)))
		idx = fv.Len() - 1
	}
	path := fr.path + kind + "/" + elemKey(name, idx)
	p.s.setPos(path, pos)
	p.stack = append(p.stack, frame{kind: kind, v: fv.Index(idx), path: path + "/"})
}

// elemKey is how a block appears in position paths: by name, else by index.
func elemKey(name string, idx int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(idx)
}

// findNamed returns the index of the element of slice v whose name is name.
func findNamed(v reflect.Value, name string) int {
	nf := fieldsOf(v.Type().Elem())[",name"]
	for i := 0; i < v.Len(); i++ {
		if v.Index(i).FieldByIndex(nf.index).String() == name {
			return i
		}
	}
	return -1
}

// newElem returns a block of type t (kind) with its defaults and name.
func newElem(t reflect.Type, kind, name string) reflect.Value {
	v := reflect.New(t).Elem()
	fs := fieldsOf(t)
	for _, r := range table(kind) {
		f, ok := fs[r.key]
		if !ok {
			panic("config: table row " + kind + "/" + r.key + " has no field")
		}
		if err := setField(v.FieldByIndex(f.index), f, r.def); err != nil {
			panic("config: bad default " + kind + "/" + r.key + ": " + err.Error())
		}
	}
	v.FieldByIndex(fs[",name"].index).SetString(name)
	normalize(v)
	return v
}

// include handles !include and !include_try.
func (p *parser) include(pos Pos, dir, line string, depth int) {
	directive, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	try := false
	switch directive {
	case "!include":
	case "!include_try":
		try = true
	default:
		p.errorf(pos, "unknown directive %s", directive)
		return
	}
	if arg != "" && (arg[0] == '"' || arg[0] == '\'') {
		a, junk, err := unquote(arg)
		if err != nil || junk != "" {
			p.errorf(pos, "%s: invalid file name %s", directive, arg)
			return
		}
		arg = a
	}
	if arg == "" {
		p.errorf(pos, "%s: missing file name", directive)
		return
	}
	if depth >= maxIncludeDepth {
		p.errorf(pos, "%s %s: includes nested too deeply (more than %d)", directive, arg, maxIncludeDepth)
		return
	}
	pattern := arg
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(dir, pattern)
	}
	matches, err := p.glob(pattern)
	if err != nil {
		p.errorf(pos, "%s %s: %v", directive, arg, err)
		return
	}
	if len(matches) == 0 {
		if !try {
			p.errorf(pos, "%s %s: no such file", directive, arg)
		}
		return
	}
	for _, m := range matches {
		b, err := p.readFile(m)
		if err != nil {
			if try && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			p.errorf(pos, "%s %s: %v", directive, m, unwrapPathError(err))
			continue
		}
		p.parseText(m, filepath.Dir(m), string(b), depth+1)
	}
}
