package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CopyCount is how many rows of one table a copy moved.
type CopyCount struct {
	Table string
	Rows  int64
}

// ErrTargetNotEmpty is returned by CopyToPostgres when the target already
// holds data: a copy never merges two desks.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// copySkip are the tables a copy does not move: the migrations' own record
// (both sides have run the same ones), SQLite's full-text search tables
// (PostgreSQL searches audit_events through pg_trgm), the counts the
// target's triggers rebuild as refunds arrive, and the audit head, which
// is set from the source's once the events are in.
func copySkip(table string) bool {
	switch table {
	case "schema_migrations", "refund_maker_counts", "audit_head":
		return true
	}
	return strings.HasPrefix(table, "audit_target_search") || strings.HasPrefix(table, "sqlite_")
}

// copyFirst are copied before the rest, in this order, for the foreign
// keys (sessions → users; idempotency records → api keys; attempts and
// webhooks → refunds).
var copyFirst = []string{"users", "api_keys", "refunds", "audit_events"}

// CopyToPostgres copies every row of src (a SQLite desk) into dst (a
// migrated, empty PostgreSQL database) in one transaction on dst, so a
// failed copy leaves dst as empty as it was. Both must be at the same
// migrations. Tables are found in src's schema, so tables added by later
// migrations are copied too; identity sequences on dst are moved past the
// copied ids. It returns the rows copied per table, in copy order.
func CopyToPostgres(ctx context.Context, src, dst *DB) ([]CopyCount, error) {
	if src.pg || !dst.pg {
		return nil, errors.New("store: copy goes from a SQLite database to a PostgreSQL one")
	}
	sa, err := src.Applied(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the source's migrations: %w", err)
	}
	da, err := dst.Applied(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the target's migrations: %w", err)
	}
	if !slices.Equal(sa, da) {
		return nil, fmt.Errorf("source and target are at different migrations (%d and %d applied): run both with the same version of Refund Desk", len(sa), len(da))
	}
	tables, err := copyTables(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []CopyCount
	err = dst.Tx(ctx, func(tx *Tx) error {
		out = out[:0]
		if err := copyCheckEmpty(ctx, tx, tables); err != nil {
			return err
		}
		for _, table := range tables {
			n, err := copyTable(ctx, src, tx, table)
			if err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			out = append(out, CopyCount{Table: table, Rows: n})
		}
		var h AuditHead
		if err := src.Read.QueryRowContext(ctx, `SELECT seq, hash, at FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash, &h.At); err != nil {
			return fmt.Errorf("read the source's audit chain head: %w", err)
		}
		if _, err := tx.stx.ExecContext(ctx, `UPDATE audit_head SET seq = ?, hash = ?, at = ? WHERE id = 1`, h.Seq, h.Hash, h.At); err != nil {
			return fmt.Errorf("set the audit chain head: %w", err)
		}
		return copyResetIdentities(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// copyTables lists src's tables to copy, copyFirst first.
func copyTables(ctx context.Context, src *DB) ([]string, error) {
	rows, err := src.Read.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list the source's tables: %w", err)
	}
	defer rows.Close()
	var rest []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if !copySkip(n) && !slices.Contains(copyFirst, n) {
			rest = append(rest, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return append(slices.Clone(copyFirst), rest...), nil
}

// copyCheckEmpty refuses a target with any row in a table to copy, or an
// audit chain that has begun.
func copyCheckEmpty(ctx context.Context, tx *Tx, tables []string) error {
	for _, t := range tables {
		var one int
		err := tx.stx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+pgIdent(t)+` LIMIT 1) AS x`).Scan(&one)
		if err != nil {
			return fmt.Errorf("check the target's %s (is it migrated to the source's version?): %w", t, err)
		}
		if one > 0 {
			return fmt.Errorf("%w: table %s has rows; copy into a new, empty database", ErrTargetNotEmpty, t)
		}
	}
	var seq int64
	if err := tx.stx.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&seq); err != nil {
		return fmt.Errorf("read the target's audit chain head: %w", err)
	}
	if seq != 0 {
		return fmt.Errorf("%w: its audit chain has begun", ErrTargetNotEmpty)
	}
	return nil
}

// copyBatchParams bounds one multi-row INSERT's parameters (PostgreSQL
// takes at most 65535).
const copyBatchParams = 30000

// copyTable streams src's rows of table into tx, in batches.
func copyTable(ctx context.Context, src *DB, tx *Tx, table string) (int64, error) {
	bytea, err := copyByteaColumns(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	order := ""
	if table == "audit_events" {
		order = " ORDER BY seq" // the append-only trigger takes events in order only
	}
	rows, err := src.Read.QueryContext(ctx, `SELECT * FROM "`+table+`"`+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgIdent(c)
	}
	perRow := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	batch := max(1, copyBatchParams/len(cols))
	args := make([]any, 0, batch*len(cols))
	var n int64
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		k := len(args) / len(cols)
		q := `INSERT INTO ` + pgIdent(table) + ` (` + strings.Join(quoted, ", ") + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat(perRow+",", k), ",")
		if _, err := tx.stx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		n += int64(k)
		args = args[:0]
		return nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		for i, v := range vals {
			if s, ok := v.(string); ok && bytea[cols[i]] {
				v = []byte(s) // SQLite may hold a BLOB column's value as text
			}
			if b, ok := v.([]byte); ok && !bytea[cols[i]] {
				v = string(b)
			}
			args = append(args, v)
		}
		if len(args) >= batch*len(cols) {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, flush()
}

// copyByteaColumns names table's bytea columns on the target.
func copyByteaColumns(ctx context.Context, tx *Tx, table string) (map[string]bool, error) {
	rows, err := tx.stx.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ? AND data_type = 'bytea'`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out[c] = true
	}
	return out, rows.Err()
}

// copyResetIdentities moves every identity column's sequence past the
// largest id copied, so the next insert does not collide.
func copyResetIdentities(ctx context.Context, tx *Tx) error {
	rows, err := tx.stx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	var cols [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, [2]string{t, c})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, tc := range cols {
		t, c := pgIdent(tc[0]), pgIdent(tc[1])
		if _, err := tx.stx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max(`+c+`), 0) + 1, false) FROM `+t,
			tc[0], tc[1]); err != nil {
			return fmt.Errorf("move the id sequence of %s: %w", tc[0], err)
		}
	}
	return nil
}

// pgIdent quotes an identifier.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// CountRows returns the number of rows of table (a name from the schema,
// as CopyToPostgres reports them).
func (db *DB) CountRows(ctx context.Context, table string) (int64, error) {
	var n int64
	err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM `+pgIdent(table)).Scan(&n)
	return n, err
}
