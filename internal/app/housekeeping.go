package app

import (
	"context"
	"time"
)

// defaultHousekeepEvery is how often expired sessions are deleted. They are
// already refused when presented; this keeps the table from growing with
// sessions nobody comes back to.
const defaultHousekeepEvery = 15 * time.Minute

// refusalsFlushEvery is how often the audit limiter's aggregate events of
// ended windows are written.
const refusalsFlushEvery = 5 * time.Second

// housekeep prunes expired sessions now and then every interval, until ctx
// ends.
func (a *App) housekeep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := a.Auth.PruneSessions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			a.Log.Warn("pruning expired sessions failed", "err", err)
		case n > 0:
			a.Log.Info("pruned expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
