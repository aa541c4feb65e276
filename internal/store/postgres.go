package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The store is one codebase over database/sql for both databases. Its SQL
// is written for SQLite with ? placeholders; on PostgreSQL every statement
// goes through rebindConn, which rewrites the placeholders to $1, $2, ...
// and turns bool arguments into the 0/1 integers both schemas store. So
// store code written with ? (and tests' fixtures through Raw) run on both,
// and only the few queries that use a database's own features ask
// db.Postgres() (see dialect-specific helpers beside them).

// IsPostgresURL reports whether dsn names a PostgreSQL database.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// PoolConfig sizes a PostgreSQL connection pool; zero fields take the
// defaults (10 open connections, idle ones kept, 30 minutes per connection).
type PoolConfig struct {
	MaxConns        int
	ConnMaxLifetime time.Duration
}

// RedactURL returns dsn with any password replaced, for messages and logs.
func RedactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable database URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// CheckPostgresURL says what is wrong with a PostgreSQL URL, never
// repeating its password.
func CheckPostgresURL(dsn string) error {
	if !IsPostgresURL(dsn) {
		return fmt.Errorf("%q is not a postgres:// URL", RedactURL(dsn))
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return fmt.Errorf("%s cannot be used: %s", RedactURL(dsn), strings.ReplaceAll(err.Error(), dsn, RedactURL(dsn)))
	}
	return nil
}

// OpenPostgres connects to the PostgreSQL database at dsn (postgres://...)
// and applies all pending migrations. One pool serves reads and writes:
// PostgreSQL has no single writer, so db.Write and db.Read are the same
// *sql.DB.
func OpenPostgres(ctx context.Context, dsn string, pool PoolConfig) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", RedactURL(dsn), err)
	}
	host := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	if cfg.ConnectTimeout == 0 {
		// Fail fast when the server is down or restarting: a page waits
		// seconds, not the operating system's TCP timeout (connect_timeout
		// in the URL overrides).
		cfg.ConnectTimeout = 5 * time.Second
	}
	w := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	if pool.MaxConns <= 0 {
		pool.MaxConns = 10
	}
	if pool.ConnMaxLifetime <= 0 {
		pool.ConnMaxLifetime = 30 * time.Minute
	}
	w.SetMaxOpenConns(pool.MaxConns)
	w.SetMaxIdleConns(pool.MaxConns)
	w.SetConnMaxLifetime(pool.ConnMaxLifetime)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.PingContext(pctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s (database %q): %w", host, cfg.Database, pgExplain(err))
	}
	db := &DB{Write: w, Read: w, Path: RedactURL(dsn), pg: true, pgCfg: cfg}
	if err := db.Migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.prepareAudit(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return db, nil
}

// OpenURL opens dsn: a postgres:// URL is PostgreSQL, anything else is the
// path of a SQLite file.
func OpenURL(ctx context.Context, dsn string, pool PoolConfig) (*DB, error) {
	if IsPostgresURL(dsn) {
		return OpenPostgres(ctx, dsn, pool)
	}
	return Open(ctx, dsn)
}

// Postgres reports whether db is a PostgreSQL database.
func (db *DB) Postgres() bool { return db != nil && db.pg }

// Postgres reports whether t runs on PostgreSQL.
func (t *Tx) Postgres() bool { return t.pg }

// pgExplain words a connection failure for the person starting the server.
func pgExplain(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("the server is not reachable or refused the connection: %w", err)
	}
	return err
}

// retryable reports whether err is one PostgreSQL asks the client to retry
// the whole transaction for: a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// pgConstraint reports whether err is an integrity violation (class 23:
// unique, check, foreign key, and the audit triggers' refusals).
func pgConstraint(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "23")
}

// Rebind rewrites ? placeholders to PostgreSQL's $1, $2, ... outside
// string literals, quoted identifiers, comments and dollar-quoted bodies.
func Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote inside
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i - 1
			}
			b.WriteString(q[i : i+j+1])
			i += j
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			end := len(q)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(q[i:end])
			i = end - 1
		case c == '$':
			// A dollar-quote tag: $$ or $tag$ (a $n parameter is digits only).
			j := i + 1
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z') {
				j++
			}
			if j < len(q) && q[j] == '$' {
				tag := q[i : j+1]
				k := strings.Index(q[j+1:], tag)
				end := len(q)
				if k >= 0 {
					end = j + 1 + k + len(tag)
				}
				b.WriteString(q[i:end])
				i = end - 1
				continue
			}
			b.WriteByte(c)
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pgArgs turns bools into 0/1: the schemas keep flags as integers (SQLite
// has no boolean), and pgx will not encode a bool into a bigint.
func pgArgs(args []driver.NamedValue) []driver.NamedValue {
	for i := range args {
		if v, ok := args[i].Value.(bool); ok {
			if v {
				args[i].Value = int64(1)
			} else {
				args[i].Value = int64(0)
			}
		}
	}
	return args
}

// rebindConnector hands out connections that rebind every statement.
type rebindConnector struct{ c driver.Connector }

func (r rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := r.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{c.(*stdlib.Conn)}, nil
}

func (r rebindConnector) Driver() driver.Driver { return r.c.Driver() }

// rebindConn is pgx's database/sql connection with Rebind and pgArgs in
// front of every statement.
type rebindConn struct{ c *stdlib.Conn }

func (c *rebindConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	s, err := c.c.PrepareContext(ctx, Rebind(q))
	if err != nil {
		return nil, err
	}
	return &rebindStmt{s.(*stdlib.Stmt)}, nil
}

func (c *rebindConn) Close() error              { return c.c.Close() }
func (c *rebindConn) Begin() (driver.Tx, error) { return c.c.Begin() } //nolint:staticcheck // driver.Conn requires it
func (c *rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.BeginTx(ctx, opts)
}

func (c *rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.c.ExecContext(ctx, Rebind(q), pgArgs(args))
}

func (c *rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.c.QueryContext(ctx, Rebind(q), pgArgs(args))
}

func (c *rebindConn) Ping(ctx context.Context) error                  { return c.c.Ping(ctx) }
func (c *rebindConn) CheckNamedValue(v *driver.NamedValue) error      { return c.c.CheckNamedValue(v) }
func (c *rebindConn) ResetSession(ctx context.Context) error          { return c.c.ResetSession(ctx) }
func (c *rebindConn) IsValid() bool                                   { return !c.c.Conn().IsClosed() }
func (s *rebindStmt) Close() error                                    { return s.s.Close() }
func (s *rebindStmt) NumInput() int                                   { return s.s.NumInput() }
func (s *rebindStmt) Exec(args []driver.Value) (driver.Result, error) { return s.s.Exec(args) }  //nolint:staticcheck
func (s *rebindStmt) Query(args []driver.Value) (driver.Rows, error)  { return s.s.Query(args) } //nolint:staticcheck

// rebindStmt is a prepared statement with pgArgs in front.
type rebindStmt struct{ s *stdlib.Stmt }

func (s *rebindStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.s.ExecContext(ctx, pgArgs(args))
}

func (s *rebindStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.s.QueryContext(ctx, pgArgs(args))
}
