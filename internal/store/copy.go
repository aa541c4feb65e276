package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// CopyCount is how many rows of one table a copy moved.
type CopyCount struct {
	Table string
	Rows  int64
}

// CopyProgress tells the operator how a copy moves: a table under way
// (Rows of Total so far), a table done (Done), or, once every row is in,
// one index of Table being rebuilt (Index, Done when built; Total is then
// the table's rows). A Note, alone, is something the operator should know.
type CopyProgress struct {
	Note    string
	Table   string
	Index   string
	Rows    int64
	Total   int64 // the source's row count, taken before the copy
	Elapsed time.Duration
	Done    bool
}

// copyIndexMemory is the maintenance_work_mem the copy's index builds get.
const copyIndexMemory = "1GB"

// copyProgressEvery is how often a table under way is reported.
const copyProgressEvery = 5 * time.Second

// ErrTargetNotEmpty is returned by CopyToPostgres when the target already
// holds data: a copy never merges two desks.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// copySkip are the tables a copy does not move: the migrations' own record
// (both sides have run the same ones), SQLite's full-text search tables
// (PostgreSQL searches audit_events through pg_trgm), the counts rebuilt
// from the copied refunds (copyMakerCounts), and the audit head, which is
// set from the source's once the events are in.
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
//
// Rows go through PostgreSQL's COPY protocol, streamed from the source
// query. Inside the transaction the target's secondary indexes are dropped
// before the rows arrive and built again after (one sort instead of
// millions of insertions), and two per-row triggers stand aside: the audit
// append-only check (the copied chain is checked whole by audit verify)
// and the refund counts, rebuilt from the copied refunds in one query. A
// failed copy rolls all of that back with the rows. progress, when not
// nil, is called as the copy moves (from the copying goroutine).
func CopyToPostgres(ctx context.Context, src, dst *DB, progress func(CopyProgress)) ([]CopyCount, error) {
	if src.pg || !dst.pg {
		return nil, errors.New("store: copy goes from a SQLite database to a PostgreSQL one")
	}
	if progress == nil {
		progress = func(CopyProgress) {}
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
	conn, err := dst.Write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	defer conn.Close()
	var out []CopyCount
	err = conn.Raw(func(dc any) error {
		rc, ok := dc.(*rebindConn)
		if !ok {
			return fmt.Errorf("store: unexpected PostgreSQL driver connection %T", dc)
		}
		pc := rc.c.Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op; a failed copy's error is the one to report
		out, err = copyIn(ctx, src, tx, tables, progress)
		if err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted (%w): %w", ctx.Err(), err)
		}
		return nil, err
	}
	return out, nil
}

// CopyFileToPostgres copies the SQLite desk at path into the empty
// PostgreSQL database at dsn (postgres://...), as migrate-to-postgres does
// but without its audit verify: for tests and load runs that want a big
// desk on PostgreSQL quickly. Both are migrated to this version first, so
// the file at path is changed when it is older: copy a file that must stay
// as it is.
func CopyFileToPostgres(ctx context.Context, path, dsn string, progress func(CopyProgress)) ([]CopyCount, error) {
	if IsPostgresURL(path) || !IsPostgresURL(dsn) {
		return nil, errors.New("store: copy goes from a SQLite file to a postgres:// URL")
	}
	src, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := OpenPostgres(ctx, dsn, PoolConfig{MaxConns: 2})
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	return CopyToPostgres(ctx, src, dst, progress)
}

// copyIn does CopyToPostgres's work inside tx.
func copyIn(ctx context.Context, src *DB, tx pgx.Tx, tables []string, progress func(CopyProgress)) ([]CopyCount, error) {
	if err := copyCheckEmpty(ctx, tx, tables); err != nil {
		return nil, err
	}
	// The index builds after the rows sort in memory up to this much (the
	// default is 64MB; a server set higher keeps its own): a 5M-event
	// desk's audit indexes then sort without spilling to disk.
	if _, err := tx.Exec(ctx, `SELECT set_config('maintenance_work_mem', $1, true)
		WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes($1)`, copyIndexMemory); err != nil {
		return nil, err
	}
	// The source's row counts, for progress and to leave the indexes of
	// tables without rows alone.
	totals := map[string]int64{}
	var filled []string
	for _, t := range tables {
		var n int64
		if err := src.Read.QueryRowContext(ctx, `SELECT count(*) FROM `+pgIdent(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("count the source's %s: %w", t, err)
		}
		totals[t] = n
		if n > 0 {
			filled = append(filled, t)
		}
	}
	indexes, triggers, err := copySetAside(ctx, tx, filled, progress)
	if err != nil {
		return nil, err
	}
	var out []CopyCount
	for _, table := range tables {
		n, err := copyTable(ctx, src, tx, table, totals[table], progress)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", table, err)
		}
		out = append(out, CopyCount{Table: table, Rows: n})
	}
	for _, ix := range indexes {
		start := time.Now()
		progress(CopyProgress{Table: ix.table, Index: ix.name, Total: totals[ix.table]})
		if _, err := tx.Exec(ctx, ix.def); err != nil {
			return nil, fmt.Errorf("rebuild index %s: %w", ix.name, err)
		}
		progress(CopyProgress{Table: ix.table, Index: ix.name, Total: totals[ix.table], Elapsed: time.Since(start), Done: true})
	}
	if err := copyEnableTriggers(ctx, tx, triggers); err != nil {
		return nil, err
	}
	var h AuditHead
	if err := src.Read.QueryRowContext(ctx, `SELECT seq, hash, at FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash, &h.At); err != nil {
		return nil, fmt.Errorf("read the source's audit chain head: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2, at = $3 WHERE id = 1`, h.Seq, h.Hash, h.At); err != nil {
		return nil, fmt.Errorf("set the audit chain head: %w", err)
	}
	return out, copyResetIdentities(ctx, tx)
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
func copyCheckEmpty(ctx context.Context, tx pgx.Tx, tables []string) error {
	for _, t := range tables {
		var one int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+pgIdent(t)+` LIMIT 1) AS x`).Scan(&one)
		if err != nil {
			return fmt.Errorf("check the target's %s (is it migrated to the source's version?): %w", t, err)
		}
		if one > 0 {
			return fmt.Errorf("%w: table %s has rows; copy into a new, empty database", ErrTargetNotEmpty, t)
		}
	}
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&seq); err != nil {
		return fmt.Errorf("read the target's audit chain head: %w", err)
	}
	if seq != 0 {
		return fmt.Errorf("%w: its audit chain has begun", ErrTargetNotEmpty)
	}
	return nil
}

