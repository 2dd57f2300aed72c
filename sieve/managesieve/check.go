package managesieve

import (
	"errors"
	"fmt"

	"cote/sieve"
	"cote/sieve/script"
)

// check compiles a script as the delivery would (RFC 5804 section 2.6:
// a script that fails the check is not stored) and returns its
// warnings. name is the name it is stored under, "" for CHECKSCRIPT.
//
// Includes (RFC 6609) are resolved from the user's scripts and from
// GlobalDir. A personal script that is not there yet is a warning, not an
// error, as in Pigeonhole: scripts are uploaded one at a time, so one may
// include another that comes next. A missing :global script is an error
// (the user cannot provide it), unless the include is ":optional". At
// delivery a missing include is an error unless it is ":optional".
func (s *session) check(name string, src []byte) ([]string, error) {
	res := &uploadResolver{store: s.store, global: script.DirResolver{Global: s.o.GlobalDir}, self: name, src: src}
	_, err := sieve.Compile(src, sieve.CompileOptions{
		Extensions: s.o.Extensions,
		Include:    res,
		Location:   sieve.Personal,
		Limits:     s.o.Limits,
	})
	if err != nil {
		return nil, err
	}
	return res.warnings, nil
}

// uploadResolver resolves includes while a script is checked.
type uploadResolver struct {
	store    *script.Store
	global   script.DirResolver
	self     string // the name being stored: its new source is src
	src      []byte
	warnings []string
}

func (u *uploadResolver) ResolveInclude(loc sieve.Location, name string) ([]byte, error) {
	var (
		src []byte
		err error
	)
	switch {
	case loc == sieve.Personal && name == u.self:
		return u.src, nil
	case loc == sieve.Personal:
		src, err = u.store.Get(name)
		if errors.Is(err, script.ErrNotFound) {
			err = fmt.Errorf("%w: %w", sieve.ErrScriptNotFound, err)
		}
	default:
		src, err = u.global.ResolveInclude(loc, name)
		if errors.Is(err, sieve.ErrScriptNotFound) {
			// The user cannot upload it: the script would fail at
			// every delivery. The administrator's path is not shown.
			return nil, fmt.Errorf("global script %q does not exist: %w", name, sieve.ErrScriptNotFound)
		}
	}
	if errors.Is(err, sieve.ErrScriptNotFound) {
		u.warnings = append(u.warnings, fmt.Sprintf("include: %s script %q does not exist (yet)", loc, name))
		return []byte{}, nil
	}
	return src, err
}
