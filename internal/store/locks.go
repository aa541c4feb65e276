package store

import (
	"context"
	"fmt"
)

// How write transactions keep the domain's read-decide-write rules on
// PostgreSQL, where they run side by side at READ COMMITTED (on SQLite the
// one writer keeps them):
//
//   - A write transaction's read of the row it decides on locks the row
//     (forUpdate): Refund, the target of the refundable-amount check
//     (LockTarget), a user's second factors, the throttle counters. A
//     second writer of the same row waits for the first's commit and then
//     reads what it committed, so "two approvals of two", "still pending"
//     and "still under the limit" hold.
//   - A rule about a row that may not exist yet, or about a set of rows,
//     locks its key instead (lockKey): a form token about to create a
//     refund, a webhook delivery about to be stored, a NeoX refund id a
//     webhook may arrive for before the desk knows it, a throttle key's
//     first failure, the set of enabled admins (LockUserRoles).
//   - A value created on first use (a session key, the account-hash key)
//     is inserted ON CONFLICT DO NOTHING and read back: the first wins.
//   - State changes are compare-and-set (UPDATE ... WHERE state = from),
//     which a concurrent change makes affect no row.
//   - The audit chain's head row is taken last, at the commit (audit.go),
//     so a transaction holding it never waits for another lock.
//
// Locks are taken in one order: key locks, then rows (refund before its
// target), then the audit head; a deadlock PostgreSQL still detects is
// retried with the whole transaction (txAt).

// lockSpace separates the kinds of keys lockKey locks, so a form token can
// never collide with a webhook's dedupe key.
type lockSpace int32

const (
	lockFormToken  lockSpace = 727170 + iota // a refund's idempotency key
	lockWebhookKey                           // a webhook delivery's dedupe key
	lockNeoXRefund                           // a NeoX refund id (held webhooks)
	lockUserRoles                            // the enabled admins (the last one stays) and the first account
	lockThrottle                             // a login throttle key, row or no row yet
	lockSweep                                // the start of a sweep (one at a time across instances)
	lockSetting                              // a settings row read to be changed, row or no row yet
)

// lockKey takes, on PostgreSQL in a write transaction, a lock on key
// within space until t ends; other writers locking the same key wait. The
// key is the desk's schema's: desks (or tests) in other schemas of one
// database never wait for each other. Nothing to do on SQLite or in a
// View. It runs as a statement of its own, so the reads that follow take
// their snapshot after the lock is held and see what the previous holder
// committed.
func (t *Tx) lockKey(ctx context.Context, space lockSpace, key string) error {
	if !t.locks() {
		return nil
	}
	if _, err := t.stx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(current_schema() || '/' || ?))`,
		int32(space), key); err != nil {
		return fmt.Errorf("store: lock: %w", err)
	}
	return nil
}

// locks reports whether t's reads of what it decides on must lock:
// PostgreSQL write transactions.
func (t *Tx) locks() bool { return t.pg && t.write }

// forUpdate is the suffix of a write transaction's SELECT of the rows it
// decides on: " FOR UPDATE" on PostgreSQL, nothing on SQLite (whose write
// transaction already excludes every other writer) or in a View.
func (t *Tx) forUpdate() string {
	if t.locks() {
		return " FOR UPDATE"
	}
	return ""
}

// LockUserRoles holds, for the rest of t, the right to change who is an
// enabled admin: take it before counting the enabled admins (or the
// users, to create the first one), so two transactions cannot both count
// the other's admin as still there.
func (t *Tx) LockUserRoles(ctx context.Context) error {
	return t.lockKey(ctx, lockUserRoles, "")
}
