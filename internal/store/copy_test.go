package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// copyPair opens a fresh SQLite source and a fresh PostgreSQL target.
func copyPair(t *testing.T) (src, dst *DB) {
	t.Helper()
	ctx := context.Background()
	src, err := OpenURL(ctx, storetest.URL(t, storetest.SQLite), PoolConfig{})
	if err != nil {
		t.Fatalf("open source: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	dst, err = OpenURL(ctx, storetest.URL(t, storetest.Postgres), PoolConfig{})
	if err != nil {
		t.Fatalf("open target: %v", err)
	}
	t.Cleanup(func() { dst.Close() })
	return src, dst
}

const copyRefund = "0b5c7a52-3f43-4a47-9f37-3d1c5a0c0a01"

// copyFill puts a row of every column type into src: flags, NULL integers
// and blobs, blobs with a zero byte and blobs SQLite holds as text, the
// largest int64 amount, unicode text, and a two-event audit chain.
func copyFill(t *testing.T, src *DB) {
	t.Helper()
	h := func(c string) string { return strings.Repeat(c, 64) }
	for _, q := range []string{
		`INSERT INTO users (id, username, display_name, role, disabled, must_change, password_hash, created_at, updated_at)
		 VALUES (1, 'hoa', 'Nguyễn Thị Hoà 🌸', 'staff', 0, 1, 'x', '2026-01-02T03:04:05.000000Z', '2026-01-02T03:04:05.000000Z'),
		        (7, 'Minh', 'Trần "Minh" \ tab	end', 'admin', 1, 0, 'y', '2026-01-02T03:04:05.000000Z', '2026-01-02T03:04:05.000000Z')`,
		`INSERT INTO sessions (id, user_id, data, created_at, last_seen_at) VALUES
		 ('s1', 1, x'00ff10', 'a', 'b'), ('s2', NULL, NULL, 'a', 'b'), ('s3', 7, x'', 'a', 'b')`,
		`INSERT INTO settings (key, value) VALUES ('text_setting', 'stored as text'), ('blob_setting', x'00ff1000'), ('empty_setting', x'')`,
		`INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at, updated_at, approval, submission,
			decided_at, final_at, bank_account_number, reason_text)
		 VALUES ('` + copyRefund + `', 'PG', 'TXN-1', 9223372036854775807, 1, '2026-01-02T03:04:05.000000Z',
			'2026-01-02T03:04:05.000000Z', 'APPROVED', 'SUCCEEDED', '2026-01-02T03:05:00.000000Z', '2026-01-02T03:06:00.000000Z', '••••1234', 'hoàn tiền đơn #1 — ✓'),
		        ('1b5c7a52-3f43-4a47-9f37-3d1c5a0c0a02', 'GC', 'TXN-2', 1, 7, '2026-01-02T03:04:05.000000Z',
			'2026-01-02T03:04:05.000000Z', 'PENDING', 'NOT_SENT', '', '', '', '')`,
		`INSERT INTO refund_attempts (refund_id, n, started_at, outcome, latency_ms) VALUES ('` + copyRefund + `', 1, 'a', 'success', -9223372036854775808)`,
		`INSERT INTO audit_events (seq, at, actor_id, actor_name, action, outcome, target_type, target_id, details, prev_hash, hash)
		 VALUES (1, '2026-01-02T03:04:05.000000Z', 1, 'hoa', 'refund.create', 'success', 'refund', '` + copyRefund + `', '{"note":"đ"}', '` + h("0") + `', '` + h("a") + `'),
		        (2, '2026-01-02T03:04:06.000000Z', 7, 'Minh', 'refund.approve', 'success', 'refund', '` + copyRefund + `', '{}', '` + h("a") + `', '` + h("b") + `')`,
		`UPDATE audit_head SET seq = 2, hash = '` + h("b") + `', at = '2026-01-02T03:04:06.000000Z' WHERE id = 1`,
	} {
		if _, err := src.Write.Exec(q); err != nil {
			t.Fatalf("fill the source: %v\n%s", err, q)
		}
	}
}

// copyDump reads every row of table from db, each value as the target's
// column kind takes it, sorted.
func copyDump(t *testing.T, db *DB, kinds map[string]copyKind, table string) []string {
	t.Helper()
	rows, err := db.Read.Query(`SELECT * FROM ` + pgIdent(table))
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			c, err := copyValue(kinds[cols[i]], v)
			if err != nil {
				t.Fatalf("%s.%s: %v", table, cols[i], err)
			}
			fmt.Fprintf(&b, "%s=%#v ", cols[i], c)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// copyTargetShape is what a failed copy must leave as it was: the target's
// indexes and the enabled state of its triggers.
func copyTargetShape(t *testing.T, dst *DB) []string {
	t.Helper()
	var out []string
	rows, err := dst.Read.Query(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
		UNION ALL SELECT tgname || ' ' || tgenabled::text FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND NOT tgisinternal`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Every row of every table arrives on PostgreSQL exactly as it was, the
// refund counts are rebuilt as the triggers would have, the indexes and
// triggers the copy set aside are back, the audit head follows the
// source, and new ids do not collide with copied ones.
func TestCopyToPostgresRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, dst := copyPair(t)
	copyFill(t, src)
	shape := copyTargetShape(t, dst)
	if len(shape) < 20 {
		t.Fatalf("the target has %d indexes and triggers; the migrations make more", len(shape))
	}
	var seen []CopyProgress
	counts, err := CopyToPostgres(ctx, src, dst, func(p CopyProgress) { seen = append(seen, p) })
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	want := map[string]int64{"users": 2, "sessions": 3, "settings": 3, "refunds": 2, "refund_attempts": 1, "audit_events": 2}
	for _, c := range counts {
		if n, ok := want[c.Table]; ok && c.Rows != n || !ok && c.Rows != 0 {
			t.Errorf("%s: %d rows copied, want %d", c.Table, c.Rows, n)
		}
	}
	tables, err := copyTables(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range append(tables, "refund_maker_counts", "audit_head") {
		var kinds map[string]copyKind
		err := dst.Tx(ctx, func(tx *Tx) error {
			// the kinds come from the catalog as the copy reads it
			rows, err := tx.stx.Query(`SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
				WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped`, pgIdent(table))
			if err != nil {
				return err
			}
			defer rows.Close()
			kinds = map[string]copyKind{}
			for rows.Next() {
				var c, typ string
				if err := rows.Scan(&c, &typ); err != nil {
					return err
				}
				k, ok := map[string]copyKind{"int8": copyInt, "int4": copyInt, "bytea": copyBytea}[typ]
				if !ok {
					k = copyText
				}
				kinds[c] = k
				if typ != "int8" && typ != "int4" && typ != "bytea" && typ != "text" && typ != "citext" {
					return fmt.Errorf("%s.%s is %s: teach this test", table, c, typ)
				}
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		s, d := copyDump(t, src, kinds, table), copyDump(t, dst, kinds, table)
		if !reflect.DeepEqual(s, d) {
			t.Errorf("%s differs:\nsource %q\ntarget %q", table, s, d)
		}
	}
	// Spot checks of what the comparison covers, against a comparison
	// that could pass by converting both sides wrongly alike.
	var amount int64
	var name string
	var data []byte
	if err := dst.Read.QueryRow(`SELECT amount FROM refunds WHERE id = ?`, copyRefund).Scan(&amount); err != nil || amount != math.MaxInt64 {
		t.Errorf("amount on the target: %d, %v", amount, err)
	}
	if err := dst.Read.QueryRow(`SELECT display_name FROM users WHERE id = 1`).Scan(&name); err != nil || name != "Nguyễn Thị Hoà 🌸" {
		t.Errorf("display name on the target: %q, %v", name, err)
	}
	if err := dst.Read.QueryRow(`SELECT value FROM settings WHERE key = 'blob_setting'`).Scan(&data); err != nil || string(data) != "\x00\xff\x10\x00" {
		t.Errorf("blob on the target: %x, %v", data, err)
	}
	var nulls int
	if err := dst.Read.QueryRow(`SELECT count(*) FROM sessions WHERE user_id IS NULL AND data IS NULL`).Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("NULL session row on the target: %d, %v", nulls, err)
	}
	if got := copyTargetShape(t, dst); !reflect.DeepEqual(got, shape) {
		t.Errorf("indexes and triggers after the copy:\n%q\nbefore:\n%q", got, shape)
	}
	// The triggers are back: the append-only one refuses an event behind
	// the head, the counts one counts a new refund.
	if _, err := dst.Write.Exec(`INSERT INTO audit_events (seq, at, action, outcome, prev_hash, hash) VALUES (0, 'x', 'a', 'b', ?, ?)`,
		strings.Repeat("0", 64), strings.Repeat("0", 64)); !IsConstraint(err) {
		t.Errorf("an event behind the copied chain's head: %v, want the append-only refusal", err)
	}
	if _, err := dst.Write.Exec(`INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at, updated_at, approval, submission)
		VALUES ('new', 'PG', 'TXN-3', 5, 7, 'a', 'a', 'PENDING', 'NOT_SENT')`); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := dst.Read.QueryRow(`SELECT n FROM refund_maker_counts WHERE requested_by = 7 AND status = 'PENDING'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("maker 7's pending count after a new refund on the target: %d, %v; want 2", n, err)
	}
	var id int64
	if err := dst.Write.QueryRow(`INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES ('lan', 'staff', 'z', 'a', 'a') RETURNING id`).Scan(&id); err != nil || id != 8 {
		t.Errorf("a new user on the target: id %d, %v; want 8", id, err)
	}
	var done []string
	for _, p := range seen {
		if p.Done && p.Index == "" {
			done = append(done, p.Table)
		}
		if p.Index != "" && p.Table == "" {
			t.Errorf("index progress without its table: %+v", p)
		}
	}
	if !reflect.DeepEqual(done, tables) {
		t.Errorf("tables reported done: %q, want %q", done, tables)
	}

	if _, err := CopyToPostgres(ctx, src, dst, nil); !errors.Is(err, ErrTargetNotEmpty) {
		t.Errorf("a second copy into the target: %v, want ErrTargetNotEmpty", err)
	}
}

// A copy that fails part way, on a value the target cannot take or on a
// cancelled context, leaves the target empty, with its indexes and
// triggers as they were, ready for a copy that works.
func TestCopyToPostgresFailureLeavesTargetEmpty(t *testing.T) {
	for _, how := range []string{"bad value", "cancelled"} {
		t.Run(strings.ReplaceAll(how, " ", "_"), func(t *testing.T) {
			src, dst := copyPair(t)
			copyFill(t, src)
			shape := copyTargetShape(t, dst)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			progress := func(CopyProgress) {}
			switch how {
			case "bad value": // webhook_events come after refunds and audit_events
				if _, err := src.Write.Exec(`INSERT INTO webhook_events (api, dedupe_key, refund_id, received_at, last_received_at, applied, deliveries)
					VALUES ('PG', 'k1', ?, 'a', 'a', 'applied', 'many')`, copyRefund); err != nil {
					t.Fatal(err)
				}
			case "cancelled":
				progress = func(p CopyProgress) {
					if p.Table == "audit_events" && p.Done {
						cancel()
					}
				}
			}
			_, err := CopyToPostgres(ctx, src, dst, progress)
			if err == nil {
				t.Fatal("the copy succeeded")
			}
			if how == "bad value" && !strings.Contains(err.Error(), "webhook_events") {
				t.Errorf("error %q does not name the table", err)
			}
			var rows int64
			for _, table := range []string{"users", "sessions", "refunds", "refund_attempts", "audit_events", "refund_maker_counts"} {
				n, err := dst.CountRows(context.Background(), table)
				if err != nil {
					t.Fatal(err)
				}
				rows += n
			}
			var seq int64
			if err := dst.Read.QueryRow(`SELECT seq FROM audit_head WHERE id = 1`).Scan(&seq); err != nil || seq != 0 || rows != 0 {
				t.Errorf("after a failed copy the target holds %d rows and its audit head is at %d (%v)", rows, seq, err)
			}
			if got := copyTargetShape(t, dst); !reflect.DeepEqual(got, shape) {
				t.Errorf("indexes and triggers after a failed copy:\n%q\nbefore:\n%q", got, shape)
			}
			if _, err := src.Write.Exec(`DELETE FROM webhook_events`); err != nil {
				t.Fatal(err)
			}
			if _, err := CopyToPostgres(context.Background(), src, dst, nil); err != nil {
				t.Fatalf("a copy after the failed one: %v", err)
			}
		})
	}
}

func TestCopyValue(t *testing.T) {
	for _, c := range []struct {
		k    copyKind
		in   any
		want any
	}{
		{copyInt, int64(math.MinInt64), int64(math.MinInt64)},
		{copyInt, "42", int64(42)},
		{copyInt, float64(3), int64(3)},
		{copyInt, true, int64(1)},
		{copyInt, nil, nil},
		{copyText, int64(-5), "-5"},
		{copyText, []byte("đ"), "đ"},
		{copyBytea, "ab", []byte("ab")},
		{copyBytea, []byte(nil), []byte{}}, // an empty blob is not NULL
		{copyBool, int64(1), true},
		{copyBool, int64(0), false},
		{copyFloat, int64(2), float64(2)},
	} {
		got, err := copyValue(c.k, c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("copyValue(%d, %#v) = %#v, %v; want %#v", c.k, c.in, got, err, c.want)
		}
	}
	for _, c := range []struct {
		k  copyKind
		in any
	}{{copyInt, "many"}, {copyInt, 1.5}, {copyInt, "99999999999999999999"}, {copyBytea, int64(1)}, {copyBool, "yes"}} {
		if got, err := copyValue(c.k, c.in); err == nil {
			t.Errorf("copyValue(%d, %#v) = %#v; want an error", c.k, c.in, got)
		}
	}
}

// CopyFileToPostgres takes a SQLite file and a URL, and refuses them the
// other way round.
func TestCopyFileToPostgres(t *testing.T) {
	ctx := context.Background()
	path, dsn := storetest.URL(t, storetest.SQLite), storetest.URL(t, storetest.Postgres)
	src, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	copyFill(t, src)
	src.Close()
	if _, err := CopyFileToPostgres(ctx, dsn, path, nil); err == nil {
		t.Fatal("a copy from PostgreSQL to a file was not refused")
	}
	counts, err := CopyFileToPostgres(ctx, path, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if counts[3].Table != "audit_events" || counts[3].Rows != 2 {
		t.Errorf("counts %v: want 2 audit events fourth", counts)
	}
	dst, err := OpenPostgres(ctx, dsn, PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, err := dst.CountRows(ctx, "refunds"); err != nil || n != 2 {
		t.Errorf("refunds on the target: %d, %v", n, err)
	}
}

// A role that may write the target's tables but does not own them cannot
// set their indexes and triggers aside: the copy says so and goes on with
// them in place, and everything arrives all the same.
func TestCopyToPostgresNotOwner(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.URL(t, storetest.Postgres)
	owner, err := OpenPostgres(ctx, dsn, PoolConfig{}) // migrates, as the tables' owner
	if err != nil {
		t.Fatal(err)
	}
	owner.Close()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "copy_writer_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var schema string
	if err := admin.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT USAGE, CREATE ON SCHEMA ` + schema + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role,
		`GRANT ALL ON ALL SEQUENCES IN SCHEMA ` + schema + ` TO ` + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		for _, q := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u.User = url.User(role)
	dst, err := OpenPostgres(ctx, u.String(), PoolConfig{})
	if err != nil {
		t.Fatalf("open the target as %s: %v", role, err)
	}
	defer dst.Close()
	src, err := OpenURL(ctx, storetest.URL(t, storetest.SQLite), PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	copyFill(t, src)
	var notes []string
	if _, err := CopyToPostgres(ctx, src, dst, func(p CopyProgress) {
		if p.Note != "" {
			notes = append(notes, p.Note)
		}
	}); err != nil {
		t.Fatalf("copy as a role that does not own the tables: %v", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "another role") {
		t.Errorf("notes %q; want one about the tables' owner", notes)
	}
	var events, counted int64
	if err := dst.Read.QueryRow(`SELECT (SELECT count(*) FROM audit_events), (SELECT sum(n) FROM refund_maker_counts)`).Scan(&events, &counted); err != nil || events != 2 || counted != 2 {
		t.Errorf("on the target: %d events, %d refunds counted (%v); want 2 and 2", events, counted, err)
	}
}
