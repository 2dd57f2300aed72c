package master

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"cote/admin"
)

func TestAdminAllowed(t *testing.T) {
	groups := func(pid int32) ([]int, error) {
		switch pid {
		case 10:
			return []int{4, 120, 27}, nil
		case 11:
			return []int{}, nil
		}
		return nil, errors.New("no such process")
	}
	const master, adminGID = 1000, 120
	for _, c := range []struct {
		name string
		cred *unix.Ucred
		gid  int
		want bool
	}{
		{"no credentials", nil, adminGID, false},
		{"root", &unix.Ucred{Pid: 99, Uid: 0, Gid: 0}, -1, true},
		{"master's uid", &unix.Ucred{Pid: 99, Uid: master, Gid: 5}, -1, true},
		{"other user, no admin_group", &unix.Ucred{Pid: 10, Uid: 2000, Gid: adminGID}, -1, false},
		{"primary group", &unix.Ucred{Pid: 99, Uid: 2000, Gid: adminGID}, adminGID, true},
		{"supplementary group", &unix.Ucred{Pid: 10, Uid: 2000, Gid: 2000}, adminGID, true},
		{"not in group", &unix.Ucred{Pid: 11, Uid: 2000, Gid: 2000}, adminGID, false},
		{"groups unreadable", &unix.Ucred{Pid: 12, Uid: 2000, Gid: 2000}, adminGID, false},
	} {
		if got := adminAllowed(c.cred, master, c.gid, groups); got != c.want {
			t.Errorf("%s: adminAllowed = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseStatusGroups(t *testing.T) {
	status := "Name:\tcoteadm\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 120 \nNgid:\t0\n"
	gs, err := parseStatusGroups([]byte(status))
	if err != nil || len(gs) != 3 || gs[0] != 4 || gs[2] != 120 {
		t.Errorf("groups %v, %v", gs, err)
	}
	if gs, err := parseStatusGroups([]byte("Groups:\t\n")); err != nil || len(gs) != 0 {
		t.Errorf("empty Groups: %v, %v", gs, err)
	}
	if _, err := parseStatusGroups([]byte("Name:\tx\n")); err == nil {
		t.Error("no Groups line: no error")
	}
	// This process's own entry parses and matches getgroups(2).
	own, err := procGroups(int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := syscall.Getgroups()
	if len(own) != len(sys) {
		t.Errorf("/proc groups %v, getgroups %v", own, sys)
	}
}

// TestAdminSocketGroup: with admin_group the socket is 0660 in the group,
// without it 0600.
func TestAdminSocketGroup(t *testing.T) {
	gid := os.Getgid()
	for _, c := range []struct {
		group string
		mode  os.FileMode
	}{{"", 0o600}, {"#" + strconv.Itoa(gid), 0o660}} {
		dir := t.TempDir()
		m := &Master{}
		l, err := m.listenAdmin(dir, c.group)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir + "/" + admin.SocketName)
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode || int(fi.Sys().(*syscall.Stat_t).Gid) != gid {
			t.Errorf("admin_group %q: mode %v gid %d", c.group, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid)
		}
	}
	if _, err := (&Master{}).listenAdmin(t.TempDir(), "no-such-group-cote"); err == nil {
		t.Error("unknown admin_group: no error")
	}
}
