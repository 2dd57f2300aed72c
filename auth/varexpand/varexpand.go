// Package varexpand expands Dovecot's %-variables in auth settings such as
// auth_username_format, passwd-file paths and static userdb fields:
// %u (user), %n (user part before @), %d (domain after @), %s (service),
// %l and %r (local and remote IP), %% (a percent sign), each optionally
// preceded by L (lower-case) or U (upper-case) modifiers, and the long
// forms %{user}, %{username}, %{domain}, %{service}, %{lip}, %{rip}.
package varexpand

import (
	"fmt"
	"strings"
)

// Values are what the variables expand to.
type Values struct {
	User     string
	Service  string
	LocalIP  string
	RemoteIP string
}

var long = map[string]byte{
	"user": 'u', "username": 'n', "domain": 'd', "service": 's',
	"lip": 'l', "rip": 'r', "local_ip": 'l', "remote_ip": 'r',
}

func (v Values) get(c byte) (string, bool) {
	switch c {
	case 'u':
		return v.User, true
	case 'n':
		n, _, _ := strings.Cut(v.User, "@")
		return n, true
	case 'd':
		_, d, _ := strings.Cut(v.User, "@")
		return d, true
	case 's':
		return v.Service, true
	case 'l':
		return v.LocalIP, true
	case 'r':
		return v.RemoteIP, true
	case '%':
		return "%", true
	}
	return "", false
}

// Check reports a template error without expanding it.
func Check(tmpl string) error {
	_, err := Expand(tmpl, Values{})
	return err
}

// Expand replaces the variables in tmpl.
func Expand(tmpl string, v Values) (string, error) {
	if !strings.Contains(tmpl, "%") {
		return tmpl, nil
	}
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		var mod byte
		for i < len(tmpl) && (tmpl[i] == 'L' || tmpl[i] == 'U') {
			mod = tmpl[i]
			i++
		}
		if i >= len(tmpl) {
			return "", fmt.Errorf("template %q ends in a lone %%", tmpl)
		}
		name := tmpl[i]
		if name == '{' {
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("template %q: unclosed %%{", tmpl)
			}
			key := tmpl[i+1 : i+end]
			var ok bool
			if name, ok = long[key]; !ok {
				return "", fmt.Errorf("template %q: unknown variable %%{%s}", tmpl, key)
			}
			i += end
		}
		val, ok := v.get(name)
		if !ok {
			return "", fmt.Errorf("template %q: unknown variable %%%c", tmpl, name)
		}
		switch mod {
		case 'L':
			val = strings.ToLower(val)
		case 'U':
			val = strings.ToUpper(val)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}
