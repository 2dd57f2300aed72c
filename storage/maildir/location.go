package maildir

import (
	"errors"
	"fmt"
	"strings"

	"cote/storage/internal/layout"
)

// Location is a parsed mail_location value for Maildir.
type Location struct {
	Root   string // the Maildir root
	Inbox  string // INBOX's directory; "" means the default for the layout
	Layout string // "maildir++" or "fs"
	// Control and Index are where Dovecot keeps control and index files;
	// cote accepts them and keeps its files beside the mail.
	Control string
	Index   string
	UTF8    bool // names on disk in UTF-8 instead of modified UTF-7
}

var errLocation = errors.New("bad mail_location")

// ParseLocation parses "maildir:<root>[:KEY=VALUE...]" (Dovecot's
// mailbox-list.c), expanding "~" and %u, %n, %d, %h, %%. "::" in a value
// is a literal ':'.
func ParseLocation(loc, home, user string) (Location, error) {
	var l Location
	rest, ok := strings.CutPrefix(loc, "maildir:")
	if !ok {
		return l, fmt.Errorf("%w: %q does not start with \"maildir:\"", errLocation, loc)
	}
	parts := splitLocation(rest)
	if len(parts) == 0 || parts[0] == "" {
		return l, fmt.Errorf("%w: no root in %q", errLocation, loc)
	}
	expand := func(s string) (string, error) { return expandPath(s, home, user) }
	var err error
	if l.Root, err = expand(parts[0]); err != nil {
		return l, err
	}
	l.Layout = "maildir++"
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "INBOX":
			l.Inbox, err = expand(v)
		case "LAYOUT":
			switch strings.ToLower(v) {
			case "maildir++", "fs":
				l.Layout = strings.ToLower(v)
			default:
				return l, fmt.Errorf("%w: LAYOUT=%s not supported", errLocation, v)
			}
		case "CONTROL":
			l.Control, err = expand(v)
		case "INDEX", "INDEXPVT", "VOLATILEDIR", "LISTINDEX":
			l.Index, err = expand(v)
		case "UTF-8":
			l.UTF8 = true
		case "NO-NOSELECT", "NO-FS-VALIDATION", "ITERINDEX", "SUBSCRIPTIONS", "BROKENCHAR":
			// Accepted; they change nothing cote does.
		case "DIRNAME", "FULLDIRNAME", "ALT", "MAILBOXDIR":
			return l, fmt.Errorf("%w: %s not supported", errLocation, k)
		default:
			return l, fmt.Errorf("%w: unknown key %q", errLocation, k)
		}
		if err != nil {
			return l, err
		}
	}
	return l, nil
}

func splitLocation(s string) []string { return layout.SplitLocation(s) }

func expandPath(s, home, user string) (string, error) {
	p, err := layout.ExpandPath(s, home, user)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errLocation, err)
	}
	return p, nil
}
