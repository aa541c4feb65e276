package store

import (
	"context"
	"database/sql"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// olderDesk is a SQLite desk at the schema of migration last, as an older
// release left it: the root migrations up to last, applied as Migrate
// applied them then.
func olderDesk(t *testing.T, last string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "desk.db")
	raw, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetMaxOpenConns(1)
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	for _, p := range files {
		name := strings.TrimPrefix(p, "migrations/")
		if name > last {
			break
		}
		body, err := migrationFS.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?)`, name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			t.Fatal(err)
		}
	}
	return path, raw
}

// insertProductRows writes one row of product api into each table that
// names the product, the refund with an attempt and a webhook event
// pointing at it.
func insertProductRows(db interface {
	Exec(string, ...any) (sql.Result, error)
}, api, id string) error {
	const at = "2026-12-01T00:00:00.000000Z"
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at, updated_at)
			VALUES (?, ?, 'T-1', 5000, 7, ?, ?)`, []any{id, api, at, at}},
		{`INSERT INTO refund_attempts (refund_id, n, started_at) VALUES (?, 1, ?)`, []any{id, at}},
		{`INSERT INTO webhook_events (api, dedupe_key, refund_id, received_at, last_received_at, applied)
			VALUES (?, ?, ?, ?, ?, 'applied')`, []any{api, "k-" + id, id, at, at}},
		{`INSERT INTO transactions_cache (api, ref, payload, fetched_at) VALUES (?, ?, '{}', ?)`, []any{api, "T-" + id, at}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			return err
		}
	}
	return nil
}

// schemaOf is every index and trigger of the desk, and every table but
// the three whose CHECK 0042 removes and the one 0044 adds a column to,
// by name.
func schemaOf(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT type || ' ' || name, coalesce(sql, '') FROM sqlite_schema
		WHERE name NOT IN ('refunds', 'transactions_cache', 'webhook_events', 'schema_migrations', 'col_sweep_findings')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			t.Fatal(err)
		}
		out[name] = text
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIntact fails unless the whole database passes integrity_check and
// foreign_key_check.
func checkIntact(t *testing.T, db *sql.DB) {
	t.Helper()
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("foreign_key_check reports a row")
	}
}

