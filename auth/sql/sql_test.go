package sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cote/auth/passdb"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

// The users every backend test loads. The quote in o'brien checks that
// values are bound, not spliced.
const schema = `CREATE TABLE users (
	username TEXT NOT NULL, domain TEXT NOT NULL, password TEXT,
	home TEXT, uid INTEGER, gid INTEGER, quota TEXT, nologin TEXT,
	PRIMARY KEY (username, domain))`

var rows = [][]any{
	{"alice", "example.org", "{PLAIN}alicepw", "/home/alice", 1001, 1001, "*:storage=1G", nil},
	{"o'brien", "example.org", "{PLAIN}quote'pw", "/home/obrien", 1002, 1002, nil, nil},
	{"bob", "example.org", "bobpw", "/home/bob", 1003, 1003, nil, "Y"},
}

const testConf = `# dovecot-sql.conf.ext as an admin writes it
driver = %s
connect = %s
default_pass_scheme = PLAIN
password_query = SELECT username, domain, password, nologin, \
  home AS userdb_home, uid AS userdb_uid FROM users WHERE username = '%%n' AND domain = '%%d'
user_query = SELECT home, uid, gid, 'maildir:~/Maildir' AS mail, \
  quota AS quota_rule FROM users WHERE username = '%%n' AND domain = '%%d'
iterate_query = SELECT username, domain FROM users ORDER BY username
`

func writeConf(t *testing.T, driver, connect string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dovecot-sql.conf.ext")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(testConf, driver, connect)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := db.Exec("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)", r...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	testBackend(t, writeConf(t, "sqlite", path))
}

