package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wake-ups across instances. On SQLite there is one server per database
// (store.LockServer), so the in-process nudge is all there is. On
// PostgreSQL several instances share the database: a transaction that
// makes a refund due now sends a NOTIFY, which PostgreSQL delivers to every
// listening connection when (and only if) it commits, and each instance's
// listener wakes its worker. The worker's periodic poll stays the fallback
// for a notification lost while a listener was reconnecting.

// wakeChannelSQL names the channel: one per schema, so instances of
// different desks (and parallel tests, each in its own schema) on one
// server do not wake each other. A channel name is at most 63 bytes.
const wakeChannelSQL = `left('rd_wake.' || current_schema(), 63)`

// notifyWake queues, in t, a wake-up for every instance's worker carrying
// the refund id; nothing on SQLite.
func (t *Tx) notifyWake(ctx context.Context, id string) error {
	if !t.pg {
		return nil
	}
	if _, err := t.stx.ExecContext(ctx, `SELECT pg_notify(`+wakeChannelSQL+`, ?)`, id); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}

// Reconnection delays of the listener: doubled after each failure to
// listen, back to the first once a connection has listened.
const (
	wakeRetryFirst = 100 * time.Millisecond
	wakeRetryMax   = 30 * time.Second
)

// ListenWake calls wake with the refund id of each wake-up another
// transaction (on any instance) committed, until ctx is done. It holds a
// connection of its own, outside the pool, and reconnects with backoff when
// it is lost, reporting each failure to onErr. Each time it starts
// listening it calls wake("") once: what was committed while it was not
// listening may be due now. On SQLite it returns at once.
func (db *DB) ListenWake(ctx context.Context, wake func(id string), onErr func(error)) {
	if !db.pg || db.pgCfg == nil {
		return
	}
	delay := wakeRetryFirst
	for {
		listened, err := db.listenWakeOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		if listened {
			delay = wakeRetryFirst
		}
		if onErr != nil {
			onErr(fmt.Errorf("wake-up listener on %s (retrying in %s): %w", db.Path, delay, pgExplain(err)))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, wakeRetryMax)
	}
}

// listenWakeOnce connects, listens and passes on notifications until the
// connection fails or ctx is done. listened reports that it got as far as
// listening.
func (db *DB) listenWakeOnce(ctx context.Context, wake func(id string)) (listened bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, db.pgCfg.Copy())
	if err != nil {
		cancel()
		return false, err
	}
	defer func() {
		closeCtx, closeCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer closeCancel()
		_ = conn.Close(closeCtx)
	}()
	var channel *string
	if err := conn.QueryRow(cctx, `SELECT `+wakeChannelSQL).Scan(&channel); err != nil {
		cancel()
		return false, err
	}
	if channel == nil {
		cancel()
		return false, errors.New("no schema of the search_path exists")
	}
	if _, err := conn.Exec(cctx, `LISTEN `+pgx.Identifier{*channel}.Sanitize()); err != nil {
		cancel()
		return false, err
	}
	cancel()
	wake("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		wake(n.Payload)
	}
}