// Migrations 0042 and 0044 on a desk that an older release left (at
// 0040, with rows): the rows, indexes, triggers and foreign keys are as they were,
// the database is intact, the product column takes a fourth product's
// name, and the other CHECKs still hold.
func TestProductCheckMigrationOnAnOlderDesk(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("about SQLite's schema; PostgreSQL never had the list")
	}
	path, raw := olderDesk(t, "0040_requester_totals.sql")
	for i, api := range []string{"PG", "GC", "COL"} {
		if err := insertProductRows(raw, api, "old-"+api); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	if err := insertProductRows(raw, "VOUCHER", "v-before"); err == nil || !strings.Contains(err.Error(), "CHECK") {
		t.Fatalf("before 0042 a fourth product's row = %v, want a CHECK failure", err)
	}
	if _, err := raw.Exec(`INSERT INTO col_sweep_findings (request_id, kind, first_seen_at, last_seen_at, last_sweep_id)
		VALUES ('f-1', 'unknown_to_desk', 'x', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	before := schemaOf(t, raw)
	var makerCounts int
	raw.QueryRow(`SELECT sum(n) FROM refund_maker_counts`).Scan(&makerCounts)
	raw.Close()

	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open (migrates 0042): %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if applied, _ := db.Applied(ctx); !slices.Contains(applied, "0042_product_any.sql") {
		t.Fatalf("0042 not applied: %v", applied)
	}
	if after := schemaOf(t, db.Write); !maps.Equal(before, after) {
		t.Errorf("indexes, triggers or other tables changed:\nbefore %v\nafter  %v", before, after)
	}
	var refunds, attempts, events, cached int
	db.Read.QueryRow(`SELECT (SELECT count(*) FROM refunds WHERE id LIKE 'old-%'), (SELECT count(*) FROM refund_attempts),
		(SELECT count(*) FROM webhook_events), (SELECT count(*) FROM transactions_cache)`).Scan(&refunds, &attempts, &events, &cached)
	if refunds != 3 || attempts != 3 || events != 3 || cached != 3 {
		t.Errorf("rows after 0042: refunds %d, attempts %d, events %d, cache %d; want 3 each", refunds, attempts, events, cached)
	}
	// 0044: the findings before it were COL's list's.
	var findingAPI string
	if err := db.Read.QueryRow(`SELECT api FROM col_sweep_findings WHERE request_id = 'f-1'`).Scan(&findingAPI); err != nil || findingAPI != "COL" {
		t.Errorf("an older finding's product = %q, %v; want COL", findingAPI, err)
	}
	checkIntact(t, db.Write)

	if err := insertProductRows(db.Write, "VOUCHER", "v-after"); err != nil {
		t.Fatalf("a fourth product's rows after 0042: %v", err)
	}
	var n int
	if err := db.Read.QueryRow(`SELECT sum(n) FROM refund_maker_counts`).Scan(&n); err != nil || n != makerCounts+1 {
		t.Errorf("maker counts = %d, %v; want %d (the insert trigger no longer runs)", n, err, makerCounts+1)
	}
	for what, q := range map[string]string{
		"a foreign key": `INSERT INTO refund_attempts (refund_id, n, started_at) VALUES ('nobody', 1, 'x')`,
		"amount > 0": `INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at, updated_at)
			VALUES ('zero', 'VOUCHER', 'T', 0, 1, 'x', 'x')`,
		"the applied list": `INSERT INTO webhook_events (api, dedupe_key, received_at, last_received_at, applied)
			VALUES ('VOUCHER', 'k', 'x', 'x', 'whatever')`,
		"a NOT NULL product": `INSERT INTO transactions_cache (api, ref, payload, fetched_at) VALUES (NULL, 'r', '{}', 'x')`,
	} {
		if _, err := db.Write.Exec(q); err == nil {
			t.Errorf("%s no longer holds", what)
		}
	}
	checkIntact(t, db.Write)
}

// A desk migrated from scratch stores no product list, and its read
// connections (which parsed the schema before 0042 ran) see the new one.
func TestProductCheckGoneFromScratch(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("about SQLite's schema; PostgreSQL never had the list")
	}
	db := openTest(t)
	var n int
	if err := db.Read.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%''COL''%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d schema entries still list the products (%v)", n, err)
	}
	if err := insertProductRows(db.Write, "VOUCHER", "v-1"); err != nil {
		t.Fatalf("a fourth product's rows: %v", err)
	}
	var api string
	if err := db.Read.QueryRow(`SELECT api FROM refunds WHERE id = 'v-1'`).Scan(&api); err != nil || api != "VOUCHER" {
		t.Errorf("read back = %q, %v", api, err)
	}
	checkIntact(t, db.Write)
}

// The step refuses a schema it does not know (here: one it already
// edited) loudly, and changes nothing.
func TestProductCheckStepRefusesAnUnknownSchema(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("about SQLite's schema; PostgreSQL never had the list")
	}
	db := openTest(t)
	ctx := context.Background()
	before := schemaOf(t, db.Write)
	var version int64
	db.Write.QueryRow(`PRAGMA schema_version`).Scan(&version)
	err := db.Tx(ctx, func(tx *Tx) error { return dropProductChecks(ctx, tx.stx) })
	if err == nil || !strings.Contains(err.Error(), "not edited") {
		t.Fatalf("step on an edited schema = %v, want a refusal", err)
	}
	var after int64
	db.Write.QueryRow(`PRAGMA schema_version`).Scan(&after)
	if after != version || !maps.Equal(before, schemaOf(t, db.Write)) {
		t.Errorf("schema changed by a refused step: version %d -> %d", version, after)
	}
	var ws int
	if err := db.Write.QueryRow(`PRAGMA writable_schema`).Scan(&ws); err != nil || ws != 0 {
		t.Errorf("writable_schema left %d (%v)", ws, err)
	}
}