// testBackend runs the same lookups against any loaded database.
func testBackend(t *testing.T, conf string) {
	ctx := context.Background()
	pdb, err := Open(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdb.Close() })
	udb, err := OpenUserDB(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udb.Close() })

	t.Run("passdb", func(t *testing.T) {
		for _, tc := range []struct {
			user     string
			password string
			fields   []string
			err      error
		}{
			{"alice@example.org", "{PLAIN}alicepw", []string{"userdb_home=/home/alice", "userdb_uid=1001"}, nil},
			{"o'brien@example.org", "{PLAIN}quote'pw", []string{"userdb_home=/home/obrien", "userdb_uid=1002"}, nil},
			{"bob@example.org", "bobpw", []string{"nologin", "userdb_home=/home/bob", "userdb_uid=1003"}, nil},
			{"nobody@example.org", "", nil, passdb.ErrNotFound},
			{"' OR '1'='1@example.org", "", nil, passdb.ErrNotFound},
			{"alice@example.org' --", "", nil, passdb.ErrNotFound},
		} {
			r, err := pdb.Lookup(ctx, varexpand.Values{User: tc.user, Service: "imap"})
			if !errors.Is(err, tc.err) {
				t.Errorf("Lookup(%q) error = %v, want %v", tc.user, err, tc.err)
				continue
			}
			if err != nil {
				continue
			}
			if r.Password != tc.password || r.DefaultScheme != "PLAIN" || !reflect.DeepEqual(r.Fields, tc.fields) {
				t.Errorf("Lookup(%q) = %+v, want password %q fields %q", tc.user, r, tc.password, tc.fields)
			}
		}
	})
	t.Run("userdb", func(t *testing.T) {
		r, err := udb.Lookup(ctx, varexpand.Values{User: "alice@example.org"})
		want := userdb.Result{User: "alice@example.org", Fields: []string{"home=/home/alice", "uid=1001", "gid=1001", "mail=maildir:~/Maildir", "quota_rule=*:storage=1G"}}
		if err != nil || !reflect.DeepEqual(r, want) {
			t.Errorf("userdb Lookup(alice) = %+v, %v, want %+v", r, err, want)
		}
		r, err = udb.Lookup(ctx, varexpand.Values{User: "o'brien@example.org"})
		if err != nil || !slices.Contains(r.Fields, "home=/home/obrien") || slices.ContainsFunc(r.Fields, func(f string) bool { return strings.HasPrefix(f, "quota_rule") }) {
			t.Errorf("userdb Lookup(o'brien) = %+v, %v; want home and no quota_rule (NULL)", r, err)
		}
		if _, err := udb.Lookup(ctx, varexpand.Values{User: "x@example.org"}); !errors.Is(err, userdb.ErrNotFound) {
			t.Errorf("userdb Lookup(x) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("iterate", func(t *testing.T) {
		users, err := udb.List(ctx)
		want := []string{"alice@example.org", "bob@example.org", "o'brien@example.org"}
		if err != nil || !reflect.DeepEqual(users, want) {
			t.Errorf("List = %q, %v, want %q", users, err, want)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ src, want string }{
		{"connect = x\n", "no driver"},
		{"driver = sqlite\n", "no connect"},
		{"driver = mysql\nconnect = x\n", "not supported"},
		{"driver = sqlite\nconnect = x\nbogus = 1\n", ":3: bogus: unknown setting"},
		{"driver = sqlite\nconnect = x\nuser_query = SELECT * FROM u WHERE n = ?\n", "user_query"},
	} {
		p := filepath.Join(dir, "c.conf")
		if err := os.WriteFile(p, []byte(tc.src), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error with %q", tc.src, err, tc.want)
		}
	}
}

// TestPostgreSQL starts a real PostgreSQL server from Debian's postgresql
// package on a unix socket in a temp dir and a free loopback port, as a
// non-root user when the test runs as root.
func TestPostgreSQL(t *testing.T) {
	pg := startPostgres(t)
	conn := fmt.Sprintf("host=%s port=%d dbname=postgres user=cote maxconns=3 connect_timeout=5", pg.sockDir, pg.port)
	load := exec.Command(pg.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.sockDir, "-p", strconv.Itoa(pg.port), "-U", "cote", "-d", "postgres")
	var in strings.Builder
	in.WriteString(schema + ";\n")
	for _, r := range rows {
		vals := make([]string, len(r))
		for i, v := range r {
			switch x := v.(type) {
			case nil:
				vals[i] = "NULL"
			case string:
				vals[i] = "'" + strings.ReplaceAll(x, "'", "''") + "'"
			default:
				vals[i] = fmt.Sprint(x)
			}
		}
		in.WriteString("INSERT INTO users VALUES (" + strings.Join(vals, ", ") + ");\n")
	}
	load.Stdin = strings.NewReader(in.String())
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	testBackend(t, writeConf(t, "pgsql", conn))

	t.Run("down", func(t *testing.T) {
		// A stopped server is a temporary failure, not "unknown user".
		p, err := Open(writeConf(t, "pgsql", fmt.Sprintf("host=%s port=%d dbname=postgres user=cote connect_timeout=2", pg.sockDir, freePort(t))), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		_, err = p.Lookup(context.Background(), varexpand.Values{User: "alice@example.org"})
		if err == nil || errors.Is(err, passdb.ErrNotFound) {
			t.Errorf("Lookup against no server = %v, want a temporary error", err)
		}
	})
}

type postgres struct {
	binDir, dataDir, sockDir string
	port                     int
}

func (p *postgres) bin(name string) string { return filepath.Join(p.binDir, name) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL server not found (/usr/lib/postgresql/*/bin/initdb): install Debian's postgresql package (scripts/test-deps.sh does)")
	}
	slices.Sort(bins)
	pg := &postgres{binDir: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	// Not t.TempDir: its parent is private to root, and the server must
	// not run as root.
	top, err := os.MkdirTemp("", "cote-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	pg.dataDir, pg.sockDir = filepath.Join(top, "data"), filepath.Join(top, "sock")
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("no unprivileged user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(top, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(pg.bin(name), args...)
		cmd.Dir = top
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
	}
	if cred != nil {
		for _, d := range []string{pg.sockDir} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			os.Chown(d, int(cred.Uid), int(cred.Gid))
		}
	} else if err := os.Mkdir(pg.sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	run("initdb", "-D", pg.dataDir, "-U", "cote", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	opts := fmt.Sprintf("-k %s -p %d -h 127.0.0.1 -c fsync=off -c shared_buffers=16MB", pg.sockDir, pg.port)
	run("pg_ctl", "-D", pg.dataDir, "-l", filepath.Join(top, "log"), "-o", opts, "-w", "-t", "30", "start")
	t.Cleanup(func() {
		cmd := exec.Command(pg.bin("pg_ctl"), "-D", pg.dataDir, "-m", "immediate", "-w", "stop")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", filepath.Join(pg.sockDir, fmt.Sprintf(".s.PGSQL.%d", pg.port)))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pg
}
