package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Backup writes a consistent copy of the SQLite database at src into dst,
// which must not exist or be an empty file, with VACUUM INTO: one read
// transaction on a read-only connection of its own, so a server running on
// src carries on writing (WAL) and the copy holds exactly the commits made
// before it began. Nothing in src is changed or migrated: a newer binary
// taking a backup before an upgrade leaves the running server's database as
// it is. The copy is then switched to a rollback journal, so it is one
// self-contained file that can be moved and opened anywhere.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("database %s: %w", src, err)
	}
	from, err := sql.Open("sqlite", plainDSN(src, "ro"))
	if err != nil {
		return fmt.Errorf("open %s for backup: %w", src, err)
	}
	defer from.Close()
	from.SetMaxOpenConns(1)
	if _, err := from.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("copy %s into %s: %w", src, dst, explain(err))
	}
	if err := from.Close(); err != nil {
		return err
	}
	to, err := sql.Open("sqlite", plainDSN(dst, ""))
	if err != nil {
		return fmt.Errorf("open the copy %s: %w", dst, err)
	}
	defer to.Close()
	var mode string
	if err := to.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode); err != nil {
		return fmt.Errorf("the copy %s: set its journal mode: %w", dst, explain(err))
	}
	return to.Close()
}

// plainDSN is a DSN with no journal or synchronous pragmas: for files the
// server does not run on (backups), opened by one connection at a time.
// mode "ro" opens read-only.
func plainDSN(path, mode string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	if mode != "" {
		q.Set("mode", mode)
	}
	return "file:" + path + "?" + q.Encode()
}

// OpenCopy opens a backup copy (a file Backup wrote) read-only, without
// migrating it, for checks: IntegrityCheck, the audit chain, counts. Close
// it when done.
func OpenCopy(ctx context.Context, path string) (*DB, error) {
	c, err := sql.Open("sqlite", plainDSN(path, "ro"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	if err := c.PingContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("open %s: %w", path, explain(err))
	}
	return &DB{Write: c, Read: c, Path: path}, nil
}

// IntegrityCheck runs SQLite's full integrity_check (every page, index
// and constraint: slow on a big file; the server itself uses the cheaper
// quick_check) and returns what it found wrong, or nil.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	if db.pg {
		return nil
	}
	rows, err := db.Read.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return fmt.Errorf("integrity check of %s: %w", db.Path, explain(err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check of %s: %w", db.Path, explain(err))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check of %s: %w", db.Path, explain(err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s failed its integrity check: %s", db.Path, strings.Join(problems, "; "))
	}
	return nil
}

// ProbeWrite shows that the database takes writes now: it opens a write
// transaction (on SQLite the writer's lock), writes one row and rolls it
// back, so nothing is kept. /readyz calls it: a database that answers
// reads but refuses writes (read-only, disk full, a lock held elsewhere)
// cannot take a refund.
func (db *DB) ProbeWrite(ctx context.Context) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a write: %w", explain(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('readyz_probe', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte{1}); err != nil {
		return fmt.Errorf("write: %w", explain(err))
	}
	return nil
}
