package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"cote/auth/passdb"
	"cote/auth/userdb"
	"cote/auth/varexpand"
)

// fakePassdb answers every lookup the same way and counts lookups.
type fakePassdb struct {
	name     string
	password string // "" with err nil: a lookup-only entry with no password
	err      error
	fields   []string
	calls    *[]string
}

func (f *fakePassdb) Lookup(_ context.Context, v varexpand.Values) (passdb.Result, error) {
	*f.calls = append(*f.calls, f.name)
	if f.err != nil {
		return passdb.Result{}, f.err
	}
	return passdb.Result{User: v.User, Password: f.password, DefaultScheme: "PLAIN", Fields: slices.Clone(f.fields)}, nil
}

type fakeUserdb struct {
	name   string
	err    error
	fields []string
	calls  *[]string
}

func (f *fakeUserdb) Lookup(_ context.Context, v varexpand.Values) (userdb.Result, error) {
	*f.calls = append(*f.calls, f.name)
	if f.err != nil {
		return userdb.Result{}, f.err
	}
	return userdb.Result{User: v.User, Fields: slices.Clone(f.fields)}, nil
}

var errDown = errors.New("backend down")

// db describes one database of a test chain: "ok" (found, password
// "pw"), "bad" (found, another password), "unknown", "down", each with
// optional settings.
type db struct {
	kind   string
	cfg    DBConfig
	fields []string
}

func TestPassdbChain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dbs   []db
		want  outcome
		calls string
		// fields expected in the merged result on success
		fields []string
	}{
		{"first wins", []db{{kind: "ok"}, {kind: "ok"}}, outOK, "a", nil},
		{"unknown then ok", []db{{kind: "unknown"}, {kind: "ok"}}, outOK, "a b", nil},
		{"bad then ok", []db{{kind: "bad"}, {kind: "ok"}}, outOK, "a b", nil},
		{"all fail", []db{{kind: "bad"}, {kind: "unknown"}}, outFail, "a b", nil},
		{"internal then fail", []db{{kind: "down"}, {kind: "bad"}}, outInternal, "a b", nil},
		{"internal then ok", []db{{kind: "down"}, {kind: "ok"}}, outOK, "a b", nil},
		{"internal return-fail", []db{{kind: "down", cfg: DBConfig{ResultInternalfail: "return-fail"}}, {kind: "ok"}}, outInternal, "a", nil},
		{"failure return", []db{{kind: "bad", cfg: DBConfig{ResultFailure: "return"}}, {kind: "ok"}}, outFail, "a", nil},
		{"failure return-fail", []db{{kind: "unknown", cfg: DBConfig{ResultFailure: "return-fail"}}, {kind: "ok"}}, outFail, "a", nil},
		{"failure return-ok", []db{{kind: "bad", cfg: DBConfig{ResultFailure: "return-ok"}}, {kind: "bad"}}, outOK, "a", nil},
		{"success continue, next only looked up", []db{
			{kind: "ok", cfg: DBConfig{ResultSuccess: "continue"}, fields: []string{"a=1", "b=1"}},
			{kind: "bad", fields: []string{"b=2"}},
		}, outOK, "a b", []string{"a=1", "b=2"}},
		{"success continue, next unknown", []db{{kind: "ok", cfg: DBConfig{ResultSuccess: "continue"}}, {kind: "unknown"}}, outFail, "a b", nil},
		{"success continue-ok, next unknown", []db{
			{kind: "ok", cfg: DBConfig{ResultSuccess: "continue-ok"}, fields: []string{"a=1"}},
			{kind: "unknown", fields: []string{"a=2"}},
		}, outOK, "a b", []string{"a=1"}},
		{"success continue-fail", []db{{kind: "ok", cfg: DBConfig{ResultSuccess: "continue-fail"}}, {kind: "unknown"}}, outFail, "a b", nil},
		{"success continue on the last", []db{{kind: "ok", cfg: DBConfig{ResultSuccess: "continue"}}}, outOK, "a", nil},
		{"success return-fail", []db{{kind: "ok", cfg: DBConfig{ResultSuccess: "return-fail"}}, {kind: "ok"}}, outFail, "a", nil},
		{"skip authenticated", []db{
			{kind: "ok", cfg: DBConfig{ResultSuccess: "continue-ok"}},
			{kind: "bad", cfg: DBConfig{Skip: "authenticated"}},
			{kind: "ok", fields: []string{"c=1"}},
		}, outOK, "a c", []string{"c=1"}},
		{"skip unauthenticated", []db{
			{kind: "unknown"},
			{kind: "ok", cfg: DBConfig{Skip: "unauthenticated"}},
			{kind: "ok"},
		}, outOK, "a c", nil},
		{"all skipped", []db{{kind: "ok", cfg: DBConfig{Skip: "unauthenticated"}}}, outInternal, "", nil},
		{"default and override fields", []db{{kind: "ok", fields: []string{"a=db", "b=db"},
			cfg: DBConfig{DefaultFields: "a=def c=%u", OverrideFields: "b=over"}}}, outOK, "a", []string{"a=db", "b=over", "c=u@x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			s := &Server{log: slog.New(slog.DiscardHandler)}
			for i, d := range tc.dbs {
				f := &fakePassdb{name: string(rune('a' + i)), fields: d.fields, calls: &calls}
				switch d.kind {
				case "ok":
					f.password = "{PLAIN}pw"
				case "bad":
					f.password = "{PLAIN}other"
				case "unknown":
					f.err = passdb.ErrNotFound
				case "down":
					f.err = errDown
				}
				r, err := parseRules(d.cfg, false)
				if err != nil {
					t.Fatal(err)
				}
				s.passdbs = append(s.passdbs, f)
				s.passRules = append(s.passRules, r)
			}
			pc := s.runPassdbs(context.Background(), varexpand.Values{User: "u@x"}, "pw", func(r passdb.Result) bool {
				return r.Password == "{PLAIN}pw"
			})
			if got := strings.Join(calls, " "); pc.Outcome != tc.want || got != tc.calls {
				t.Errorf("runPassdbs = %v after %q, want %v after %q", pc.Outcome, got, tc.want, tc.calls)
			}
			if tc.fields != nil && !slices.Equal(pc.Result.Fields, tc.fields) {
				t.Errorf("runPassdbs fields = %q, want %q", pc.Result.Fields, tc.fields)
			}
		})
	}
}

