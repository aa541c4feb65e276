// Package store opens the database, applies the embedded migrations and
// runs transactions: on SQLite (the default) on a single writer connection
// beside a read pool; on PostgreSQL (postgres.go, DATABASE_URL) on one pool,
// write transactions side by side, each rule that reads, decides and writes
// holding the row or key locks it decides on (locks.go). All SQL of the
// application lives here.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/neox-refund-desk/refunddesk/internal/prio"
)

//go:embed migrations/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// DB is the application database: one writer connection, so writes are
// serialized and never see SQLITE_BUSY from each other, and a pool of
// read-only connections that WAL lets run beside it.
type DB struct {
	Write *sql.DB
	Read  *sql.DB
	Path  string

	audit *auditStmts     // the audit append's prepared statements (audit.go)
	pg    bool            // PostgreSQL (postgres.go): Write and Read are one pool
	pgCfg *pgx.ConnConfig // PostgreSQL: for connections outside the pool (wake.go's listener)

	// gate, on SQLite, orders the write transactions waiting for the one
	// writer: database/sql hands a freed connection to a random waiter, so
	// under load a write could lose that draw many times over. The gate
	// serves them first come, first served, urgent ones (NeoX's webhook
	// deliveries, which NeoX times out and retries) first. PostgreSQL runs
	// write transactions side by side.
	gate *prio.Sem

	mu     sync.Mutex
	damage error // what the last CheckIntegrity found; nil when fine or never run
}

// pragmas go in the DSN so that every pooled connection gets them;
// busy_timeout comes first so the later ones wait instead of failing.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Money state: FULL so a commit survives power loss in WAL mode.
	q.Add("_pragma", "synchronous(FULL)")
	// The append-only audit triggers make SQLite keep a statement journal;
	// in memory it costs far less than a temp file.
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies all
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if IsPostgresURL(path) { // not a file name: it would make one named "postgres:"
		return nil, errors.New("store: Open takes a SQLite file; a postgres:// URL goes to OpenURL or OpenPostgres")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, explain(err))
	}
	db := &DB{Write: w, Path: path, gate: prio.New(1)}
	if err := db.Migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.analyzeNewIndexes(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.prepareAudit(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open read pool: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.Read = r
	return db, nil
}

// analyzeNewIndexes gives SQLite statistics for the indexes that have
// none on a table that has them: a database analyzed before a migration
// added an index (the load test's fixture; a desk whose operator ran
// ANALYZE). Without them the planner takes the new index for a very
// selective one and may use it where an analyzed one avoids a sort: the
// own refund list went from 188 ms to 353 ms that way when migration 0040
// added refunds_requester_totals. A database never analyzed is left so:
// there every index has the same default estimates.
func (db *DB) analyzeNewIndexes(ctx context.Context) error {
	var analyzed int
	if err := db.Write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'`).
		Scan(&analyzed); err != nil || analyzed == 0 {
		return err
	}
	rows, err := db.Write.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index'
		AND tbl_name IN (SELECT tbl FROM sqlite_stat1)
		AND name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)
		AND name NOT LIKE 'sqlite_autoindex_%'`)
	if err != nil {
		return fmt.Errorf("find indexes without statistics: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := db.Write.ExecContext(ctx, `ANALYZE "`+strings.ReplaceAll(n, `"`, `""`)+`"`); err != nil {
			return fmt.Errorf("analyze index %s: %w", n, err)
		}
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	errs := []error{db.audit.close()}
	if db.Read != nil && db.Read != db.Write {
		errs = append(errs, db.Read.Close())
	}
	errs = append(errs, db.Write.Close())
	return errors.Join(errs...)
}