// copySetAside drops the secondary indexes of the filled tables and
// disables the per-row triggers the copy replaces, in a savepoint: a role
// that does not own the target's tables may not, and then the copy goes on
// with them in place, slower, after saying so.
func copySetAside(ctx context.Context, tx pgx.Tx, filled []string, progress func(CopyProgress)) ([]copyIndex, [][2]string, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	indexes, err := copyDropIndexes(ctx, sp, filled)
	if err != nil {
		err = fmt.Errorf("set the target's indexes aside: %w", err)
	}
	var triggers [][2]string
	if err == nil {
		if triggers, err = copyDisableTriggers(ctx, sp); err != nil {
			err = fmt.Errorf("set the target's per-row triggers aside: %w", err)
		}
	}
	if err == nil {
		return indexes, triggers, sp.Commit(ctx)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" { // insufficient_privilege
		return nil, nil, err
	}
	if err := sp.Rollback(ctx); err != nil {
		return nil, nil, err
	}
	progress(CopyProgress{Note: "the target's tables belong to another role, so their indexes and triggers stay in place: the copy is several times slower (run it as the tables' owner to avoid that)"})
	return nil, nil, nil
}

// copyIndex is a secondary index set aside for the copy.
type copyIndex struct{ table, name, def string }

// copyDropIndexes drops the indexes of tables (in the current schema) that
// no constraint stands on, returning their definitions to build them again.
// Primary keys, unique constraints and the indexes foreign keys point at
// stay.
func copyDropIndexes(ctx context.Context, tx pgx.Tx, tables []string) ([]copyIndex, error) {
	rows, err := tx.Query(ctx, `SELECT t.relname, x.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_class x ON x.oid = i.indexrelid
		WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		ORDER BY t.relname, x.relname`, tables)
	if err != nil {
		return nil, err
	}
	ixs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (copyIndex, error) {
		var ix copyIndex
		return ix, r.Scan(&ix.table, &ix.name, &ix.def)
	})
	if err != nil {
		return nil, err
	}
	for _, ix := range ixs {
		if _, err := tx.Exec(ctx, `DROP INDEX `+pgIdent(ix.name)); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	return ixs, nil
}