func TestUserdbChain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dbs    []db
		want   outcome
		calls  string
		fields []string
	}{
		{"first wins", []db{{kind: "ok", fields: []string{"uid=1"}}, {kind: "ok"}}, outOK, "a", []string{"uid=1"}},
		{"unknown then ok", []db{{kind: "unknown"}, {kind: "ok", fields: []string{"uid=2"}}}, outOK, "a b", []string{"uid=2"}},
		{"down then unknown", []db{{kind: "down"}, {kind: "unknown"}}, outInternal, "a b", nil},
		{"merge with continue", []db{
			{kind: "ok", cfg: DBConfig{ResultSuccess: "continue-ok"}, fields: []string{"uid=1", "home=/h"}},
			{kind: "ok", fields: []string{"home=/other", "mail=m"}},
		}, outOK, "a b", []string{"uid=1", "home=/other", "mail=m"}},
		{"skip found", []db{
			{kind: "ok", cfg: DBConfig{ResultSuccess: "continue-ok"}, fields: []string{"uid=1"}},
			{kind: "ok", cfg: DBConfig{Skip: "found"}, fields: []string{"uid=9"}},
			{kind: "ok", cfg: DBConfig{Skip: "notfound"}, fields: []string{"quota_rule=x"}},
		}, outOK, "a c", []string{"uid=1", "quota_rule=x"}},
		{"skip notfound first", []db{{kind: "ok", cfg: DBConfig{Skip: "notfound"}}, {kind: "unknown"}}, outFail, "b", nil},
		{"failure return-fail", []db{{kind: "unknown", cfg: DBConfig{ResultFailure: "return-fail"}}, {kind: "ok"}}, outFail, "a", nil},
		{"override", []db{{kind: "ok", fields: []string{"uid=1"}, cfg: DBConfig{OverrideFields: "home=/var/mail/%d/%n"}}}, outOK, "a", []string{"uid=1", "home=/var/mail/x/u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			s := &Server{log: slog.New(slog.DiscardHandler)}
			for i, d := range tc.dbs {
				f := &fakeUserdb{name: string(rune('a' + i)), fields: d.fields, calls: &calls}
				switch d.kind {
				case "unknown":
					f.err = userdb.ErrNotFound
				case "down":
					f.err = errDown
				}
				r, err := parseRules(d.cfg, true)
				if err != nil {
					t.Fatal(err)
				}
				s.userdbs = append(s.userdbs, f)
				s.userRules = append(s.userRules, r)
			}
			r, o := s.runUserdbs(context.Background(), varexpand.Values{User: "u@x"}, false)
			if got := strings.Join(calls, " "); o != tc.want || got != tc.calls {
				t.Errorf("runUserdbs = %v after %q, want %v after %q", o, got, tc.want, tc.calls)
			}
			if tc.fields != nil && !slices.Equal(r.Fields, tc.fields) {
				t.Errorf("runUserdbs fields = %q, want %q", r.Fields, tc.fields)
			}
		})
	}
}

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		cfg    DBConfig
		userdb bool
		ok     bool
	}{
		{DBConfig{}, false, true},
		{DBConfig{Skip: "authenticated", ResultSuccess: "continue-ok", ResultFailure: "return-fail", ResultInternalfail: "return"}, false, true},
		{DBConfig{Skip: "found"}, true, true},
		{DBConfig{Skip: "found"}, false, false},
		{DBConfig{Skip: "authenticated"}, true, false},
		{DBConfig{ResultSuccess: "stop"}, false, false},
		{DBConfig{DefaultFields: "=x"}, false, false},
		{DBConfig{OverrideFields: "home=%q"}, true, false},
	} {
		if _, err := parseRules(tc.cfg, tc.userdb); (err == nil) != tc.ok {
			t.Errorf("parseRules(%+v, userdb %v) = %v, want ok %v", tc.cfg, tc.userdb, err, tc.ok)
		}
	}
}

