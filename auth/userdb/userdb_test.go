package userdb

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cote/auth/varexpand"
)

func TestPasswdFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	content := "demo:{PLAIN}x:1000:1001::/home/demo::userdb_mail=maildir:~/Maildir nodelay\nnoid:{PLAIN}x\nroot:{PLAIN}x:0:0::/root\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := OpenPasswdFile(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.Lookup(context.Background(), varexpand.Values{User: "demo"})
	want := []string{"uid=1000", "gid=1001", "home=/home/demo", "mail=maildir:~/Maildir"}
	if err != nil || !reflect.DeepEqual(r.Fields, want) {
		t.Errorf("Lookup(demo) = %q, %v, want %q", r.Fields, err, want)
	}
	for _, name := range []string{"noid", "root", "nobody"} {
		if _, err := u.Lookup(context.Background(), varexpand.Values{User: name}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%s) = %v, want ErrNotFound", name, err)
		}
	}
	if l, err := u.List(context.Background()); err != nil || len(l) != 3 {
		t.Errorf("List() = %q, %v", l, err)
	}
}

func TestStatic(t *testing.T) {
	s, err := OpenStatic("uid=1000 gid=daemon home=/var/mail/%d/%n mail=maildir:~/Maildir allow_all_users=yes")
	if err != nil {
		t.Fatal(err)
	}
	if !s.AllowAllUsers {
		t.Error("AllowAllUsers = false")
	}
	r, err := s.Lookup(context.Background(), varexpand.Values{User: "demo@example.org"})
	want := []string{"uid=1000", "gid=1", "home=/var/mail/example.org/demo", "mail=maildir:~/Maildir"}
	if err != nil || !reflect.DeepEqual(r.Fields, want) {
		t.Errorf("Lookup = %q, %v, want %q", r.Fields, err, want)
	}
	for _, bad := range []string{"uid=0", "gid=root", "uid=nosuchuser-xyz", "home=%q", "=x"} {
		if _, err := OpenStatic(bad); err == nil {
			t.Errorf("OpenStatic(%q) succeeded", bad)
		}
	}
}

// TestPasswd looks up users of this machine's user database.
func TestPasswd(t *testing.T) {
	p, err := OpenPasswd("blocking=no")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPasswd("nosuch=1"); err == nil {
		t.Errorf(`OpenPasswd("nosuch=1") = nil error, want one`)
	}
	// nobody is in every Debian passwd; root is refused.
	r, err := p.Lookup(context.Background(), varexpand.Values{User: "nobody"})
	if err != nil || len(r.Fields) < 3 || r.Fields[0] != "uid=65534" || !strings.HasPrefix(r.Fields[2], "home=") {
		t.Errorf("Lookup(nobody) = %+v, %v; want uid=65534, gid, home", r, err)
	}
	for _, name := range []string{"root", "no-such-user-here"} {
		if _, err := p.Lookup(context.Background(), varexpand.Values{User: name}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%s) = %v, want ErrNotFound", name, err)
		}
	}
}