// Ping checks that the database answers a query (used by /readyz).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.Read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// CheckIntegrity runs SQLite's quick_check on a connection of its own
// (a pooled one's page cache could hide damage on disk) and remembers the
// outcome for Damaged. It reads the whole file: the server runs it at start
// and every few hours, never per request.
func (db *DB) CheckIntegrity(ctx context.Context) error {
	if db.pg {
		return nil // PostgreSQL checks its own pages (and the operator runs amcheck)
	}
	c, err := sql.Open("sqlite", dsn(db.Path, true))
	if err != nil {
		return err
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, `PRAGMA quick_check(5)`)
	var problems []string
	if err == nil {
		for rows.Next() {
			var line string
			if err = rows.Scan(&line); err != nil {
				break
			}
			if line != "ok" {
				problems = append(problems, line)
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if ctx.Err() != nil {
		return ctx.Err() // cut short: says nothing about the file
	}
	var damage error
	switch {
	case err != nil:
		damage = fmt.Errorf("database %s failed its integrity check: %w", db.Path, explain(err))
	case len(problems) > 0:
		damage = fmt.Errorf("database %s is damaged (%s); restore it from a backup", db.Path, strings.Join(problems, "; "))
	}
	db.mu.Lock()
	db.damage = damage
	db.mu.Unlock()
	return damage
}

// Damaged returns what the last CheckIntegrity found wrong, or nil.
func (db *DB) Damaged() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.damage
}

// Tx is one write transaction. It carries the moment it was opened for,
// so every row it writes agrees on "now". Domain packages pass it to the
// store's typed operations; the SQL forwarders below are transitional and
// go away as the remaining queries move into this package.
type Tx struct {
	stx *sql.Tx
	now time.Time
	db  *DB // for the statements prepared once per DB
	pg  bool
	// write: a write transaction. On PostgreSQL its reads of what it
	// decides on lock (locks.go); a View's reads never do.
	write bool

	// beforeCommit runs, in order, after fn succeeded and before the
	// commit; an error rolls everything back. Operations use it for work
	// best done once per transaction (audit.go: the chain head row and the
	// search index).
	beforeCommit []func() error
	// afterCommit runs, in order, once the commit succeeded.
	afterCommit []func()
	audit       auditTxState // the audit chain's head as this transaction moves it (audit.go)
}

// Now is the time the transaction acts at.
func (t *Tx) Now() time.Time { return t.now }

// Raw is the underlying transaction, for test fixtures that write rows
// the store has no operation for. Code outside the store never uses it
// (TestNoSQLOutsideStore fails if it does).
func (t *Tx) Raw() *sql.Tx { return t.stx }

// Tx runs fn inside an immediate write transaction acting at the current
// time and commits when fn returns nil.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.TxAt(ctx, time.Now(), fn)
}

// TxAt runs fn inside an immediate write transaction acting at now (the
// caller's clock, so tests and the domain agree) and commits when fn
// returns nil. Operations take the *Tx so several writes compose into one
// commit.
func (db *DB) TxAt(ctx context.Context, now time.Time, fn func(tx *Tx) error) error {
	return db.txAt(ctx, now, false, fn)
}

// UrgentTxAt is TxAt for a transaction someone outside waits on with a
// short timeout (NeoX's webhook deliveries), or that moves approved refunds
// on (the worker's claim and answer): on SQLite it gets the writer
// before the page and worker transactions waiting for it.
func (db *DB) UrgentTxAt(ctx context.Context, now time.Time, fn func(tx *Tx) error) error {
	return db.txAt(ctx, now, true, fn)
}

func (db *DB) txAt(ctx context.Context, now time.Time, urgent bool, fn func(tx *Tx) error) error {
	if db.gate != nil {
		if err := db.gate.Acquire(ctx, urgent); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		defer db.gate.Release()
	}
	// On PostgreSQL a deadlock or serialization failure aborts the whole
	// transaction and nothing of it is kept, so running fn again is what
	// the server asks for; fn only does database work through tx (the
	// store's contract), so a retry repeats nothing outside the database.
	for attempt := 1; ; attempt++ {
		err := db.txOnce(ctx, now, fn)
		if err == nil || !db.pg || !retryable(err) || attempt == 4 || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
	}
}

func (db *DB) txOnce(ctx context.Context, now time.Time, fn func(tx *Tx) error) error {
	stx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	// On PostgreSQL writers run side by side at READ COMMITTED: the rules
	// that read, decide and write take the locks they decide on (locks.go),
	// and the audit chain's head is taken last, at the commit (audit.go).
	tx := &Tx{stx: stx, now: now.UTC(), db: db, pg: db.pg, write: true}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	for _, f := range tx.beforeCommit {
		if err := f(); err != nil {
			_ = stx.Rollback()
			return err
		}
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// AfterCommit has f run once t has committed (never if it rolls back, or
// for an attempt PostgreSQL made the store retry): for telling others in
// the process about rows they can now read.
func (t *Tx) AfterCommit(f func()) { t.afterCommit = append(t.afterCommit, f) }

// View runs fn inside a read-only transaction on the read pool, so every
// query it makes sees one snapshot. It always rolls back.
func (db *DB) View(ctx context.Context, now time.Time, fn func(tx *Tx) error) error {
	stx, err := db.beginRead(ctx)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer stx.Rollback()
	return fn(&Tx{stx: stx, now: now.UTC(), pg: db.pg})
}

// beginRead opens a read-only transaction on one snapshot: SQLite's read
// transaction is one; PostgreSQL needs REPEATABLE READ for it.
func (db *DB) beginRead(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.pg {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return db.Read.BeginTx(ctx, opts)
}

// Migrate applies, in file-name order, every embedded migration not yet
// recorded in schema_migrations, each in its own transaction. On
// PostgreSQL a file of the same name in migrations/postgres/ replaces the
// root one (the root migrations are portable SQL unless overridden), and
// each migration holds an advisory lock so instances starting together
// apply it once.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", explain(err))
	}
	files, err := db.migrationFiles()
	if err != nil {
		return err
	}
	done, err := db.Applied(ctx)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", explain(err))
	}
	for _, m := range files {
		base := m.name
		if slices.Contains(done, base) {
			continue // no write transaction for what is applied: a busy database is not a migration's fault
		}
		body, err := migrationFS.ReadFile(m.path)
		if err != nil {
			return err
		}
		err = db.Tx(ctx, func(tx *Tx) error {
			if db.pg {
				if _, err := tx.stx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727165)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.stx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.stx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if step := goStep(base); step != nil && !db.pg {
				if err := step(ctx, tx.stx); err != nil {
					return err
				}
			}
			_, err := tx.stx.ExecContext(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)`,
				base, time.Now().UTC().Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, explain(err))
		}
	}
	return nil
}

type migrationFile struct{ name, path string }

// migrationFiles lists the migrations for db's database in name order.
func (db *DB) migrationFiles() ([]migrationFile, error) {
	root, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, p := range root {
		byName[strings.TrimPrefix(p, "migrations/")] = p
	}
	if db.pg {
		over, err := fs.Glob(migrationFS, "migrations/postgres/*.sql")
		if err != nil {
			return nil, err
		}
		for _, p := range over {
			byName[strings.TrimPrefix(p, "migrations/postgres/")] = p
		}
	}
	out := make([]migrationFile, 0, len(byName))
	for n, p := range byName {
		out = append(out, migrationFile{n, p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// Applied lists the names of applied migrations, oldest first.
func (db *DB) Applied(ctx context.Context) ([]string, error) {
	rows, err := db.Write.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// checkWritable says plainly when the database file, or the directory it
// is to be created in, cannot be written: SQLite only says "unable to open
// database file (14)".
func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return openProblem("database "+path, err)
	}
	f.Close()
	// WAL mode also creates path-wal and path-shm beside the file.
	probe, err := os.CreateTemp(filepath.Dir(path), ".write-test-*")
	if err != nil {
		return openProblem("data directory "+filepath.Dir(path), err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// openProblem words a failure to open or create what, so that "permission
// denied" and "read-only file system" reach the person starting the server.
func openProblem(what string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied: the user running Refund Desk must be able to read and write the database and create files in its directory (DATA_DIR or DB_PATH): %w", what, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%s: the file system is read-only; choose a writable DATA_DIR or DB_PATH: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// explain adds what a person can do to SQLite's terse errors.
func explain(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("%w: another process kept the database locked for more than 5 s (another server, or a tool with an open transaction)", err)
	case strings.Contains(msg, "malformed"), strings.Contains(msg, "not a database"):
		return fmt.Errorf("%w: the database file is damaged; restore it from a backup", err)
	}
	return err
}

// IsConstraint reports whether err is a SQLite constraint violation
// (unique, check, foreign key, or a trigger's RAISE(ABORT)).
func IsConstraint(err error) bool {
	if pgConstraint(err) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "constraint")
}

// TimeFormat is how times are stored: UTC, fixed width so text order is
// time order.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t for storage.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime reads a stored time.
func ParseTime(s string) (time.Time, error) { return time.Parse(TimeFormat, s) }
