package store

import (
	"context"
	"fmt"
)

// Keyed locks: on PostgreSQL, write transactions run side by side at READ
// COMMITTED, so a rule that reads several rows, decides and then writes
// (no row to lock, or a row that may not exist yet) takes a transaction
// advisory lock named after the rule first. Every transaction enforcing
// the rule takes the same name, so the second waits for the first's commit
// and then reads what it wrote. The name is hashed with the schema, so
// desks (and tests) in other schemas of one database do not wait for each
// other; a hash collision only makes two unrelated rules take turns. The
// commit or rollback releases it. SQLite runs one writer at a time, so
// there it is a no-op.

// Names of keyed locks.
const (
	// lockUserRoles guards the rules over the set of enabled admins (the
	// last one cannot be disabled or demoted) and the first account.
	lockUserRoles = "auth:user-roles"
	// lockThrottlePrefix, plus a throttle key, guards that key's counter,
	// row or no row yet.
	lockThrottlePrefix = "auth:throttle:"
)

// lockKey takes the keyed lock name for the rest of t (PostgreSQL only).
func (t *Tx) lockKey(ctx context.Context, name string) error {
	if !t.pg {
		return nil
	}
	if _, err := t.stx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || ?, 0))`, name); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

// LockUserRoles holds, for the rest of t, the right to change who is an
// enabled admin: take it before counting the enabled admins (or the
// users, to create the first one), so two transactions cannot both count
// the other's admin as still there.
func (t *Tx) LockUserRoles(ctx context.Context) error {
	return t.lockKey(ctx, lockUserRoles)
}
