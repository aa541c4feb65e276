package store

// Notifications' outbox (migration 0032). Events and their deliveries are
// written in the caller's transaction, beside the change that causes them.
// A dispatcher claims due deliveries with a lease in a committed
// transaction of its own (ClaimNotifyDeliveries), sends outside any
// transaction, and settles each with FinishNotifyDelivery, which changes
// the row only while the claim is still that dispatcher's: a claim taken
// over after its lease ran out is no longer the first owner's to settle.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// NotifyEvent is one thing people or systems are told about.
type NotifyEvent struct {
	ID        string
	Kind      string
	RefundID  string
	Payload   string // JSON
	Dedupe    string // non-empty: at most one event with it
	CreatedAt time.Time
}

// NotifyDelivery is one event for one recipient on one channel.
type NotifyDelivery struct {
	ID            int64
	EventID       string
	Channel       string // email | webhook
	UserID        int64
	EndpointID    int64
	Address       string
	Lang          string
	State         string // PENDING, SENDING, SENT, FAILED
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	LastStatus    int
	CreatedAt     time.Time
	UpdatedAt     time.Time
	SentAt        time.Time
	Event         NotifyEvent // filled by ClaimNotifyDeliveries and NotifyDeliveryLog
}

// Delivery states.
const (
	NotifyPending = "PENDING"
	NotifySending = "SENDING"
	NotifySent    = "SENT"
	NotifyFailed  = "FAILED"
)

// InsertNotifyEvent writes e at the transaction's time. It reports false,
// writing nothing, when an event with the same non-empty Dedupe exists.
func (t *Tx) InsertNotifyEvent(ctx context.Context, e NotifyEvent) (bool, error) {
	res, err := t.stx.ExecContext(ctx, `INSERT INTO notify_events (id, kind, refund_id, payload, dedupe, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, e.ID, e.Kind, e.RefundID, e.Payload, e.Dedupe, FormatTime(t.now))
	if err != nil {
		return false, fmt.Errorf("store: insert notification event: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// InsertNotifyDelivery queues d (PENDING, due now).
func (t *Tx) InsertNotifyDelivery(ctx context.Context, d NotifyDelivery) error {
	now := FormatTime(t.now)
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO notify_deliveries (event_id, channel, user_id, endpoint_id,
		address, lang, state, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?)`,
		d.EventID, d.Channel, d.UserID, d.EndpointID, d.Address, d.Lang, now, now, now); err != nil {
		return fmt.Errorf("store: insert notification delivery: %w", err)
	}
	return nil
}

// NotifyRecipient is a user who may be told about an event, with their
// notification settings.
type NotifyRecipient struct {
	UserID   int64
	Username string
	Role     string
	Lang     string
	Email    string
	Muted    string // comma-separated kinds turned off
}