// copyTriggers are the per-row triggers the copy sets aside, as table and
// trigger: the audit append-only check (it reads the chain's end for every
// event; audit verify checks the copied chain whole) and the refund counts
// (copyMakerCounts rebuilds them from the copied refunds).
var copyTriggers = [][2]string{
	{"audit_events", "audit_events_append_only"},
	{"refunds", "refunds_maker_counts_insert"},
}

// copyDisableTriggers disables those of copyTriggers the target has and
// keeps enabled, returning them. ALTER TABLE is transactional: a failed
// copy's rollback leaves them enabled.
func copyDisableTriggers(ctx context.Context, tx pgx.Tx) ([][2]string, error) {
	var off [][2]string
	for _, tt := range copyTriggers {
		var on bool
		err := tx.QueryRow(ctx, `SELECT tgenabled <> 'D' FROM pg_trigger
			WHERE tgrelid = to_regclass($1) AND tgname = $2`, pgIdent(tt[0]), tt[1]).Scan(&on)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !on {
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE `+pgIdent(tt[0])+` DISABLE TRIGGER `+pgIdent(tt[1])); err != nil {
			return nil, fmt.Errorf("disable trigger %s: %w", tt[1], err)
		}
		off = append(off, tt)
	}
	return off, nil
}

// copyEnableTriggers enables the triggers copyDisableTriggers disabled,
// after doing the work of the refund counts one.
func copyEnableTriggers(ctx context.Context, tx pgx.Tx, off [][2]string) error {
	for _, tt := range off {
		if tt[1] == "refunds_maker_counts_insert" {
			if err := copyMakerCounts(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE `+pgIdent(tt[0])+` ENABLE TRIGGER `+pgIdent(tt[1])); err != nil {
			return fmt.Errorf("enable trigger %s: %w", tt[1], err)
		}
	}
	return nil
}

// copyMakerCounts fills refund_maker_counts from the copied refunds, as
// migrations/postgres/0009_refund_maker_counts.sql does (and its trigger
// would have, one refund at a time).
func copyMakerCounts(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO refund_maker_counts (requested_by, status, n)
		SELECT requested_by, CASE approval WHEN 'APPROVED' THEN submission ELSE approval END, count(*)
		FROM refunds GROUP BY 1, 2`)
	if err != nil {
		return fmt.Errorf("count the copied refunds per maker: %w", err)
	}
	return nil
}

// copyKind is how a target column takes a value.
type copyKind int

const (
	copyInt copyKind = iota
	copyText
	copyBytea
	copyBool
	copyFloat
)

// copyColumnKinds returns the kind of each of table's columns on the
// target, by name.
func copyColumnKinds(ctx context.Context, tx pgx.Tx, table string) (map[string]copyKind, error) {
	rows, err := tx.Query(ctx, `SELECT a.attname, t.oid, t.typname, t.typcategory = 'S' FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, pgIdent(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]copyKind{}
	tm := tx.Conn().TypeMap()
	for rows.Next() {
		var col, typ string
		var oid uint32
		var stringy bool
		if err := rows.Scan(&col, &oid, &typ, &stringy); err != nil {
			return nil, err
		}
		switch typ {
		case "int8", "int4", "int2":
			out[col] = copyInt
		case "text", "varchar", "bpchar":
			out[col] = copyText
		case "bytea":
			out[col] = copyBytea
		case "bool":
			out[col] = copyBool
		case "float8", "float4":
			out[col] = copyFloat
		default:
			if !stringy {
				return nil, fmt.Errorf("column %s is of type %s, which the copy does not know", col, typ)
			}
			// An extension's string type (citext): COPY's binary format
			// takes it as text's.
			if _, known := tm.TypeForOID(oid); !known {
				tm.RegisterType(&pgtype.Type{Name: typ, OID: oid, Codec: pgtype.TextCodec{}})
			}
			out[col] = copyText
		}
	}
	return out, rows.Err()
}

