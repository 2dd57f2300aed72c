package layout

import (
	"fmt"
	"strings"
)

// SplitLocation splits a mail_location at ':'; "::" is a literal ':'.
func SplitLocation(s string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			if i+1 < len(s) && s[i+1] == ':' {
				cur.WriteByte(':')
				i++
				continue
			}
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(parts, cur.String())
}

// ExpandPath expands "~" and %u, %n, %d, %h, %% in a mail_location path.
func ExpandPath(s, home, user string) (string, error) {
	if s == "~" || strings.HasPrefix(s, "~/") {
		if home == "" {
			return "", fmt.Errorf("%q needs a home directory", s)
		}
		s = home + s[1:]
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("trailing %% in %q", s)
		}
		i++
		local, domain, _ := strings.Cut(user, "@")
		switch s[i] {
		case 'u':
			b.WriteString(user)
		case 'n':
			b.WriteString(local)
		case 'd':
			b.WriteString(domain)
		case 'h':
			b.WriteString(home)
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("unknown variable %%%c in %q", s[i], s)
		}
	}
	return b.String(), nil
}
