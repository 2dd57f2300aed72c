package script

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cote/sieve"
)

func TestStore(t *testing.T) {
	home := t.TempDir()
	s := New(home)
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("List on empty home = %v, %v", list, err)
	}
	if err := s.Put("vacation", []byte("keep;")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("spam", []byte("discard;")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("spam"); err != nil || string(got) != "discard;" {
		t.Fatalf("Get(spam) = %q, %v", got, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) error = %v, want ErrNotFound", err)
	}
	if err := s.SetActive("spam"); err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(home, ".cote.sieve"))
	if err != nil || target != "sieve/spam.sieve" {
		t.Fatalf("active link = %q, %v, want sieve/spam.sieve", target, err)
	}
	if a, _ := s.Active(); a != "spam" {
		t.Errorf("Active = %q, want spam", a)
	}
	if err := s.Delete("spam"); !errors.Is(err, ErrActive) {
		t.Errorf("Delete(active) error = %v, want ErrActive", err)
	}
	if err := s.Rename("spam", "vacation"); !errors.Is(err, ErrExists) {
		t.Errorf("Rename onto existing error = %v, want ErrExists", err)
	}
	if err := s.Rename("nope", "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rename(nope) error = %v, want ErrNotFound", err)
	}
	if err := s.Rename("spam", "junk"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Active(); a != "junk" {
		t.Errorf("Active after rename = %q, want junk", a)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range list {
		n := i.Name
		if i.Active {
			n += "*"
		}
		got = append(got, n)
	}
	if strings.Join(got, ",") != "junk*,vacation" {
		t.Errorf("List = %v, want junk*,vacation", got)
	}
	if err := s.SetActive("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetActive(nope) error = %v", err)
	}
	if err := s.SetActive(""); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Active(); a != "" {
		t.Errorf("Active after deactivate = %q", a)
	}
	if err := s.Delete("junk"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("junk"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete error = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(home, "sieve"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestStoreNames(t *testing.T) {
	for _, name := range []string{"", ".hidden", "a/b", "tab\there", "nl\n", "\u2028", strings.Repeat("x", 250), "\xff"} {
		if err := ValidName(name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	for _, name := range []string{"vacation", "Mein Skript", "ünïcode", "a.b", strings.Repeat("x", 249)} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
}

func TestStoreQuota(t *testing.T) {
	s := New(t.TempDir())
	s.MaxScripts, s.MaxSize, s.MaxStorage = 2, 10, 15
	var qe *QuotaError
	if err := s.Put("big", []byte(strings.Repeat("x", 11))); !errors.As(err, &qe) || qe.Limit != "maxsize" {
		t.Errorf("Put(big) error = %v, want maxsize", err)
	}
	if err := s.Put("a", []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	if err := s.HaveSpace("b", 8); !errors.As(err, &qe) || qe.Limit != "maxstorage" {
		t.Errorf("HaveSpace(b, 8) error = %v, want maxstorage", err)
	}
	if err := s.Put("a", []byte("1234567890")); err != nil {
		t.Errorf("replacing within quota: %v", err)
	}
	if err := s.Put("b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("c", []byte("1")); !errors.As(err, &qe) || qe.Limit != "maxscripts" || !errors.Is(err, ErrQuota) {
		t.Errorf("Put(c) error = %v, want maxscripts", err)
	}
}

// A hand-written ~/.dovecot.sieve is kept when a script is activated.
func TestStoreDovecotMigration(t *testing.T) {
	home := t.TempDir()
	s := New(home)
	s.ActivePath = filepath.Join(home, ".dovecot.sieve")
	if err := os.WriteFile(s.ActivePath, []byte("# mine\nkeep;"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Active(); a != "" || err != nil {
		t.Errorf("Active with a regular file = %q, %v", a, err)
	}
	if err := s.Put("new", []byte("discard;")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetActive("new"); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Get("cote-orig"); err != nil || string(b) != "# mine\nkeep;" {
		t.Errorf("migrated script = %q, %v", b, err)
	}
	if a, _ := s.Active(); a != "new" {
		t.Errorf("Active = %q", a)
	}
}

func TestStoreConcurrent(t *testing.T) {
	s := New(t.TempDir())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := string(rune('a' + i))
			if err := s.Put(name, []byte("keep;")); err != nil {
				t.Error(err)
			}
			if err := s.SetActive(name); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if list, _ := s.List(); len(list) != 8 {
		t.Errorf("List = %d scripts, want 8", len(list))
	}
	if a, _ := s.Active(); a == "" {
		t.Error("no active script")
	}
}

func TestCache(t *testing.T) {
	home := t.TempDir()
	global := t.TempDir()
	s := New(home)
	if err := s.Put("main", []byte(`require "include"; include "lib"; include :global :optional "site";`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("lib", []byte(`keep;`)); err != nil {
		t.Fatal(err)
	}
	c := NewCache(sieve.CompileOptions{}, DirResolver{Personal: s.Dir, Global: global}, 2)
	path, _ := s.Path("main")
	first, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Load(path); again != first {
		t.Error("unchanged script compiled again")
	}
	// A changed include is noticed.
	if err := s.Put("lib", []byte(`discard;`)); err != nil {
		t.Fatal(err)
	}
	second, err := c.Load(path)
	if err != nil || second == first {
		t.Fatalf("Load after include change = %p, %v; want a new script", second, err)
	}
	// So is an optional include that appears.
	if err := os.WriteFile(filepath.Join(global, "site.sieve"), []byte("frob;"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(path); err == nil || !strings.Contains(err.Error(), "unknown command frob") {
		t.Fatalf("Load with broken global include = %v", err)
	}
	// Compile errors are cached and reported each time.
	if _, err := c.Load(path); err == nil {
		t.Fatal("cached compile error lost")
	}
	if _, err := c.Load(filepath.Join(home, "nope.sieve")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
	// The main script changing, with the same size and mtime, is noticed
	// through its inode.
	os.Remove(filepath.Join(global, "site.sieve"))
	st, _ := os.Stat(path)
	if err := s.Put("main", []byte(`require "include"; include "lib"; include :global :optional "sitf";`)); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Time{}, st.ModTime())
	third, err := c.Load(path)
	if err != nil || third == second {
		t.Fatalf("Load after rewrite = %v (same script %v)", err, third == second)
	}
	if len(third.Includes()) != 1 || third.Includes()[0] != "personal:lib" {
		t.Errorf("Includes = %v", third.Includes())
	}
}
