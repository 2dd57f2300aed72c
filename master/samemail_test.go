package master

import "testing"

func TestSameMailFields(t *testing.T) {
	session := []string{"uid=1000", "gid=1000", "home=/home/jane", "auth_mech=PLAIN", "user=jane"}
	for _, tc := range []struct {
		name  string
		other []string
		want  bool
	}{
		{"delivery lookup of the other name", []string{"user=jane@example.com", "uid=1000", "gid=1000", "home=/home/jane"}, true},
		{"another home", []string{"uid=1000", "gid=1000", "home=/home/joe"}, false},
		{"a mail field of its own", []string{"uid=1000", "gid=1000", "home=/home/jane", "mail=mbox:~/mail"}, false},
		{"a chroot", []string{"uid=1000", "gid=1000", "home=/home/jane", "chroot=/srv"}, false},
		{"a prefix of a key is not the key", []string{"uid=1000", "gid=1000", "home=/home/jane", "homedir=/x"}, true},
	} {
		if got := sameMailFields(session, tc.other); got != tc.want {
			t.Errorf("%s: sameMailFields = %v, want %v", tc.name, got, tc.want)
		}
	}
	if none := []string{"uid=1000", "gid=1000"}; sameMailFields(none, none) {
		t.Error("two names with neither home nor mail were taken for one mail")
	}
}
