package sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Bounds on one query, so that a slow or broken database cannot hold the
// auth process.
const (
	QueryTimeout   = 10 * time.Second
	ConnectTimeout = 5 * time.Second
	DefaultMaxConn = 5
)

// column is one non-NULL value of a result row.
type column struct{ name, value string }

// backend runs a query with bound arguments and returns at most max rows
// (all when max is 0) with their non-NULL columns, as text.
type backend interface {
	query(ctx context.Context, q string, args []any, max int) ([][]column, error)
	close() error
}

func openBackend(c *Config) (backend, error) {
	switch c.Driver {
	case "sqlite":
		return openSQLite(c.Connect)
	case "pgsql":
		return openPg(c.Connect)
	}
	return nil, fmt.Errorf("unknown driver %q", c.Driver)
}

// sqliteDB is an embedded SQLite database file, opened read-only: the
// auth process never writes to it.
type sqliteDB struct{ db *sql.DB }

func openSQLite(connect string) (*sqliteDB, error) {
	path := strings.TrimPrefix(connect, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(DefaultMaxConn)
	ctx, cancel := context.WithTimeout(context.Background(), ConnectTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &sqliteDB{db: db}, nil
}

func (s *sqliteDB) query(ctx context.Context, q string, args []any, max int) ([][]column, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]column
	for rows.Next() {
		if max > 0 && len(out) == max {
			break
		}
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var row []column
		for i, v := range vals {
			if v.Valid {
				row = append(row, column{strings.ToLower(names[i]), v.String})
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (s *sqliteDB) close() error { return s.db.Close() }

// pgDB is a PostgreSQL connection pool.
type pgDB struct{ pool *pgxpool.Pool }

// openPg takes a libpq connect string ("host=... dbname=... user=...",
// or a postgres:// URL). Dovecot's maxconns=N sets the pool size.
func openPg(connect string) (*pgDB, error) {
	maxConns := DefaultMaxConn
	var kept []string
	for w := range strings.FieldsSeq(connect) {
		if v, ok := strings.CutPrefix(w, "maxconns="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return nil, fmt.Errorf("pgsql: bad maxconns %q", v)
			}
			maxConns = n
			continue
		}
		kept = append(kept, w)
	}
	cfg, err := pgxpool.ParseConfig(strings.Join(kept, " "))
	if err != nil {
		// pgx quotes the connect string, password included, in some
		// errors: say only that it is malformed.
		return nil, errors.New("pgsql: cannot parse the connect string")
	}
	cfg.MaxConns = int32(maxConns)
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "cote-auth"
	// Prepared statements survive a server restart badly; describe each
	// statement instead of caching it by name.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("pgsql: %w", err)
	}
	return &pgDB{pool: pool}, nil
}

func (p *pgDB) query(ctx context.Context, q string, args []any, max int) ([][]column, error) {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	var out [][]column
	for rows.Next() {
		if max > 0 && len(out) == max {
			break
		}
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		var row []column
		for i, v := range vals {
			if v == nil {
				continue
			}
			row = append(row, column{strings.ToLower(fds[i].Name), text(v)})
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// text renders a PostgreSQL value as the field text Dovecot would get
// from libpq.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		if x {
			return "t"
		}
		return "f"
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func (p *pgDB) close() error {
	p.pool.Close()
	return nil
}
