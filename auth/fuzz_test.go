package auth

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nopConn swallows what the server writes.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopConn) Write(p []byte) (int, error) { return len(p), nil }
func (nopConn) Close() error                { return nil }

func fuzzServer(f *testing.F) *Server {
	users := filepath.Join(f.TempDir(), "users")
	if err := os.WriteFile(users, []byte(testUsers), 0o600); err != nil {
		f.Fatal(err)
	}
	s, err := New(Options{
		Passdbs:      []DBConfig{{Driver: "passwd-file", Args: "scheme=PLAIN " + users}},
		Userdbs:      []DBConfig{{Driver: "passwd-file", Args: users}},
		Mechanisms:   []string{"PLAIN", "LOGIN"},
		FailureDelay: -1,
		Log:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	return s
}

// FuzzClientLines feeds lines to an auth-client connection, as a login
// process or Postfix would send them.
func FuzzClientLines(f *testing.F) {
	f.Add("VERSION\t1\t1\nCPID\t4242\nAUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.1\trip=198.51.100.7\tsecured\tresp=AHRlc3QAc2VjcmV0", true)
	f.Add("VERSION\t1\t2\nCPID\t1\nAUTH\t1\tLOGIN\tservice=imap\nCONT\t1\tZGVtbw==\nCONT\t1\tZGVtbw==\nCANCEL\t1", false)
	f.Add("VERSION\t1\t2\nCPID\t1\nAUTH\t2\tPLAIN\tservice=imap\tresp=\nCONT\t2\t=\nCONT\t3\tx", false)
	f.Add("CPID\t1\nAUTH\t1\tPLAIN\tservice=\x01t\tresp=AGRlbW8AZGVtbw==", true)
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, input string, login bool) {
		cc := s.newClientConn(nopConn{}, login)
		for line := range strings.SplitSeq(input, "\n") {
			if err := cc.handleLine(line); err != nil {
				break
			}
		}
		cc.shutdown()
	})
}

// FuzzMasterLines feeds lines to an auth-master connection.
func FuzzMasterLines(f *testing.F) {
	f.Add("VERSION\t1\t0\nREQUEST\t1\t42\t1\t0123456789abcdef0123456789abcdef\tsession_pid=4", false)
	f.Add("VERSION\t1\t1\nUSER\t1\tdemo\tservice=lmtp\tlip=::1\nPASS\t2\tquick\tservice=imap\nLIST\t3\tuser=d*\nCACHE-FLUSH\t4", true)
	f.Add("VERSION\t2\t0", false)
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, input string, userdbOnly bool) {
		mc := &masterConn{s: s, c: nopConn{}, userdbOnly: userdbOnly, log: s.log}
		versioned := false
		for line := range strings.SplitSeq(input, "\n") {
			if err := mc.handleLine(line, &versioned); err != nil {
				break
			}
		}
		mc.wg.Wait()
	})
}