// copyValue converts v, as SQLite returned it, to what the target column
// of kind k takes: SQLite's loose typing may hold a number in a text
// column, text in a BLOB one, and keeps flags as integers.
func copyValue(k copyKind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case copyInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
				return int64(x), nil
			}
		case string:
			return strconv.ParseInt(x, 10, 64)
		case []byte:
			return strconv.ParseInt(string(x), 10, 64)
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case copyText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	case copyBytea:
		switch x := v.(type) {
		case []byte:
			if x == nil {
				return []byte{}, nil // an empty blob (NULL came as a nil any), not NULL
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
	case copyBool:
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case bool:
			return x, nil
		}
	case copyFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	}
	return nil, fmt.Errorf("cannot copy the value %.40q (%T)", fmt.Sprint(v), v)
}

// copyTable streams src's rows of table into tx through COPY.
func copyTable(ctx context.Context, src *DB, tx pgx.Tx, table string, total int64, progress func(CopyProgress)) (int64, error) {
	kinds, err := copyColumnKinds(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	progress(CopyProgress{Table: table, Total: total})
	order := ""
	if table == "audit_events" {
		order = " ORDER BY seq" // the chain in order, as it was appended
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
	s := &copySource{rows: rows, cols: cols, kinds: make([]copyKind, len(cols)), vals: make([]any, len(cols)),
		ptrs: make([]any, len(cols)), out: make([]any, len(cols))}
	for i, c := range cols {
		k, ok := kinds[c]
		if !ok {
			return 0, fmt.Errorf("the target has no column %s (is it migrated to the source's version?)", c)
		}
		s.kinds[i] = k
		s.ptrs[i] = &s.vals[i]
	}
	s.tick = func(n int64) {
		progress(CopyProgress{Table: table, Rows: n, Total: total, Elapsed: time.Since(start)})
	}
	s.last = start
	n, err := tx.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, s)
	if err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n != s.n {
		return 0, fmt.Errorf("%d rows read, %d copied", s.n, n)
	}
	progress(CopyProgress{Table: table, Rows: n, Total: total, Elapsed: time.Since(start), Done: true})
	return n, nil
}

// copySource is a pgx.CopyFromSource over one source query's rows, one
// row in memory at a time.
type copySource struct {
	rows  *sql.Rows
	cols  []string
	kinds []copyKind
	vals  []any // as scanned
	ptrs  []any // into vals
	out   []any // converted
	err   error
	n     int64
	last  time.Time
	tick  func(n int64)
}

func (s *copySource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = err
		return false
	}
	for i, v := range s.vals {
		c, err := copyValue(s.kinds[i], v)
		if err != nil {
			s.err = fmt.Errorf("row %d, column %s: %w", s.n+1, s.cols[i], err)
			return false
		}
		s.out[i] = c
	}
	s.n++
	if s.n%4096 == 0 && time.Since(s.last) >= copyProgressEvery {
		s.last = time.Now()
		s.tick(s.n)
	}
	return true
}

func (s *copySource) Values() ([]any, error) { return s.out, s.err }

func (s *copySource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// copyResetIdentities moves every identity column's sequence past the
// largest id copied, so the next insert does not collide.
func copyResetIdentities(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var tc [2]string
		return tc, r.Scan(&tc[0], &tc[1])
	})
	if err != nil {
		return err
	}
	for _, tc := range cols {
		t, c := pgIdent(tc[0]), pgIdent(tc[1])
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(`+c+`), 0) + 1, false) FROM `+t,
			t, tc[1]); err != nil {
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
