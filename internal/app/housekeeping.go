package app

import (
	"context"
	"time"
)

// defaultHousekeepEvery is how often expired sessions are deleted. They are
// already refused when presented; this keeps the table from growing with
// sessions nobody comes back to.
const defaultHousekeepEvery = 15 * time.Minute

// notifyKeep is how long settled notification deliveries stay in the
// delivery log.
const notifyKeep = 90 * 24 * time.Hour

// integrityEvery is how often the whole database file is checked.
const integrityEvery = 6 * time.Hour

// refusalsFlushEvery is how often the audit limiter's aggregate events of
// ended windows are written.
const refusalsFlushEvery = 5 * time.Second

// housekeep prunes expired sessions now and then every interval, and checks
// the database file's integrity at start and every integrityEvery, until
// ctx ends.
func (a *App) housekeep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var checked time.Time
	for {
		if time.Since(checked) >= integrityEvery {
			// At start, then every few hours: /readyz reports damage found.
			if err := a.DB.CheckIntegrity(ctx); err != nil && ctx.Err() == nil {
				a.Log.Error("database integrity check failed", "err", err)
			}
			checked = time.Now()
		}
		n, err := a.Auth.PruneSessions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			a.Log.Warn("pruning expired sessions failed", "err", err)
		case n > 0:
			a.Log.Info("pruned expired sessions", "count", n)
		}
		if a.Dispatcher != nil {
			if n, err := a.Dispatcher.Prune(ctx, notifyKeep); err != nil && ctx.Err() == nil {
				a.Log.Warn("pruning old notification deliveries failed", "err", err)
			} else if n > 0 {
				a.Log.Info("pruned old notification deliveries", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
