package mech

import (
	"context"
	"errors"
	"testing"
)

type fakeVerifier struct {
	users map[string]string
	got   []string
}

func (f *fakeVerifier) VerifyPlain(_ context.Context, user, pass string) error {
	f.got = append(f.got, user)
	if p, ok := f.users[user]; ok && p == pass {
		return nil
	}
	return &Failure{Reason: "bad"}
}

// run feeds the responses; nil is "no initial response".
func run(t *testing.T, name string, resps ...[]byte) (challenges []string, err error) {
	t.Helper()
	m, ok := Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q) failed", name)
	}
	s := m.New(&fakeVerifier{users: map[string]string{"demo": "secret"}})
	for _, r := range resps {
		c, done, err := s.Step(context.Background(), r)
		if done {
			return challenges, err
		}
		challenges = append(challenges, string(c))
	}
	t.Fatalf("%s: exchange did not finish after %d steps (challenges %q)", name, len(resps), challenges)
	return nil, nil
}

func code(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return "fail:" + f.Code
	}
	if err != nil {
		return "error"
	}
	return "ok"
}

func TestMechanisms(t *testing.T) {
	tests := []struct {
		name  string
		mech  string
		resps [][]byte
		chals []string
		want  string
	}{
		{"plain ir", "PLAIN", [][]byte{[]byte("\x00demo\x00secret")}, nil, "ok"},
		{"plain authzid same", "plain", [][]byte{[]byte("demo\x00demo\x00secret")}, nil, "ok"},
		{"plain authzid other", "PLAIN", [][]byte{[]byte("root\x00demo\x00secret")}, nil, "fail:authz_fail"},
		{"plain authzid other bad pass", "PLAIN", [][]byte{[]byte("root\x00demo\x00nope")}, nil, "fail:"},
		{"plain no ir", "PLAIN", [][]byte{nil, []byte("\x00demo\x00secret")}, []string{""}, "ok"},
		{"plain empty ir", "PLAIN", [][]byte{{}}, nil, "fail:"},
		{"plain wrong", "PLAIN", [][]byte{[]byte("\x00demo\x00secreT")}, nil, "fail:"},
		{"plain two nuls missing", "PLAIN", [][]byte{[]byte("demo\x00secret")}, nil, "fail:"},
		{"plain extra nul", "PLAIN", [][]byte{[]byte("\x00demo\x00sec\x00ret")}, nil, "fail:"},
		{"plain empty authcid", "PLAIN", [][]byte{[]byte("\x00\x00secret")}, nil, "fail:"},
		{"login", "LOGIN", [][]byte{nil, []byte("demo"), []byte("secret")}, []string{"Username:", "Password:"}, "ok"},
		{"login ir", "LOGIN", [][]byte{[]byte("demo"), []byte("secret")}, []string{"Password:"}, "ok"},
		{"login wrong", "LOGIN", [][]byte{nil, []byte("demo"), []byte("x")}, []string{"Username:", "Password:"}, "fail:"},
		{"login nul user", "LOGIN", [][]byte{nil, []byte("de\x00mo")}, []string{"Username:"}, "fail:"},
		{"login empty user", "LOGIN", [][]byte{nil, {}}, []string{"Username:"}, "fail:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chals, err := run(t, tt.mech, tt.resps...)
			if got := code(err); got != tt.want {
				t.Errorf("%s exchange = %s (%v), want %s", tt.mech, got, err, tt.want)
			}
			if len(chals) != len(tt.chals) {
				t.Fatalf("challenges = %q, want %q", chals, tt.chals)
			}
			for i := range chals {
				if chals[i] != tt.chals[i] {
					t.Errorf("challenge %d = %q, want %q", i, chals[i], tt.chals[i])
				}
			}
		})
	}
}

func TestLookup(t *testing.T) {
	if _, ok := Lookup("CRAM-MD5"); ok {
		t.Error("Lookup(CRAM-MD5) succeeded before it exists")
	}
	if m, ok := Lookup("login"); !ok || m.Name != "LOGIN" || m.Flags[0] != FlagPlaintext {
		t.Errorf("Lookup(login) = %+v, %v", m, ok)
	}
}

func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00tim\x00tanstaaftanstaaf")) // RFC 4616 section 4
	f.Add([]byte("Ursel\x00Kurt\x00xipj3plmq"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, c, p, err := ParsePlain(msg)
		if err == nil && len(z)+len(c)+len(p)+2 != len(msg) {
			t.Fatalf("ParsePlain(%q) lost bytes", msg)
		}
		m, _ := Lookup("PLAIN")
		_, _, _ = m.New(&fakeVerifier{}).Step(context.Background(), msg)
	})
}

func FuzzLogin(f *testing.F) {
	f.Add([]byte("tim"), []byte("tanstaaf"))
	f.Fuzz(func(t *testing.T, user, pass []byte) {
		m, _ := Lookup("LOGIN")
		s := m.New(&fakeVerifier{})
		for _, r := range [][]byte{nil, user, pass, pass} {
			if _, done, _ := s.Step(context.Background(), r); done {
				return
			}
		}
		t.Fatalf("LOGIN did not finish for %q, %q", user, pass)
	})
}
