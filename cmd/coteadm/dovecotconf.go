package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"cote/config"
)

// dnode is one line of a Dovecot 2.3 configuration: a setting or a block
// with its contents. Includes are read in place, so a tree holds every
// file; each node remembers where it came from.
type dnode struct {
	pos      config.Pos
	key      string   // setting name or block kind
	name     string   // block name, unquoted ("" for none)
	value    string   // raw text after '=' (settings only)
	block    bool     // a `key [name] {` block
	children []*dnode // contents of a block
}

// dovecotParser reads a Dovecot configuration tree. It is lenient where
// Dovecot is (unknown names are the translator's business) and strict only
// about structure: unbalanced braces and unreadable includes are errors.
type dovecotParser struct {
	errs  []error
	depth int
}

const maxDovecotIncludeDepth = 20

// parseDovecotFile reads path and everything it includes.
func parseDovecotFile(path string) ([]*dnode, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &dovecotParser{}
	root := &dnode{block: true}
	p.parseText(root, path, string(b))
	return root.children, errors.Join(p.errs...)
}

func (p *dovecotParser) errorf(pos config.Pos, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", pos, fmt.Sprintf(format, args...)))
}

// parseText parses one file's text into parent. Blocks opened in a file
// must close in it, as Dovecot requires.
func (p *dovecotParser) parseText(parent *dnode, file, text string) {
	stack := []*dnode{parent}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		pos := config.Pos{File: file, Line: i + 1}
		line := strings.TrimRight(lines[i], "\r")
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimRight(line[:len(line)-1], " \t") + " " + strings.TrimSpace(lines[i])
		}
		line = strings.TrimSpace(stripDovecotComment(line))
		if line == "" {
			continue
		}
		top := stack[len(stack)-1]
		switch {
		case line == "}":
			if len(stack) == 1 {
				p.errorf(pos, "unexpected }")
				continue
			}
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(line, "!include"):
			p.include(top, pos, line)
		default:
			n, ok := p.parseLine(pos, line)
			if !ok {
				continue
			}
			top.children = append(top.children, n)
			if n.block {
				stack = append(stack, n)
			}
		}
	}
	if len(stack) > 1 {
		p.errorf(config.Pos{File: file, Line: len(lines)}, "missing } at end of file")
	}
}

func (p *dovecotParser) parseLine(pos config.Pos, line string) (*dnode, bool) {
	j := strings.IndexAny(line, " \t={")
	if j < 0 {
		p.errorf(pos, "syntax error: %q", line)
		return nil, false
	}
	key, rest := line[:j], strings.TrimSpace(line[j:])
	switch {
	case strings.HasPrefix(rest, "="):
		return &dnode{pos: pos, key: key, value: strings.TrimSpace(rest[1:])}, true
	case strings.HasSuffix(rest, "{"):
		name := strings.TrimSpace(rest[:len(rest)-1])
		if name != "" && (name[0] == '"' || name[0] == '\'') {
			if u, ok := unquoteDovecot(name); ok {
				name = u
			}
		}
		return &dnode{pos: pos, key: key, name: name, block: true}, true
	}
	p.errorf(pos, "expected = or { after %q", key)
	return nil, false
}

func (p *dovecotParser) include(parent *dnode, pos config.Pos, line string) {
	directive, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	if u, ok := unquoteDovecot(arg); ok {
		arg = u
	}
	try := directive == "!include_try"
	if !try && directive != "!include" {
		p.errorf(pos, "unknown directive %s", directive)
		return
	}
	if p.depth >= maxDovecotIncludeDepth {
		p.errorf(pos, "includes nested too deeply")
		return
	}
	pattern := arg
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		p.errorf(pos, "%s %s: %v", directive, arg, err)
		return
	}
	if len(matches) == 0 && !try {
		p.errorf(pos, "%s %s: no such file", directive, arg)
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			if try && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			p.errorf(pos, "%s %s: %v", directive, m, err)
			continue
		}
		p.depth++
		p.parseText(parent, m, string(b))
		p.depth--
	}
}

// stripDovecotComment removes a # comment outside quotes. Dovecot takes #
// as a comment anywhere outside quotes; cote's `#NUMBER` ids do not occur
// in a Dovecot file.
func stripDovecotComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return line[:i]
		}
	}
	return line
}

// unquoteDovecot returns the content of a string in double or single
// quotes with Dovecot's escapes (a backslash takes the next character).
func unquoteDovecot(s string) (string, bool) {
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') || s[len(s)-1] != s[0] {
		return s, false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+2 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}
