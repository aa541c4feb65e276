package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ErrNotFound is returned by Get when no event has the given seq.
var ErrNotFound = fault.New(fault.NotFound, "audit: event not found")

// ErrInvalid is returned by Record for an event without an action or outcome.
var ErrInvalid = errors.New("audit: invalid event")

// Log records events into, and reads them back from, the audit_events table.
type Log struct {
	db     *store.DB
	now    func() time.Time
	actors actorCache
}

// New returns a Log over db; now is its clock (nil means time.Now).
func New(db *store.DB, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: db, now: now}
}

// Record appends e to the chain inside tx, the caller's write transaction,
// so the event commits if and only if the change it describes commits.
// It fills Time and the origin fields (see Event) and redacts Details; the
// store links the new row to the chain's head, which it reads locked inside
// tx and moves in the same transaction, so two Records can never read the
// same head and fork the chain. Time never decreases along the chain (a
// clock stepping back stamps the previous event's time), so a time range is
// a seq range; Query relies on that to page time-filtered views by seq.
//
// It returns ErrInvalid (wrapped) for an event without Action or Outcome,
// and database errors as they come.
func (l *Log) Record(ctx context.Context, tx *store.Tx, e Event) error {
	if e.Action == "" || e.Outcome == "" {
		return fmt.Errorf("%w: action and outcome are required (action %q, outcome %q)", ErrInvalid, e.Action, e.Outcome)
	}
	e.fillOrigin(ctx)
	if e.ActorName == "" {
		e.ActorName = "system"
	}
	details, err := detailsJSON(e.Details)
	if err != nil {
		return err
	}

	err = tx.AppendAudit(ctx, row{
		At:      store.FormatTime(l.now()),
		ActorID: e.ActorID, ActorName: e.ActorName, ActorRole: e.ActorRole,
		Action: e.Action, Outcome: e.Outcome,
		TargetType: e.TargetType, TargetID: e.TargetID,
		ClientIP: e.ClientIP, UserAgent: e.UserAgent, RequestID: e.RequestID,
		Details: details,
	})
	if err != nil {
		return fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return nil
}

// RecordNow records e in a transaction of its own, for events that describe
// no other change (a failed login, an invalid webhook, an export). Never
// call it inside another store transaction: the single writer connection
// is busy, and it would wait for it forever; use Record with that tx.
func (l *Log) RecordNow(ctx context.Context, e Event) error {
	return l.db.Tx(ctx, func(tx *store.Tx) error { return l.Record(ctx, tx, e) })
}