// A passwordVerifier passdb (an LDAP auth bind) gets the password; once
// a passdb accepted it and the chain continues, it is only looked up.
type fakeVerifier struct {
	fakePassdb
	verified *int
}

func (f *fakeVerifier) VerifyPassword(ctx context.Context, v varexpand.Values, pw string) (passdb.Result, bool, error) {
	*f.verified++
	r, err := f.Lookup(ctx, v)
	return r, pw == "pw", err
}

func TestPassdbChainVerifier(t *testing.T) {
	var calls []string
	n := 0
	s := &Server{log: slog.New(slog.DiscardHandler)}
	s.passdbs = []passdbDriver{&fakeVerifier{fakePassdb{name: "a", calls: &calls}, &n}}
	r, _ := parseRules(DBConfig{}, false)
	s.passRules = []dbRules{r}
	check := func(passdb.Result) bool { t.Error("check called for a verifier"); return false }
	for _, tc := range []struct {
		pw   string
		want outcome
	}{{"pw", outOK}, {"nope", outFail}} {
		if pc := s.runPassdbs(context.Background(), varexpand.Values{User: "u"}, tc.pw, check); pc.Outcome != tc.want {
			t.Errorf("runPassdbs(%q) = %v, want %v", tc.pw, pc.Outcome, tc.want)
		}
	}
	if pc := s.runPassdbs(context.Background(), varexpand.Values{User: "u"}, "", nil); pc.Outcome != outOK || n != 2 {
		t.Errorf("lookup = %v with %d verifications, want ok and 2", pc.Outcome, n)
	}
}