// NotifyRecipients lists the enabled users whose role is one of roles or
// whose id is one of ids, except the user except (0: none), with their
// notification settings.
func (t *Tx) NotifyRecipients(ctx context.Context, roles []string, ids []int64, except int64) ([]NotifyRecipient, error) {
	var conds []string
	var args []any
	if len(roles) > 0 {
		conds = append(conds, `u.role IN (`+placeholders(len(roles))+`)`)
		for _, r := range roles {
			args = append(args, r)
		}
	}
	if len(ids) > 0 {
		conds = append(conds, `u.id IN (`+placeholders(len(ids))+`)`)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	args = append(args, except)
	rows, err := t.stx.QueryContext(ctx, `SELECT u.id, u.username, u.role, u.lang, COALESCE(p.email, ''), COALESCE(p.muted, '')
		FROM users u LEFT JOIN notify_prefs p ON p.user_id = u.id
		WHERE u.disabled = 0 AND (`+strings.Join(conds, " OR ")+`) AND u.id <> ? ORDER BY u.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: notification recipients: %w", err)
	}
	defer rows.Close()
	var out []NotifyRecipient
	for rows.Next() {
		var r NotifyRecipient
		if err := rows.Scan(&r.UserID, &r.Username, &r.Role, &r.Lang, &r.Email, &r.Muted); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// NotifyPrefRecord is a user's notification settings.
type NotifyPrefRecord struct {
	UserID int64
	Email  string
	Muted  string
}

// NotifyPrefs reads user id's settings; a user who never saved any gets
// an empty record (everything on, no address).
func (db *DB) NotifyPrefs(ctx context.Context, userID int64) (NotifyPrefRecord, error) {
	p := NotifyPrefRecord{UserID: userID}
	err := db.Read.QueryRowContext(ctx, `SELECT email, muted FROM notify_prefs WHERE user_id = ?`, userID).Scan(&p.Email, &p.Muted)
	if err == sql.ErrNoRows {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("store: notification settings: %w", err)
	}
	return p, nil
}

// SetNotifyPrefs stores p.
func (t *Tx) SetNotifyPrefs(ctx context.Context, p NotifyPrefRecord) error {
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO notify_prefs (user_id, email, muted, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, muted = excluded.muted, updated_at = excluded.updated_at`,
		p.UserID, p.Email, p.Muted, FormatTime(t.now)); err != nil {
		return fmt.Errorf("store: save notification settings: %w", err)
	}
	return nil
}

// NotifyEndpoint is an outbound webhook endpoint.
type NotifyEndpoint struct {
	ID            int64
	URL           string
	Secret        string
	Events        string // comma-separated kinds; "" = all
	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time
}

// InsertNotifyEndpoint adds e and returns its id.
func (t *Tx) InsertNotifyEndpoint(ctx context.Context, e NotifyEndpoint) (int64, error) {
	var id int64
	if err := t.stx.QueryRowContext(ctx, `INSERT INTO notify_endpoints (url, secret, events, created_by, created_by_name, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, e.URL, e.Secret, e.Events, e.CreatedBy, e.CreatedByName,
		FormatTime(t.now)).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: add webhook endpoint: %w", err)
	}
	return id, nil
}

// RemoveNotifyEndpoint retires endpoint id (no new deliveries; those
// queued still go). Errors: ErrNotFound when no active endpoint has it.
func (t *Tx) RemoveNotifyEndpoint(ctx context.Context, id int64) (NotifyEndpoint, error) {
	e, err := t.notifyEndpoint(ctx, id)
	if err != nil {
		return e, err
	}
	res, err := t.stx.ExecContext(ctx, `UPDATE notify_endpoints SET removed_at = ? WHERE id = ? AND removed_at = ''`,
		FormatTime(t.now), id)
	if err != nil {
		return e, fmt.Errorf("store: remove webhook endpoint: %w", err)
	}
	// The conditional update decides: at READ COMMITTED two removals can
	// both read the endpoint active above; the second's update waits for
	// the first's commit and then matches nothing, so it is not removed
	// (and audited) twice.
	if n, err := res.RowsAffected(); err != nil {
		return e, fmt.Errorf("store: remove webhook endpoint: %w", err)
	} else if n == 0 {
		return e, fmt.Errorf("webhook endpoint %d: %w", id, ErrNotFound)
	}
	return e, nil
}

func (t *Tx) notifyEndpoint(ctx context.Context, id int64) (NotifyEndpoint, error) {
	es, err := endpointQuery(ctx, t.stx, `WHERE id = ? AND removed_at = ''`, id)
	if err != nil {
		return NotifyEndpoint{}, err
	}
	if len(es) == 0 {
		return NotifyEndpoint{}, fmt.Errorf("webhook endpoint %d: %w", id, ErrNotFound)
	}
	return es[0], nil
}

// ActiveNotifyEndpoints lists the endpoints not removed, inside t.
func (t *Tx) ActiveNotifyEndpoints(ctx context.Context) ([]NotifyEndpoint, error) {
	return endpointQuery(ctx, t.stx, `WHERE removed_at = '' ORDER BY id`)
}

// NotifyEndpoints lists the endpoints not removed, for the settings page.
func (db *DB) NotifyEndpoints(ctx context.Context) ([]NotifyEndpoint, error) {
	return endpointQuery(ctx, db.Read, `WHERE removed_at = '' ORDER BY id`)
}

// NotifyEndpointSecret returns the secret of endpoint id, removed or not
// (queued deliveries to a removed endpoint are still signed).
func (db *DB) NotifyEndpointSecret(ctx context.Context, id int64) (string, error) {
	var s string
	err := db.Read.QueryRowContext(ctx, `SELECT secret FROM notify_endpoints WHERE id = ?`, id).Scan(&s)
	if err == sql.ErrNoRows {
		return "", fmt.Errorf("webhook endpoint %d: %w", id, ErrNotFound)
	}
	return s, err
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func endpointQuery(ctx context.Context, q querier, where string, args ...any) ([]NotifyEndpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, url, secret, events, created_by, created_by_name, created_at
		FROM notify_endpoints `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []NotifyEndpoint
	for rows.Next() {
		var e NotifyEndpoint
		var at string
		if err := rows.Scan(&e.ID, &e.URL, &e.Secret, &e.Events, &e.CreatedBy, &e.CreatedByName, &at); err != nil {
			return nil, err
		}
		if e.CreatedAt, err = ParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

const deliveryColumns = `d.id, d.event_id, d.channel, d.user_id, d.endpoint_id, d.address, d.lang, d.state, d.attempts,
	d.next_attempt_at, d.lease_owner, d.lease_until, d.last_error, d.last_status, d.created_at, d.updated_at, d.sent_at,
	e.kind, e.refund_id, e.payload, e.created_at`

func deliveryQuery(ctx context.Context, q querier, where string, args ...any) ([]NotifyDelivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM notify_deliveries d
		JOIN notify_events e ON e.id = d.event_id `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: notification deliveries: %w", err)
	}
	defer rows.Close()
	var out []NotifyDelivery
	for rows.Next() {
		var d NotifyDelivery
		var next, until, created, updated, sent, evAt string
		if err := rows.Scan(&d.ID, &d.EventID, &d.Channel, &d.UserID, &d.EndpointID, &d.Address, &d.Lang, &d.State,
			&d.Attempts, &next, &d.LeaseOwner, &until, &d.LastError, &d.LastStatus, &created, &updated, &sent,
			&d.Event.Kind, &d.Event.RefundID, &d.Event.Payload, &evAt); err != nil {
			return nil, err
		}
		d.Event.ID = d.EventID
		for _, f := range []struct {
			s string
			t *time.Time
		}{{next, &d.NextAttemptAt}, {until, &d.LeaseUntil}, {created, &d.CreatedAt}, {updated, &d.UpdatedAt},
			{sent, &d.SentAt}, {evAt, &d.Event.CreatedAt}} {
			if f.s == "" {
				continue
			}
			if *f.t, err = ParseTime(f.s); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimNotifyDeliveries claims up to limit due deliveries for owner until
// leaseUntil: PENDING ones whose next attempt is due, and SENDING ones
// whose claim's lease has expired (their owner is gone). Each claim is a
// conditional UPDATE on the state, attempt count and lease read, so of
// several dispatchers exactly one wins a delivery. It returns the claimed
// deliveries with their events, Attempts being the attempt this claim starts.
func (t *Tx) ClaimNotifyDeliveries(ctx context.Context, owner string, leaseUntil time.Time, limit int) ([]NotifyDelivery, error) {
	now := FormatTime(t.now)
	due, err := deliveryQuery(ctx, t.stx, `WHERE (d.state = 'PENDING' AND d.next_attempt_at <= ?)
		OR (d.state = 'SENDING' AND d.lease_until <= ?) ORDER BY d.next_attempt_at, d.id LIMIT ?`, now, now, limit)
	if err != nil {
		return nil, err
	}
	var out []NotifyDelivery
	for _, d := range due {
		res, err := t.stx.ExecContext(ctx, `UPDATE notify_deliveries SET state = 'SENDING', attempts = attempts + 1,
			lease_owner = ?, lease_until = ?, updated_at = ?
			WHERE id = ? AND state = ? AND attempts = ? AND lease_owner = ?`,
			owner, FormatTime(leaseUntil), now, d.ID, d.State, d.Attempts, d.LeaseOwner)
		if err != nil {
			return nil, fmt.Errorf("store: claim notification delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		d.State, d.Attempts, d.LeaseOwner, d.LeaseUntil = NotifySending, d.Attempts+1, owner, leaseUntil.UTC()
		out = append(out, d)
	}
	return out, nil
}

// NotifyOutcome is how one attempt of a delivery ended.
type NotifyOutcome struct {
	State     string    // SENT, PENDING (retry at Next) or FAILED (given up)
	Next      time.Time // PENDING: when to try again
	LastError string
	Status    int // webhook: HTTP status, 0 when none
}

// FinishNotifyDelivery records o for delivery id, if it is still owner's
// claim number attempt. It reports whether it was.
func (t *Tx) FinishNotifyDelivery(ctx context.Context, id int64, owner string, attempt int, o NotifyOutcome) (bool, error) {
	now := FormatTime(t.now)
	sent, next := "", now
	if o.State == NotifySent {
		sent = now
	}
	if o.State == NotifyPending {
		next = FormatTime(o.Next)
	}
	res, err := t.stx.ExecContext(ctx, `UPDATE notify_deliveries SET state = ?, next_attempt_at = ?, last_error = ?,
		last_status = ?, sent_at = ?, lease_until = '', updated_at = ?
		WHERE id = ? AND state = 'SENDING' AND lease_owner = ? AND attempts = ?`,
		o.State, next, o.LastError, o.Status, sent, now, id, owner, attempt)
	if err != nil {
		return false, fmt.Errorf("store: finish notification delivery: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// NotifyDeliveryLog lists the last limit deliveries of channel ("" all),
// most recently changed first.
func (db *DB) NotifyDeliveryLog(ctx context.Context, channel string, limit int) ([]NotifyDelivery, error) {
	if channel == "" {
		return deliveryQuery(ctx, db.Read, `ORDER BY d.updated_at DESC, d.id DESC LIMIT ?`, limit)
	}
	return deliveryQuery(ctx, db.Read, `WHERE d.channel = ? ORDER BY d.updated_at DESC, d.id DESC LIMIT ?`, channel, limit)
}

// NotifyDeliveriesOf lists the deliveries of the events about refund id.
func (db *DB) NotifyDeliveriesOf(ctx context.Context, refundID string) ([]NotifyDelivery, error) {
	return deliveryQuery(ctx, db.Read, `WHERE e.refund_id = ? ORDER BY d.id`, refundID)
}

// PendingRefundsToRemind lists up to limit refunds still PENDING that
// were requested at or before before and have no event of kind yet.
func (db *DB) PendingRefundsToRemind(ctx context.Context, before time.Time, kind string, limit int) ([]RemindRefund, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT r.id, r.requested_by FROM refunds r
		WHERE r.approval = 'PENDING' AND r.requested_at <= ?
		AND NOT EXISTS (SELECT 1 FROM notify_events e WHERE e.refund_id = r.id AND e.kind = ?)
		ORDER BY r.requested_at, r.id LIMIT ?`, FormatTime(before), kind, limit)
	if err != nil {
		return nil, fmt.Errorf("store: refunds to remind: %w", err)
	}
	defer rows.Close()
	var out []RemindRefund
	for rows.Next() {
		var r RemindRefund
		if err := rows.Scan(&r.ID, &r.RequestedBy); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RemindRefund is a pending refund a reminder is due for.
type RemindRefund struct {
	ID          string
	RequestedBy int64
}

// PruneNotifications deletes up to limit settled deliveries (SENT or
// FAILED) last changed before before, then up to limit events older than
// before that have no delivery left, except the reminder of a refund still
// pending (it is what keeps the reminder from being sent again). It
// returns how many deliveries it deleted.
func (t *Tx) PruneNotifications(ctx context.Context, before time.Time, limit int) (int64, error) {
	at := FormatTime(before)
	res, err := t.stx.ExecContext(ctx, `DELETE FROM notify_deliveries WHERE id IN (
		SELECT id FROM notify_deliveries WHERE state IN ('SENT', 'FAILED') AND updated_at < ? ORDER BY updated_at LIMIT ?)`, at, limit)
	if err != nil {
		return 0, fmt.Errorf("store: prune notification deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM notify_events WHERE id IN (
		SELECT e.id FROM notify_events e WHERE e.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM notify_deliveries d WHERE d.event_id = e.id)
		AND NOT (e.kind = 'refund.reminder' AND EXISTS (SELECT 1 FROM refunds r WHERE r.id = e.refund_id AND r.approval = 'PENDING'))
		ORDER BY e.created_at LIMIT ?)`, at, limit); err != nil {
		return 0, fmt.Errorf("store: prune notification events: %w", err)
	}
	return n, nil
}
