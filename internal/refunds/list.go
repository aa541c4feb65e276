package refunds

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ListFilter narrows List. Zero fields do not filter. From is inclusive,
// To exclusive (requested_at). Sort is "date" (default) or "amount".
type ListFilter struct {
	Approval   string
	Submission string
	API        API
	// RequestedBy limits to one maker's refunds (0 = everyone's).
	RequestedBy int64
	From, To    time.Time
	// On names the time From and To apply to: "" (when requested) or
	// "final" (when NeoX's outcome or the decision made it final).
	On                   string
	MinAmount, MaxAmount int64
	Sort                 string
	Desc                 bool
}

// Cursor is an opaque keyset position returned by List.
type Cursor string

type cursorData struct {
	Sort string `json:"s"`
	Desc bool   `json:"d"`
	Key  string `json:"k"` // requested_at text for "date"
	Amt  int64  `json:"a"` // amount for "amount"
	ID   string `json:"i"`
}

// DefaultPageSize and MaxPageSize bound List's limit.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// List pages through refunds matching f, after the cursor (empty: from
// the start). next is empty on the last page. A cursor from another sort
// order, or a malformed one, is a *ValidationError on "cursor"; unknown
// state names are a *ValidationError on "approval" or "submission".
func (s *Service) List(ctx context.Context, f ListFilter, after Cursor, limit int) ([]Refund, Cursor, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	sortBy := f.Sort
	if sortBy == "" {
		sortBy = "date"
	}
	if sortBy != "date" && sortBy != "amount" {
		return nil, "", invalid("sort", "sort by date or amount")
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Approval != "" {
		if !oneOf(f.Approval, ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalCancelled) {
			return nil, "", invalid("approval", "unknown approval state")
		}
		add("approval = ?", f.Approval)
	}
	if f.Submission != "" {
		if !oneOf(f.Submission, SubNotSent, SubQueued, SubSending, SubProcessing, SubSucceeded, SubFailed, SubUnknown) {
			return nil, "", invalid("submission", "unknown submission state")
		}
		add("submission = ?", f.Submission)
	}
	if f.API != "" {
		if !f.API.Valid() {
			return nil, "", invalid("api", "choose PG, GC or COL")
		}
		add("api = ?", string(f.API))
	}
	if f.RequestedBy != 0 {
		add("requested_by = ?", f.RequestedBy)
	}
	dateCol := "requested_at"
	switch f.On {
	case "":
	case "final":
		dateCol = "final_at"
		if !f.From.IsZero() || !f.To.IsZero() {
			add("final_at <> ''")
		}
	default:
		return nil, "", invalid("on", "filter on the request or the final date")
	}
	if !f.From.IsZero() {
		add(dateCol+" >= ?", fmtTime(f.From))
	}
	if !f.To.IsZero() {
		add(dateCol+" < ?", fmtTime(f.To))
	}
	if f.MinAmount > 0 {
		add("amount >= ?", f.MinAmount)
	}
	if f.MaxAmount > 0 {
		add("amount <= ?", f.MaxAmount)
	}
	col, cmp, dir := "requested_at", ">", "ASC"
	if sortBy == "amount" {
		col = "amount"
	}
	if f.Desc {
		cmp, dir = "<", "DESC"
	}
	if after != "" {
		c, err := decodeCursor(after)
		if err != nil || c.Sort != sortBy || c.Desc != f.Desc {
			return nil, "", invalid("cursor", "the page link is out of date; start again")
		}
		if sortBy == "amount" {
			add("(amount, id) "+cmp+" (?, ?)", c.Amt, c.ID)
		} else {
			add("(requested_at, id) "+cmp+" (?, ?)", c.Key, c.ID)
		}
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT ?", col, dir, dir)
	args = append(args, limit+1)
	items, err := queryRefunds(ctx, s.db.Read, q, args...)
	if err != nil {
		return nil, "", err
	}
	var next Cursor
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = encodeCursor(cursorData{Sort: sortBy, Desc: f.Desc, Key: fmtTime(last.RequestedAt), Amt: last.Amount, ID: last.ID})
	}
	return items, next, nil
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func encodeCursor(c cursorData) Cursor {
	b, _ := json.Marshal(c) // plain struct: cannot fail
	return Cursor(base64.RawURLEncoding.EncodeToString(b))
}

func decodeCursor(c Cursor) (cursorData, error) {
	b, err := base64.RawURLEncoding.DecodeString(string(c))
	if err != nil {
		return cursorData{}, err
	}
	var d cursorData
	if err := json.Unmarshal(b, &d); err != nil {
		return cursorData{}, err
	}
	if d.ID == "" {
		return cursorData{}, fmt.Errorf("empty cursor")
	}
	return d, nil
}

// UnmatchedWebhooks lists stored webhooks that matched no refund, newest first.
func (s *Service) UnmatchedWebhooks(ctx context.Context, limit int) ([]WebhookEvent, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	return s.webhooks(ctx, `WHERE refund_id IS NULL ORDER BY received_at DESC, id DESC LIMIT ?`, limit)
}

// SuspiciousWebhooks lists stored webhooks kept for review because they
// disagree with the refund they name, or contradict a manual resolution,
// newest first.
func (s *Service) SuspiciousWebhooks(ctx context.Context, limit int) ([]WebhookEvent, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	return s.webhooks(ctx, `WHERE applied IN ('suspicious', 'contradicts') ORDER BY received_at DESC, id DESC LIMIT ?`, limit)
}

// Webhooks lists the webhooks stored for a refund, oldest first.
func (s *Service) Webhooks(ctx context.Context, refundID string) ([]WebhookEvent, error) {
	return s.webhooks(ctx, `WHERE refund_id = ? ORDER BY received_at, id`, refundID)
}

func (s *Service) webhooks(ctx context.Context, where string, args ...any) ([]WebhookEvent, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT id, api, refund_id, event_ref, event_status, received_at,
		last_received_at, deliveries, verified, applied, reason, raw_body FROM webhook_events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("refunds: webhooks: %w", err)
	}
	defer rows.Close()
	var out []WebhookEvent
	for rows.Next() {
		var w WebhookEvent
		var api, rec, last string
		var rid sql.NullString
		if err := rows.Scan(&w.ID, &api, &rid, &w.EventRef, &w.EventStatus, &rec, &last, &w.Deliveries,
			&w.Verified, &w.Applied, &w.Reason, &w.RawBody); err != nil {
			return nil, err
		}
		w.API, w.RefundID = API(api), rid.String
		if w.ReceivedAt, err = parseTime(rec); err != nil {
			return nil, err
		}
		if w.LastReceivedAt, err = parseTime(last); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Stats counts refunds per state for the dashboard.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByApproval: map[string]int{}, BySubmission: map[string]int{}}
	rows, err := s.db.Read.QueryContext(ctx, `SELECT approval, submission, count(*) FROM refunds GROUP BY approval, submission`)
	if err != nil {
		return Stats{}, fmt.Errorf("refunds: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, sub string
		var n int
		if err := rows.Scan(&a, &sub, &n); err != nil {
			return Stats{}, err
		}
		st.ByApproval[a] += n
		st.BySubmission[sub] += n
		if sub == SubQueued || sub == SubSending || sub == SubUnknown {
			st.Queue += n
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, err
	}
	rows.Close()
	st.PendingCount = st.ByApproval[ApprovalPending]
	var oldest sql.NullString
	if err := s.db.Read.QueryRowContext(ctx, `SELECT min(requested_at) FROM refunds WHERE approval = 'PENDING'`).
		Scan(&oldest); err != nil {
		return Stats{}, err
	}
	if oldest.Valid && oldest.String != "" {
		t, err := parseTime(oldest.String)
		if err != nil {
			return Stats{}, err
		}
		st.OldestPending = s.now().Sub(t)
	}
	if err := s.db.Read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events WHERE refund_id IS NULL`).
		Scan(&st.UnmatchedHooks); err != nil {
		return Stats{}, err
	}
	if err := s.db.Read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events
		WHERE applied IN ('suspicious', 'contradicts')`).Scan(&st.SuspiciousHooks); err != nil {
		return Stats{}, err
	}
	return st, nil
}
