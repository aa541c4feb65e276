package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// AuditFilter selects audit events for the review pages and exports; zero
// fields match everything. From is inclusive, To exclusive; the string
// fields are exact matches except Text, a case-insensitive (ASCII)
// substring of the target id. Lo and Hi bound seq (inclusive; 0 means no
// bound): the caller's keyset cursor.
type AuditFilter struct {
	From, To   time.Time
	Actor      string
	Action     string
	Outcome    string
	TargetType string
	TargetID   string
	Text       string
	Lo, Hi     int64
}

// AuditSpan resolves a time range to the inclusive seq range [lo, hi]
// through the (at, seq) index: two probes, exact because the audit package
// never lets time decrease along seq. ok is false when no event can match.
// Zero times are open ends.
func (db *DB) AuditSpan(ctx context.Context, from, to time.Time) (lo, hi int64, ok bool, err error) {
	return auditSpan(ctx, db.Read, from, to)
}

func auditSpan(ctx context.Context, q auditQuerier, from, to time.Time) (lo, hi int64, ok bool, err error) {
	lo, hi = 1, math.MaxInt64
	probe := func(query string, t time.Time, dst *int64) error {
		err := q.QueryRowContext(ctx, query, FormatTime(t)).Scan(dst)
		if errors.Is(err, sql.ErrNoRows) {
			ok = false
			return nil
		}
		return err
	}
	ok = true
	if !from.IsZero() {
		err = probe(`SELECT seq FROM audit_events WHERE at >= ? ORDER BY at, seq LIMIT 1`, from, &lo)
	}
	if err == nil && ok && !to.IsZero() {
		err = probe(`SELECT seq FROM audit_events WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1`, to, &hi)
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("audit time range: %w", err)
	}
	return lo, hi, ok && lo <= hi, nil
}

// auditWhere renders f as SQL conditions. Keeping a single seq range (time
// bounds and the keyset cursor merged by the caller) lets SQLite walk one
// index range; the "+at" checks keep the time filter exact for rows
// imported from elsewhere, and their unary + stops the planner from
// walking the at index and sorting instead.
func auditWhere(f AuditFilter, pg bool) (string, []any) {
	lo, hi := f.Lo, f.Hi
	if lo <= 0 {
		lo = 1
	}
	if hi <= 0 {
		hi = math.MaxInt64
	}
	conds := []string{`seq BETWEEN ? AND ?`}
	args := []any{lo, hi}
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	plus := "+" // PostgreSQL has no unary + on text, and its planner needs no hint
	if pg {
		plus = ""
	}
	if !f.From.IsZero() {
		add(plus+`at >= ?`, FormatTime(f.From))
	}
	if !f.To.IsZero() {
		add(plus+`at < ?`, FormatTime(f.To))
	}
	if f.Actor != "" {
		add(`actor_name = ?`, f.Actor)
	}
	if f.Action != "" {
		add(`action = ?`, f.Action)
	}
	if f.Outcome != "" {
		add(`outcome = ?`, f.Outcome)
	}
	if f.TargetType != "" {
		add(`target_type = ?`, f.TargetType)
	}
	if f.TargetID != "" {
		add(`target_id = ?`, f.TargetID)
	}
	if f.Text != "" && pg {
		// The pg_trgm GIN index on target_id (migrations/postgres/0007)
		// answers ILIKE directly, escaped or not.
		add(`target_id ILIKE ? ESCAPE '\'`, "%"+auditLikeEscape(f.Text)+"%")
	} else if f.Text != "" {
		if auditUseTargetSearch(f.Text) {
			// The trigram index finds the candidates, and the events it does
			// not reach yet (at most auditSearchBatch of them, waiting for
			// their batch; see auditCommit) are all candidates; the LIKE below
			// keeps the answer exact whatever the index holds. Both parts
			// read one snapshot, so no event falls between them.
			add(`seq IN (SELECT rowid FROM audit_target_search WHERE target_id LIKE ?
				UNION ALL SELECT seq FROM audit_events WHERE seq > `+auditSearchIndexedSQL+`)`, "%"+f.Text+"%")
		}
		add(`target_id LIKE ? ESCAPE '\'`, "%"+auditLikeEscape(f.Text)+"%")
	}
	return strings.Join(conds, " AND "), args
}

