package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// goStep is the Go part of a SQLite migration, run in the migration's
// transaction after its SQL file, or nil.
func goStep(name string) func(ctx context.Context, tx *sql.Tx) error {
	switch name {
	case "0042_product_any.sql":
		return dropProductChecks
	}
	return nil
}

// productCheck is the list of products that SQLite migrations 0004 and
// 0010 wrote into the product column of these tables, exactly as the
// stored CREATE TABLE text holds it.
const productCheck = ` CHECK (api IN ('PG', 'GC', 'COL'))`

var productCheckTables = []string{"refunds", "transactions_cache", "webhook_events"}

// dropProductChecks removes productCheck from the stored schema of
// productCheckTables by SQLite's documented procedure for removing a CHECK
// (lang_altertable.html, "Making Other Kinds Of Table Schema Changes"):
// rewrite sqlite_schema.sql under writable_schema and bump schema_version
// so that every connection parses the schema again. A CHECK removed
// cannot make a stored row invalid, so no row is read. A table whose text
// does not hold the CHECK exactly once fails the migration: a schema this
// step does not know is not edited blindly.
func dropProductChecks(ctx context.Context, tx *sql.Tx) error {
	var version int64
	if err := tx.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema_version: %w", err)
	}
	edited := map[string]string{}
	for _, table := range productCheckTables {
		var text string
		err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&text)
		if err != nil {
			return fmt.Errorf("read the schema of %s: %w", table, err)
		}
		if n := strings.Count(text, productCheck); n != 1 {
			return fmt.Errorf("table %s: its schema holds %q %d times, not once: not edited", table, productCheck, n)
		}
		edited[table] = strings.Replace(text, productCheck, "", 1)
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA writable_schema = ON`); err != nil {
		return fmt.Errorf("writable_schema: %w", err)
	}
	// Off again on every path: the connection goes back to the pool.
	defer tx.ExecContext(context.WithoutCancel(ctx), `PRAGMA writable_schema = OFF`) //nolint:errcheck
	for _, table := range productCheckTables {
		res, err := tx.ExecContext(ctx, `UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?`, edited[table], table)
		if err != nil {
			return fmt.Errorf("edit the schema of %s: %w", table, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("edit the schema of %s: %d rows changed (%v)", table, n, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA schema_version = %d`, version+1)); err != nil {
		return fmt.Errorf("bump schema_version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA writable_schema = OFF`); err != nil {
		return fmt.Errorf("writable_schema: %w", err)
	}
	// The edited text is parsed again here: a schema SQLite cannot read
	// fails the check, and the transaction rolls the edit back.
	for _, table := range productCheckTables {
		if err := quickCheck(ctx, tx, table); err != nil {
			return err
		}
	}
	return nil
}

// quickCheck runs PRAGMA quick_check on one table and its indexes.
func quickCheck(ctx context.Context, tx *sql.Tx, table string) error {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`PRAGMA quick_check(%s)`, table))
	if err != nil {
		return fmt.Errorf("quick_check %s: %w", table, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("quick_check %s: %w", table, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quick_check %s: %w", table, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("quick_check %s: %s", table, strings.Join(problems, "; "))
	}
	return nil
}
