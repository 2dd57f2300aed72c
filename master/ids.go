package master

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

type ids struct{ uid, gid int }

// idResolver turns user and group names from the config into ids. A value
// "#N" is a number that needs no entry in the system's user database (the
// development default uses it); a plain number is taken as is too.
type idResolver struct{}

func (idResolver) user(name string) (ids, error) {
	if n, ok := number(name); ok {
		return ids{n, n}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return ids{}, fmt.Errorf("user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return ids{uid, gid}, nil
}

func (idResolver) group(name string) (int, error) {
	if n, ok := number(name); ok {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", name, err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	return gid, nil
}

func number(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "#"))
	return n, err == nil && n >= 0
}
