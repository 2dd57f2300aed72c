package sieve

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// frame is the state of one running script: its own variables (RFC 5229
// section 3), the names it declared global (RFC 6609 section 3.4) and its
// match variables.
type frame struct {
	script  *Script
	vars    map[string]string
	globals map[string]bool
	match   []string
}

// expand replaces variable references in s (RFC 5229 section 3) when the
// running script uses variables.
func (r *run) expand(s string) string {
	if !r.fr.script.required["variables"] || !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		name := s[i+2 : i+2+end]
		if v, ok := r.lookupVar(name); ok {
			b.WriteString(v)
			s = s[i+2+end+1:]
			continue
		}
		b.WriteString("${")
		s = s[i+2:]
	}
	return r.truncate(b.String())
}

func (r *run) expandList(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = r.expand(s)
	}
	return out
}

// lookupVar resolves a reference; ok is false when name is not a valid
// variable reference, which then stays as written.
func (r *run) lookupVar(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	if name[0] >= '0' && name[0] <= '9' {
		n, err := strconv.Atoi(name)
		if err != nil {
			return "", false
		}
		if n < len(r.fr.match) {
			return r.fr.match[n], true
		}
		return "", true
	}
	lname := strings.ToLower(name)
	if strings.HasPrefix(lname, "global.") && r.fr.script.required["include"] {
		g := lname[len("global."):]
		if !isIdentifier(g) {
			return "", false
		}
		return r.globals[g], true
	}
	if !isIdentifier(lname) {
		// A namespace this implementation lacks (RFC 5229 section 3):
		// the reference expands to the empty string.
		for _, part := range strings.Split(lname, ".") {
			if !isIdentifier(part) {
				return "", false
			}
		}
		return "", true
	}
	if r.fr.globals[lname] {
		return r.globals[lname], true
	}
	return r.fr.vars[lname], true
}

func (r *run) setVar(name, value string) error {
	lname := strings.ToLower(name)
	value = r.truncate(value)
	if strings.HasPrefix(lname, "global.") {
		r.globals[lname[len("global."):]] = value
		return nil
	}
	if r.fr.globals[lname] {
		r.globals[lname] = value
		return nil
	}
	if _, ok := r.fr.vars[lname]; !ok && len(r.fr.vars) >= r.limits.MaxVariables {
		return r.limitErr("too many variables (limit %d)", r.limits.MaxVariables)
	}
	r.fr.vars[lname] = value
	return nil
}

func (r *run) getVar(name string) string {
	v, _ := r.lookupVar(name)
	return v
}

// truncate cuts a value to the variable size limit on a UTF-8 boundary
// (RFC 5229 section 3 lets implementations limit variable sizes).
func (r *run) truncate(s string) string {
	max := r.limits.MaxVariableSize
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
		c, size := utf8.DecodeLastRuneInString(s)
		if c != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// applyModifiers applies set's modifiers in the order of RFC 5229
// section 4.1 (precedence 40 to 10), with :encodeurl (RFC 5435 section
// 6) and :quoteregex (regex draft) in the quoting step.
func applyModifiers(n *node, v string) string {
	switch {
	case n.hasTag("lower"):
		v = asciiLower(v)
	case n.hasTag("upper"):
		v = asciiUpper(v)
	}
	switch {
	case n.hasTag("lowerfirst") && v != "":
		v = asciiLower(v[:1]) + v[1:]
	case n.hasTag("upperfirst") && v != "":
		v = asciiUpper(v[:1]) + v[1:]
	}
	switch {
	case n.hasTag("quotewildcard"):
		var b strings.Builder
		for _, c := range v {
			if c == '*' || c == '?' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		v = b.String()
	case n.hasTag("quoteregex"):
		var b strings.Builder
		for _, c := range v {
			if strings.ContainsRune(`\.+*?()[]{}|^$`, c) {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		v = b.String()
	}
	if n.hasTag("encodeurl") {
		v = strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
	}
	if n.hasTag("length") {
		v = strconv.Itoa(utf8.RuneCountInString(v))
	}
	return v
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