// auditUseTargetSearch reports whether the trigram index can answer a
// substring search: it needs three characters, and LIKE's wildcards must
// not occur (an ESCAPE clause would stop SQLite from handing the LIKE to
// the index).
func auditUseTargetSearch(text string) bool {
	return utf8.RuneCountInString(text) >= 3 && !strings.ContainsAny(text, `%_\`)
}

func auditLikeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// auditListCols are the columns of the review list: decoding each row's
// details JSON was 40 % of a page's cost, for fields the list does not show.
const auditListCols = `seq, at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id, client_ip`

// AuditList returns up to limit events matching f from the read pool,
// newest first (oldestFirst reverses that), with the review list's fields
// only: Seq, At, ActorID, ActorName, ActorRole, Action, Outcome,
// TargetType, TargetID and ClientIP; the rest are empty. The walk is an
// index range of f's seq range, so page depth does not matter.
func (db *DB) AuditList(ctx context.Context, f AuditFilter, oldestFirst bool, limit int) ([]AuditRecord, error) {
	q, args := auditListQuery(f, oldestFirst, limit, db.pg)
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		if err := rows.Scan(&r.Seq, &r.At, &r.ActorID, &r.ActorName, &r.ActorRole, &r.Action, &r.Outcome,
			&r.TargetType, &r.TargetID, &r.ClientIP); err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

func auditListQuery(f AuditFilter, oldestFirst bool, limit int, pg bool) (string, []any) {
	where, args := auditWhere(f, pg)
	order := `DESC`
	if oldestFirst {
		order = `ASC`
	}
	return `SELECT ` + auditListCols + ` FROM audit_events WHERE ` + where + ` ORDER BY seq ` + order + ` LIMIT ?`, append(args, limit)
}

// AuditExplainList returns SQLite's plan for AuditList's query, one line
// per step, so tests can pin that every review query walks an index in
// seq order (no sort, no full scan under a filter).
func (db *DB) AuditExplainList(ctx context.Context, f AuditFilter, oldestFirst bool) ([]string, error) {
	if db.pg {
		return nil, errors.New("store: AuditExplainList reads SQLite's query plan")
	}
	q, args := auditListQuery(f, oldestFirst, 51, false)
	rows, err := db.Read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("explain audit list: %w", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, fmt.Errorf("explain audit list: %w", err)
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}

// AuditExists reports whether any event matches f (an existence probe for
// the page in the direction the caller did not walk).
func (db *DB) AuditExists(ctx context.Context, f AuditFilter) (bool, error) {
	where, args := auditWhere(f, db.pg)
	var one int
	err := db.Read.QueryRowContext(ctx, `SELECT 1 FROM audit_events WHERE `+where+` LIMIT 1`, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe audit events: %w", err)
	}
	return true, nil
}

// AuditGet returns the whole event at seq; found is false when there is none.
func (db *DB) AuditGet(ctx context.Context, seq int64) (r AuditRecord, found bool, err error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE seq = ?`, seq)
	if err != nil {
		return AuditRecord{}, false, fmt.Errorf("read audit event %d: %w", seq, err)
	}
	err = auditEach(rows, func(got *AuditRecord) error { r, found = *got, true; return nil })
	return r, found, err
}

// AuditTimeline returns every event about one target, oldest first, as
// whole records (an empty slice when there are none).
func (db *DB) AuditTimeline(ctx context.Context, targetType, targetID string) ([]AuditRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events
		WHERE target_type = ? AND target_id = ? ORDER BY seq ASC`, targetType, targetID)
	if err != nil {
		return nil, fmt.Errorf("read audit timeline: %w", err)
	}
	out := []AuditRecord{}
	err = auditEach(rows, func(r *AuditRecord) error { out = append(out, *r); return nil })
	return out, err
}

// AuditActorsSince returns, on one read snapshot, the newest seq and the
// distinct actor names of the events after seq upto (unsorted), so a
// caller can keep a list of names and only read what was appended since.
// When upto is 0 it skips through the (actor_name, seq) index, one probe
// per name, instead of reading every event.
func (db *DB) AuditActorsSince(ctx context.Context, upto int64) (head int64, names []string, err error) {
	stx, err := db.beginRead(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("audit actors: %w", err)
	}
	defer stx.Rollback()
	if err := stx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_events`).Scan(&head); err != nil {
		return 0, nil, fmt.Errorf("audit actors: %w", err)
	}
	if head <= upto {
		return head, nil, nil
	}
	query, args := `SELECT DISTINCT actor_name FROM audit_events WHERE seq > ?`, []any{upto}
	if upto <= 0 {
		query, args = `WITH RECURSIVE a(name) AS (
			SELECT min(actor_name) FROM audit_events
			UNION ALL
			SELECT (SELECT min(actor_name) FROM audit_events WHERE actor_name > a.name) FROM a WHERE a.name IS NOT NULL
		) SELECT name FROM a WHERE name IS NOT NULL`, nil
	}
	// The read transaction is one snapshot: nothing past head is seen.
	rows, err := stx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("audit actors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return 0, nil, fmt.Errorf("audit actors: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("audit actors: %w", err)
	}
	return head, names, nil
}

// AuditExport streams the events matching f (Lo and Hi ignored) oldest
// first, on one read snapshot: it reads the newest event of the whole
// trail, resolves f's time range and opens the query, then calls begin
// with that newest event, then each for every row. Nothing is called
// when opening the snapshot or the query fails. Errors from begin and
// each are returned as is; errors reading rows are wrapped.
func (db *DB) AuditExport(ctx context.Context, f AuditFilter, begin func(newest AuditHead) error, each func(*AuditRecord) error) error {
	stx, err := db.beginRead(ctx)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer stx.Rollback()
	newest, err := auditNewest(ctx, stx)
	if err != nil {
		return err
	}
	lo, hi, ok, err := auditSpan(ctx, stx, f.From, f.To)
	if err != nil {
		return err
	}
	if !ok {
		lo, hi = 1, 0 // nothing matches: the caller still writes its header
	}
	f.Lo, f.Hi = lo, hi
	where, args := auditWhere(f, db.pg)
	if hi == 0 {
		where, args = `0`, nil
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE `+where+` ORDER BY seq ASC`, args...)
	if err != nil {
		return fmt.Errorf("export audit events: %w", err)
	}
	if err := begin(newest); err != nil {
		rows.Close()
		return err
	}
	return auditEach(rows, each)
}
