package sql

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"cote/auth/dbconf"
	"cote/auth/varexpand"
)

func TestRewrite(t *testing.T) {
	vals := varexpand.Values{User: "o'brien@example.org", Service: "imap"}
	for _, tc := range []struct {
		in         string
		d          Dialect
		text       string
		args       []any
		errContain string
	}{
		{in: DefaultPasswordQuery, d: SQLite,
			text: "SELECT username, domain, password FROM users WHERE username = ? AND domain = ?",
			args: []any{"o'brien", "example.org"}},
		{in: DefaultPasswordQuery, d: PgSQL,
			text: "SELECT username, domain, password FROM users WHERE username = $1 AND domain = $2",
			args: []any{"o'brien", "example.org"}},
		{in: "SELECT x FROM u WHERE email = '%n@%d' AND s = '%Ls'", d: SQLite,
			text: "SELECT x FROM u WHERE email = (? || '@' || ?) AND s = ?",
			args: []any{"o'brien", "example.org", "imap"}},
		{in: "SELECT x FROM u WHERE email = '%n@%d'", d: PgSQL,
			text: "SELECT x FROM u WHERE email = (CAST($1 AS text) || '@' || CAST($2 AS text))",
			args: []any{"o'brien", "example.org"}},
		{in: "SELECT 'it''s', '100%%' AS p, \"Col\" FROM u WHERE n = '%u' -- %u here is a comment\n/* and %d */", d: SQLite,
			text: "SELECT 'it''s', '100%' AS p, \"Col\" FROM u WHERE n = ? -- %u here is a comment\n/* and %d */",
			args: []any{"o'brien@example.org"}},
		{in: "SELECT x FROM u WHERE n = %{user} AND e LIKE '%%@%d'", d: PgSQL,
			text: "SELECT x FROM u WHERE n = $1 AND e LIKE ('%@' || CAST($2 AS text))",
			args: []any{"o'brien@example.org", "example.org"}},
		{in: "SELECT x FROM u WHERE n = ?", d: SQLite, errContain: "placeholder"},
		{in: "SELECT x FROM u WHERE n = :name", d: SQLite, errContain: "parameter"},
		{in: "SELECT x FROM u WHERE n = $1", d: PgSQL, errContain: "placeholder"},
		{in: "SELECT \"%u\" FROM u", d: SQLite, errContain: "identifier"},
		{in: "SELECT x FROM u WHERE n = E'%u'", d: PgSQL, errContain: "E''"},
		{in: "SELECT x FROM u WHERE n = '%u", d: SQLite, errContain: "unterminated"},
		{in: "SELECT x FROM u WHERE n = '%q'", d: SQLite, errContain: "unknown variable"},
		{in: "SELECT x /* open", d: SQLite, errContain: "comment"},
	} {
		q, err := Rewrite(tc.in, tc.d)
		if tc.errContain != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errContain) {
				t.Errorf("Rewrite(%q) = %v, want an error with %q", tc.in, err, tc.errContain)
			}
			continue
		}
		if err != nil {
			t.Errorf("Rewrite(%q): %v", tc.in, err)
			continue
		}
		if q.Text != tc.text {
			t.Errorf("Rewrite(%q).Text = %q, want %q", tc.in, q.Text, tc.text)
		}
		args, err := q.Args(dbconf.Std(vals))
		if err != nil || !reflect.DeepEqual(args, tc.args) {
			t.Errorf("Rewrite(%q).Args = %q, %v, want %q", tc.in, args, err, tc.args)
		}
	}
}

// FuzzRewrite checks that no rewritten query carries a value: with every
// variable resolved to a marker, the marker never appears in the text, and
// the number of placeholders matches the parameters.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		DefaultPasswordQuery, DefaultUserQuery, DefaultIterateQuery,
		"SELECT a FROM b WHERE c = '%n@%d' -- %u\n",
		"SELECT 'x''%u''y' /* %d */ FROM t WHERE \"q\" = %{user}",
		"SELECT E'\\'' || '%u'",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, pg bool) {
		d := SQLite
		if pg {
			d = PgSQL
		}
		q, err := Rewrite(in, d)
		if err != nil {
			return
		}
		n := strings.Count(q.Text, "?")
		if pg {
			n = 0
			for i := 1; i <= len(q.Params); i++ {
				if strings.Contains(q.Text, "$"+itoa(i)) {
					n++
				}
			}
		}
		if n < len(q.Params) {
			t.Fatalf("Rewrite(%q) = %q with %d params but %d placeholders", in, q.Text, len(q.Params), n)
		}
		if !strings.Contains(in, "%") && q.Text != in {
			t.Fatalf("Rewrite(%q) changed a query without variables: %q", in, q.Text)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
