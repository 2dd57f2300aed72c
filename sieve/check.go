package sieve

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkTest checks what the definitions cannot say about a test.
func (sc *scriptCompiler) checkTest(n *node) error {
	if err := sc.checkMatch(n); err != nil {
		return err
	}
	switch n.def.name {
	case "size":
		if !n.hasTag("over") && !n.hasTag("under") {
			return sc.errorf(n.pos, "size needs :over or :under")
		}
	case "header", "address", "date":
		if n.hasTag("last") && !n.hasTag("index") {
			return sc.errorf(n.pos, ":last needs :index")
		}
		if a, ok := n.tag("index"); ok && a.Num == 0 {
			return sc.errorf(a.Pos, ":index counts from 1")
		}
		if n.def.name == "date" {
			return sc.checkZone(n)
		}
	case "currentdate":
		return sc.checkZone(n)
	case "duplicate":
		if a, ok := n.tag("header"); ok && !validHeaderName(a.Strs[0]) && !hasVariables(sc, a.Strs[0]) {
			return sc.errorf(a.Pos, "invalid header name %q", a.Strs[0])
		}
	case "hasflag":
		if n.args[0] != nil {
			for _, v := range n.args[0].Strs {
				if err := sc.checkVarName(n.args[0].Pos, v); err != nil {
					return err
				}
			}
		}
	case "valid_notify_method", "notify_method_capability":
	}
	return nil
}

func (sc *scriptCompiler) checkZone(n *node) error {
	if a, ok := n.tag("zone"); ok && !hasVariables(sc, a.Strs[0]) {
		if _, ok := parseZone(a.Strs[0]); !ok {
			return sc.errorf(a.Pos, "invalid time zone %q (want +hhmm or -hhmm)", a.Strs[0])
		}
	}
	part := n.args[0]
	if n.def.name == "date" {
		part = n.args[1]
	}
	if !hasVariables(sc, part.Strs[0]) && !validDatePart(strings.ToLower(part.Strs[0])) {
		return sc.errorf(part.Pos, "unknown date part %q", part.Strs[0])
	}
	return nil
}

// checkCommand checks what the definitions cannot say about a command.
func (sc *scriptCompiler) checkCommand(n *node) error {
	switch n.def.name {
	case "set":
		return sc.checkVarName(n.args[0].Pos, n.args[0].Strs[0])
	case "setflag", "addflag", "removeflag":
		if n.args[0] != nil {
			return sc.checkVarName(n.args[0].Pos, n.args[0].Strs[0])
		}
	case "global":
		if !sc.enabled("variables") {
			return sc.errorf(n.pos, "global needs require \"variables\"")
		}
		for _, v := range n.args[0].Strs {
			if !isIdentifier(v) {
				return sc.errorf(n.args[0].Pos, "invalid global variable name %q", v)
			}
		}
	case "include":
		return sc.include(n)
	case "redirect":
		a := n.args[0]
		if !hasVariables(sc, a.Strs[0]) {
			if _, err := parseAddress(a.Strs[0]); err != nil {
				return sc.errorf(a.Pos, "redirect: invalid address %q", a.Strs[0])
			}
		}
	case "vacation":
		if a, ok := n.tag("from"); ok && !hasVariables(sc, a.Strs[0]) {
			if _, err := parseAddress(a.Strs[0]); err != nil {
				return sc.errorf(a.Pos, "vacation :from: invalid address %q", a.Strs[0])
			}
		}
	case "addheader", "deleteheader":
		name := n.args[0]
		if !hasVariables(sc, name.Strs[0]) && !validHeaderName(name.Strs[0]) {
			return sc.errorf(name.Pos, "%s: invalid header name %q", n.def.name, name.Strs[0])
		}
		if n.def.name == "deleteheader" {
			if err := sc.checkMatch(n); err != nil {
				return err
			}
			if n.hasTag("last") && !n.hasTag("index") {
				return sc.errorf(n.pos, ":last needs :index")
			}
		}
	case "notify":
		m := n.args[0]
		if !hasVariables(sc, m.Strs[0]) {
			if err := checkNotifyMethod(m.Strs[0]); err != nil {
				return sc.errorf(m.Pos, "notify: %v", err)
			}
		}
		if a, ok := n.tag("importance"); ok && !hasVariables(sc, a.Strs[0]) {
			if v := a.Strs[0]; v != "1" && v != "2" && v != "3" {
				return sc.errorf(a.Pos, "notify :importance must be \"1\", \"2\" or \"3\"")
			}
		}
	}
	return nil
}

// checkMatch checks and records the comparator and match type
// (RFC 5228 sections 2.7.1 to 2.7.3, RFC 5231).
func (sc *scriptCompiler) checkMatch(n *node) error {
	if findTag(n.def, "comparator") == nil {
		return nil
	}
	m := matchSpec{comparator: "i;ascii-casemap", typ: "is"}
	if a, ok := n.tag("comparator"); ok {
		m.comparator = strings.ToLower(a.Strs[0])
		switch m.comparator {
		case "i;octet", "i;ascii-casemap":
		case "i;ascii-numeric":
			if !sc.enabled("comparator-i;ascii-numeric") {
				return sc.errorf(a.Pos, "comparator %q needs require \"comparator-i;ascii-numeric\"", a.Strs[0])
			}
		default:
			return sc.errorf(a.Pos, "unknown comparator %q", a.Strs[0])
		}
	}
	for _, t := range []string{"is", "contains", "matches", "regex", "value", "count"} {
		if a, ok := n.tag(t); ok {
			m.typ = t
			if t == "value" || t == "count" {
				m.rel = strings.ToLower(a.Strs[0])
				switch m.rel {
				case "gt", "ge", "lt", "le", "eq", "ne":
				default:
					return sc.errorf(a.Pos, "unknown relational operator %q", a.Strs[0])
				}
			}
		}
	}
	if m.comparator == "i;ascii-numeric" && (m.typ == "contains" || m.typ == "matches" || m.typ == "regex") {
		return sc.errorf(n.pos, "comparator i;ascii-numeric does not support :%s", m.typ)
	}
	if m.typ == "regex" {
		keys := n.args[len(n.args)-1]
		if n.def.name == "deleteheader" {
			keys = n.args[1]
		}
		if keys != nil {
			for _, k := range keys.Strs {
				if hasVariables(sc, k) {
					continue
				}
				if _, err := regexp.Compile(k); err != nil {
					return sc.errorf(keys.Pos, "invalid regular expression %q: %v", k, err)
				}
			}
		}
	}
	n.match = m
	return nil
}

