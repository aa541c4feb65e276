package store

// Lists of refunds and of what was stored beside them (webhook deliveries,
// the needs-attention queue), read from the read pool. Each list walks an
// index in page order (migrations 0006, 0011) and stops after one page.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// RefundFilter narrows ListRefunds. Zero fields do not filter.
type RefundFilter struct {
	Approval    string
	Submission  string
	API         string
	RequestedBy int64
	Currency    string
	// Search matches a refund id, transaction reference, PG payment id or
	// NeoX's refund id exactly, or the start of a transaction reference.
	Search string
	// FailureReason, when HasFailureReason, keeps the refunds whose
	// failure reads so on the dashboard ("" for those with none).
	FailureReason    string
	HasFailureReason bool
	// From (inclusive) and To (exclusive) bound requested_at, or final_at
	// when OnFinal (then refunds not final are left out).
	From, To             time.Time
	OnFinal              bool
	MinAmount, MaxAmount int64
	ByAmount             bool // order by (amount, id) instead of (requested_at, id)
	Desc                 bool
	After                *RefundPosition // keyset: the last row of the previous page
	Limit                int
}

// RefundPosition is a refund's place in a list's order.
type RefundPosition struct {
	RequestedAt time.Time
	Amount      int64
	ID          string
}

// ListRefunds returns up to f.Limit refunds matching f in its order.
func (db *DB) ListRefunds(ctx context.Context, f RefundFilter) ([]RefundRecord, error) {
	where, args := refundListWhere(f)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	col, cmp, dir := "requested_at", ">", "ASC"
	if f.ByAmount {
		col = "amount"
	}
	if f.Desc {
		cmp, dir = "<", "DESC"
	}
	if f.After != nil {
		if f.ByAmount {
			add("(amount, id) "+cmp+" (?, ?)", f.After.Amount, f.After.ID)
		} else {
			add("(requested_at, id) "+cmp+" (?, ?)", refundFmtTime(f.After.RequestedAt), f.After.ID)
		}
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT ?", col, dir, dir)
	args = append(args, f.Limit)
	return refundQuery(ctx, db.Read, q, args...)
}

// refundFailureReason is how a failed refund's reason reads: the desk's
// own, else NeoX's message, else its code. The dashboard groups by it and
// its links filter by it.
const refundFailureReason = `CASE WHEN failed_reason <> '' THEN failed_reason
	WHEN neox_message <> '' THEN neox_message
	WHEN neox_code <> '' THEN 'code ' || neox_code
	ELSE '' END`

// RefundTotal is how many refunds of one currency a filter matches, and
// their sum in minor units.
type RefundTotal struct {
	Currency string
	Count    int
	Amount   int64
}

// RefundTotals sums the refunds matching f (order and page ignored) per
// currency, in currency order. With limit > 0 it reads at most limit+1
// matching rows and reports capped (and no totals) when there are more:
// an unfiltered list of a large desk would otherwise read every refund on
// every page view.
func (db *DB) RefundTotals(ctx context.Context, f RefundFilter, limit int) (totals []RefundTotal, capped bool, err error) {
	q, args := refundTotalsQuery(f, limit)
	rows, err := db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("refund totals: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var t RefundTotal
		if err := rows.Scan(&t.Currency, &t.Count, &t.Amount); err != nil {
			return nil, false, err
		}
		n += t.Count
		totals = append(totals, t)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if limit > 0 && n > limit {
		return nil, true, nil
	}
	return totals, false, nil
}

// refundTotalsQuery is RefundTotals' query: at most limit+1 matching
// rows (limit 0: all). A staff member's own list (requested_by alone) reads
// only the covering index refunds_requester_totals, not the rows.
func refundTotalsQuery(f RefundFilter, limit int) (string, []any) {
	where, args := refundListWhere(f)
	inner := `SELECT currency, amount FROM refunds`
	if len(where) > 0 {
		inner += " WHERE " + strings.Join(where, " AND ")
	}
	if limit > 0 {
		inner += " LIMIT ?"
		args = append(args, limit+1)
	}
	return `SELECT currency, count(*), coalesce(sum(amount), 0) FROM (` + inner + `) AS matched
		GROUP BY currency ORDER BY currency`, args
}

// refundListWhere is the WHERE of a refund list filter, without its page.
func refundListWhere(f RefundFilter) (where []string, args []any) {
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Approval != "" {
		add("approval = ?", f.Approval)
	}
	if f.Submission != "" {
		add("submission = ?", f.Submission)
	}
	if f.API != "" {
		add("api = ?", f.API)
	}
	if f.RequestedBy != 0 {
		add("requested_by = ?", f.RequestedBy)
	}
	dateCol := "requested_at"
	if f.OnFinal {
		dateCol = "final_at"
		if !f.From.IsZero() || !f.To.IsZero() {
			add("final_at <> ''")
		}
	}
	if !f.From.IsZero() {
		add(dateCol+" >= ?", FormatTime(f.From))
	}
	if !f.To.IsZero() {
		add(dateCol+" < ?", FormatTime(f.To))
	}
	if f.MinAmount > 0 {
		add("amount >= ?", f.MinAmount)
	}
	if f.MaxAmount > 0 {
		add("amount <= ?", f.MaxAmount)
	}
	if f.Currency != "" {
		add("currency = ?", f.Currency)
	}
	if f.HasFailureReason {
		add("submission = 'FAILED' AND "+refundFailureReason+" = ?", f.FailureReason)
	}
	if f.Search != "" {
		prefix := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(f.Search) + "%"
		add(`(id = ? OR transaction_ref = ? OR payment_id = ? OR neox_refund_id = ? OR transaction_ref LIKE ? ESCAPE '\')`,
			f.Search, f.Search, f.Search, f.Search, prefix)
	}
	return where, args
}

// refundAttentionWhere matches the partial index refunds_attention
// (migration 0011): flagged refunds that are not final yet.
const refundAttentionWhere = `WHERE attention_since <> '' AND submission NOT IN ('SUCCEEDED', 'FAILED')`

// AttentionQueue is the needs-attention queue, longest waiting first.
func (db *DB) AttentionQueue(ctx context.Context, limit int) ([]RefundRecord, error) {
	return refundQuery(ctx, db.Read, refundAttentionWhere+` ORDER BY attention_since, id LIMIT ?`, limit)
}

// AttentionCount is how many refunds are in the needs-attention queue.
func (db *DB) AttentionCount(ctx context.Context) (int, error) {
	var n int
	if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM refunds `+refundAttentionWhere).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: attention count: %w", err)
	}
	return n, nil
}

// WebhookRecord is a stored webhook delivery.
type WebhookRecord struct {
	ID             int64
	API            string
	RefundID       string // "" when no refund matched
	EventRef       string
	EventStatus    string
	ReceivedAt     time.Time
	LastReceivedAt time.Time
	Deliveries     int
	Verified       bool
	Applied        string
	Reason         string
	RawBody        string
}

// UnmatchedWebhooks lists deliveries that matched no refund, newest first.
func (db *DB) UnmatchedWebhooks(ctx context.Context, limit int) ([]WebhookRecord, error) {
	return db.refundWebhooks(ctx, `WHERE refund_id IS NULL ORDER BY received_at DESC, id DESC LIMIT ?`, limit)
}

// ReviewWebhooks lists deliveries kept for review (suspicious, or
// contradicting a manual resolution), newest first.
func (db *DB) ReviewWebhooks(ctx context.Context, limit int) ([]WebhookRecord, error) {
	return db.refundWebhooks(ctx, `WHERE applied IN ('suspicious', 'contradicts') ORDER BY received_at DESC, id DESC LIMIT ?`, limit)
}

// RefundWebhooks lists the deliveries stored for a refund, oldest first.
func (db *DB) RefundWebhooks(ctx context.Context, refundID string) ([]WebhookRecord, error) {
	return db.refundWebhooks(ctx, `WHERE refund_id = ? ORDER BY received_at, id`, refundID)
}

func (db *DB) refundWebhooks(ctx context.Context, where string, args ...any) ([]WebhookRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT id, api, refund_id, event_ref, event_status, received_at,
		last_received_at, deliveries, verified, applied, reason, raw_body FROM webhook_events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks: %w", err)
	}
	defer rows.Close()
	var out []WebhookRecord
	for rows.Next() {
		var w WebhookRecord
		var rec, last string
		var rid sql.NullString
		if err := rows.Scan(&w.ID, &w.API, &rid, &w.EventRef, &w.EventStatus, &rec, &last, &w.Deliveries,
			&w.Verified, &w.Applied, &w.Reason, &w.RawBody); err != nil {
			return nil, err
		}
		w.RefundID = rid.String
		if w.ReceivedAt, err = refundParseTime(rec); err != nil {
			return nil, err
		}
		if w.LastReceivedAt, err = refundParseTime(last); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// RefundStateCount is how many refunds are in one pair of states.
type RefundStateCount struct {
	Approval   string
	Submission string
	N          int
}

// RefundCounts is the plain state counts behind refunds.Service.Stats.
type RefundCounts struct {
	States        []RefundStateCount
	OldestPending time.Time // zero when nothing is pending
	Unmatched     int       // webhook deliveries that matched no refund
	Review        int       // webhook deliveries kept for review
}

// CountRefunds counts refunds per state pair and the stored webhooks that
// wait for a person.
func (db *DB) CountRefunds(ctx context.Context) (RefundCounts, error) {
	var c RefundCounts
	rows, err := db.Read.QueryContext(ctx, `SELECT approval, submission, count(*) FROM refunds GROUP BY approval, submission`)
	if err != nil {
		return RefundCounts{}, fmt.Errorf("store: count refunds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s RefundStateCount
		if err := rows.Scan(&s.Approval, &s.Submission, &s.N); err != nil {
			return RefundCounts{}, err
		}
		c.States = append(c.States, s)
	}
	if err := rows.Err(); err != nil {
		return RefundCounts{}, err
	}
	rows.Close()
	var oldest sql.NullString
	if err := db.Read.QueryRowContext(ctx, `SELECT min(requested_at) FROM refunds WHERE approval = 'PENDING'`).
		Scan(&oldest); err != nil {
		return RefundCounts{}, err
	}
	if c.OldestPending, err = refundParseTime(oldest.String); err != nil {
		return RefundCounts{}, err
	}
	if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events WHERE refund_id IS NULL`).
		Scan(&c.Unmatched); err != nil {
		return RefundCounts{}, err
	}
	if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events
		WHERE applied IN ('suspicious', 'contradicts')`).Scan(&c.Review); err != nil {
		return RefundCounts{}, err
	}
	return c, nil
}
