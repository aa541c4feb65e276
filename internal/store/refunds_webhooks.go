package store

// NeoX's webhook deliveries (webhook_events): deduplicated on a key the
// refunds package derives from what the delivery signs, in the same
// transaction as the state change it causes.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SeenWebhook is what was stored for an earlier delivery of an event.
type SeenWebhook struct {
	ID       int64
	RefundID string // "" when no refund matched
	Applied  string
	Reason   string
}

// WebhookByKey reads the stored delivery with dedupeKey, or ErrNotFound.
// On PostgreSQL it first locks the key for the rest of t, so a redelivery
// racing the first delivery on another instance waits for it and is then
// seen as a duplicate.
func (t *Tx) WebhookByKey(ctx context.Context, dedupeKey string) (SeenWebhook, error) {
	if err := t.lockKey(ctx, lockWebhookKey, dedupeKey); err != nil {
		return SeenWebhook{}, err
	}
	var w SeenWebhook
	var refundID sql.NullString
	err := t.stx.QueryRowContext(ctx, `SELECT id, refund_id, applied, reason FROM webhook_events WHERE dedupe_key = ?`,
		dedupeKey).Scan(&w.ID, &refundID, &w.Applied, &w.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return SeenWebhook{}, ErrNotFound
	}
	if err != nil {
		return SeenWebhook{}, fmt.Errorf("store: webhook dedupe: %w", err)
	}
	w.RefundID = refundID.String
	return w, nil
}

// CountRedelivery counts one more delivery of a stored event, now.
func (t *Tx) CountRedelivery(ctx context.Context, id int64) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE webhook_events SET deliveries = deliveries + 1,
		last_received_at = ? WHERE id = ?`, FormatTime(t.now), id); err != nil {
		return fmt.Errorf("store: count redelivery: %w", err)
	}
	return nil
}

// NewWebhook is a verified delivery seen for the first time.
type NewWebhook struct {
	API         string
	DedupeKey   string
	RefundID    string // "" when no refund matched
	EventRef    string
	EventStatus string
	Applied     string
	Reason      string
	RawBody     string // account numbers masked
	Event       string // a GC event kept until its refund is known (JSON), or ""
}

// InsertWebhook stores a verified delivery, received now.
func (t *Tx) InsertWebhook(ctx context.Context, w NewWebhook) error {
	var rid any
	if w.RefundID != "" {
		rid = w.RefundID
	}
	now := FormatTime(t.now)
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO webhook_events (api, dedupe_key, refund_id, event_ref, event_status,
		received_at, last_received_at, verified, applied, reason, raw_body, event) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
		w.API, w.DedupeKey, rid, w.EventRef, w.EventStatus, now, now, w.Applied, w.Reason, w.RawBody, w.Event); err != nil {
		return fmt.Errorf("store: store webhook: %w", err)
	}
	return nil
}

// HeldWebhook is an event (GC) kept because no refund was known by its id.
type HeldWebhook struct {
	ID    int64
	Event string // JSON
}

// HeldEvents lists, in arrival order, the events of product api kept as
// unknown_refund that named neoxID. On PostgreSQL it first locks neoxID's
// key (see RefundByNeoXID), so an event kept by a webhook racing this
// transaction is either listed here or finds the refund itself.
func (t *Tx) HeldEvents(ctx context.Context, api, neoxID string) ([]HeldWebhook, error) {
	if err := t.lockKey(ctx, lockNeoXRefund, neoxID); err != nil {
		return nil, err
	}
	rows, err := t.stx.QueryContext(ctx, `SELECT id, event FROM webhook_events
		WHERE api = ? AND applied = 'unknown_refund' AND event_ref = ? AND event <> '' ORDER BY id`, api, neoxID)
	if err != nil {
		return nil, fmt.Errorf("store: held %s events: %w", api, err)
	}
	defer rows.Close()
	var out []HeldWebhook
	for rows.Next() {
		var h HeldWebhook
		if err := rows.Scan(&h.ID, &h.Event); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SettleHeldWebhook records what a held event did once its refund became known.
func (t *Tx) SettleHeldWebhook(ctx context.Context, id int64, refundID, applied, reason string) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE webhook_events SET refund_id = ?, applied = ?, reason = ? WHERE id = ?`,
		refundID, applied, reason, id); err != nil {
		return fmt.Errorf("store: settle held webhook: %w", err)
	}
	return nil
}