func (sc *scriptCompiler) checkVarName(p Pos, name string) error {
	if !sc.enabled("variables") {
		return sc.errorf(p, "variable names need require \"variables\"")
	}
	lname := strings.ToLower(name)
	if strings.HasPrefix(lname, "global.") && sc.enabled("include") {
		lname = lname[len("global."):]
	}
	if !isIdentifier(lname) {
		return sc.errorf(p, "invalid variable name %q", name)
	}
	return nil
}

func isIdentifier(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an RFC 5322 field name.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':' {
			return false
		}
	}
	return true
}

func hasVariables(sc *scriptCompiler, s string) bool {
	return sc.enabled("variables") && strings.Contains(s, "${")
}

// include compiles an included script (RFC 6609 section 3.2). Includes
// are resolved when the including script is compiled; a script that
// includes itself, directly or not, is an error.
func (sc *scriptCompiler) include(n *node) error {
	name := n.args[0].Strs[0]
	if name == "" || strings.ContainsAny(name, "/\x00") || !utf8.ValidString(name) {
		return sc.errorf(n.args[0].Pos, "invalid script name %q", name)
	}
	loc := Personal
	if n.hasTag("global") {
		loc = Global
	}
	key := loc.String() + ":" + name
	c := sc.c
	for _, k := range c.stack {
		if k == key {
			return sc.errorf(n.pos, "include loop: %s includes itself", key)
		}
	}
	if s, ok := c.done[key]; ok {
		n.inc = s
		return nil
	}
	if len(c.stack) >= c.opts.Limits.MaxIncludeDepth {
		return sc.errorf(n.pos, "includes nested too deeply (limit %d)", c.opts.Limits.MaxIncludeDepth)
	}
	if len(c.done) >= c.opts.Limits.MaxIncludes {
		return sc.errorf(n.pos, "too many included scripts (limit %d)", c.opts.Limits.MaxIncludes)
	}
	if c.opts.Include == nil {
		return sc.errorf(n.pos, "include %s: includes are not available", key)
	}
	src, err := c.opts.Include.ResolveInclude(loc, name)
	if err != nil {
		if errors.Is(err, ErrScriptNotFound) && n.hasTag("optional") {
			return nil
		}
		return sc.errorf(n.pos, "include %s: %v", key, err)
	}
	c.stack = append(c.stack, key)
	s, err := c.script(name, loc, src)
	c.stack = c.stack[:len(c.stack)-1]
	if err != nil {
		return err
	}
	c.done[key] = s
	c.order = append(c.order, key)
	n.inc = s
	return nil
}

// decodeCommand applies encoded-character (RFC 5228 section 2.4.2.4) to
// every string of cmd and what it holds.
func (sc *scriptCompiler) decodeCommand(cmd *Command) error {
	if err := sc.decodeArgs(cmd.Args); err != nil {
		return err
	}
	for _, t := range cmd.Tests {
		if err := sc.decodeTest(t); err != nil {
			return err
		}
	}
	for _, b := range cmd.Block {
		if err := sc.decodeCommand(b); err != nil {
			return err
		}
	}
	return nil
}

func (sc *scriptCompiler) decodeTest(t *Test) error {
	if err := sc.decodeArgs(t.Args); err != nil {
		return err
	}
	for _, s := range t.Tests {
		if err := sc.decodeTest(s); err != nil {
			return err
		}
	}
	return nil
}

func (sc *scriptCompiler) decodeArgs(args []Arg) error {
	for i := range args {
		for j, s := range args[i].Strs {
			d, err := decodeEncodedChars(s)
			if err != nil {
				return sc.errorf(args[i].Pos, "%v", err)
			}
			args[i].Strs[j] = d
		}
	}
	return nil
}

// decodeEncodedChars replaces "${hex:...}" and "${unicode:...}" sequences.
// A sequence that is not well formed stays as it is; a Unicode value
// outside the scalar range is an error.
func decodeEncodedChars(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		colon := strings.IndexByte(rest, ':')
		if end < 0 || colon < 0 || colon > end {
			b.WriteString("${")
			s = rest
			continue
		}
		kind := strings.ToLower(rest[:colon])
		body := strings.Fields(rest[colon+1 : end])
		var out strings.Builder
		ok := (kind == "hex" || kind == "unicode") && len(body) > 0
		for _, f := range body {
			if !ok {
				break
			}
			switch kind {
			case "hex":
				v, err := strconv.ParseUint(f, 16, 8)
				if err != nil {
					ok = false
					break
				}
				out.WriteByte(byte(v))
			case "unicode":
				v, err := strconv.ParseUint(f, 16, 32)
				if err != nil {
					ok = false
					break
				}
				if v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) {
					return "", fmt.Errorf("invalid Unicode character U+%X in encoded-character", v)
				}
				out.WriteRune(rune(v))
			}
		}
		if !ok {
			b.WriteString("${")
			s = rest
			continue
		}
		b.WriteString(out.String())
		s = rest[end+1:]
	}
}
