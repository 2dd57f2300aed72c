package dbconf

import (
	"fmt"
	"strings"

	"cote/auth/varexpand"
)

// Template is a parsed %-variable template: literal text and variables
// in order. A driver either expands it with an escaping function (LDAP
// filters and DNs) or turns each variable into a bound parameter (SQL).
type Template []Segment

// Segment is literal text (Var == "") or one variable.
type Segment struct {
	Lit string
	// Var is the variable's long name ("user", "username", "domain",
	// "service", "lip", "rip") or a driver's own ("ldap:quota",
	// "ldap:quota:default", "$").
	Var string
	// Mod is 'L' (lower-case), 'U' (upper-case) or 0.
	Mod byte
}

var short = map[byte]string{
	'u': "user", 'n': "username", 'd': "domain", 's': "service",
	'l': "lip", 'r': "rip",
}

var long = map[string]string{
	"user": "user", "username": "username", "domain": "domain",
	"service": "service", "lip": "lip", "rip": "rip",
	"local_ip": "lip", "remote_ip": "rip",
}

// ParseTemplate parses t. extra accepts a driver's own %{name} variables
// (nil: none); "%$" is passed to extra as "$".
func ParseTemplate(t string, extra func(name string) bool) (Template, error) {
	var out Template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, Segment{Lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		i++
		var mod byte
		for i < len(t) && (t[i] == 'L' || t[i] == 'U') {
			mod = t[i]
			i++
		}
		if i >= len(t) {
			return nil, fmt.Errorf("template %q ends in a lone %%", t)
		}
		var name string
		switch c := t[i]; {
		case c == '%' && mod == 0:
			lit.WriteByte('%')
			continue
		case c == '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q: unclosed %%{", t)
			}
			key := t[i+1 : i+end]
			i += end
			if n, ok := long[key]; ok {
				name = n
			} else if extra != nil && extra(key) {
				name = key
			} else {
				return nil, fmt.Errorf("template %q: unknown variable %%{%s}", t, key)
			}
		case c == '$' && extra != nil && extra("$"):
			name = "$"
		default:
			n, ok := short[c]
			if !ok {
				return nil, fmt.Errorf("template %q: unknown variable %%%c", t, c)
			}
			name = n
		}
		flush()
		out = append(out, Segment{Var: name, Mod: mod})
	}
	flush()
	return out, nil
}

// HasVars reports whether the template has any variable.
func (t Template) HasVars() bool {
	for _, s := range t {
		if s.Var != "" {
			return true
		}
	}
	return false
}

// Std resolves the standard variables from v; other names are not found.
func Std(v varexpand.Values) func(name string) (string, bool) {
	return func(name string) (string, bool) {
		switch name {
		case "user":
			return v.User, true
		case "username":
			n, _, _ := strings.Cut(v.User, "@")
			return n, true
		case "domain":
			_, d, _ := strings.Cut(v.User, "@")
			return d, true
		case "service":
			return v.Service, true
		case "lip":
			return v.LocalIP, true
		case "rip":
			return v.RemoteIP, true
		}
		return "", false
	}
}

// Value resolves one variable segment, applying its modifier.
func (s Segment) Value(lookup func(name string) (string, bool)) (string, error) {
	v, ok := lookup(s.Var)
	if !ok {
		return "", fmt.Errorf("variable %q has no value here", s.Var)
	}
	switch s.Mod {
	case 'L':
		v = strings.ToLower(v)
	case 'U':
		v = strings.ToUpper(v)
	}
	return v, nil
}

// Expand writes the template with every variable's value passed through
// escape (nil: as is).
func (t Template) Expand(lookup func(name string) (string, bool), escape func(string) string) (string, error) {
	var b strings.Builder
	for _, s := range t {
		if s.Var == "" {
			b.WriteString(s.Lit)
			continue
		}
		v, err := s.Value(lookup)
		if err != nil {
			return "", err
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
