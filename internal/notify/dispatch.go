package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Sender sends one delivery of one event on its channel. An error means
// "not delivered, try again"; a *Permanent error means giving up now.
type Sender interface {
	Send(ctx context.Context, d store.NotifyDelivery, ev Event) error
}

// Permanent wraps an error no retry can fix (an address refused, a
// removed endpoint's secret gone): the delivery fails at once.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// DispatchOptions tune a Dispatcher; zero values take the defaults.
type DispatchOptions struct {
	Now         func() time.Time // default time.Now
	Lease       time.Duration    // how long a claim stands against other dispatchers; default 2m
	RetryBase   time.Duration    // first retry delay; default 30s
	RetryMax    time.Duration    // retry delay cap; default 1h
	MaxAttempts int              // attempts before giving up; default 8
	Batch       int              // deliveries claimed at once; default 16
	Poll        time.Duration    // how often Run looks for due work; default 5s
	// RemindAfter: a request still PENDING this long after it was made
	// sends approvers one reminder; 0: no reminders.
	RemindAfter time.Duration
	// Outages returns NeoX's current outages (refunds.Service.Outages);
	// nil: none are reported.
	Outages func(context.Context) ([]OutageInfo, error)
	Logger  *slog.Logger
}

// OutageInfo is one NeoX operation that stopped answering.
type OutageInfo struct {
	API, Op   string
	Since     time.Time
	LastError string
}

// Dispatcher sends the outbox's deliveries.
type Dispatcher struct {
	db      *store.DB
	out     *Outbox
	senders map[string]Sender
	opt     DispatchOptions
	owner   string
	log     *slog.Logger
	wake    chan struct{}
}

// NewDispatcher returns a dispatcher over db; senders are keyed by
// channel (a channel without a sender keeps its deliveries waiting).
func NewDispatcher(db *store.DB, out *Outbox, senders map[string]Sender, opt DispatchOptions) *Dispatcher {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Lease <= 0 {
		opt.Lease = 2 * time.Minute
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = 30 * time.Second
	}
	if opt.RetryMax <= 0 {
		opt.RetryMax = time.Hour
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 8
	}
	if opt.Batch <= 0 {
		opt.Batch = 16
	}
	if opt.Poll <= 0 {
		opt.Poll = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Dispatcher{db: db, out: out, senders: senders, opt: opt, owner: uuid.NewString(), log: opt.Logger,
		wake: make(chan struct{}, 1)}
}

// Owner is this dispatcher's id on the claims it takes.
func (d *Dispatcher) Owner() string { return d.owner }

// Wake makes Run look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends, then returns nil once the sends
// in flight have finished and their outcomes are recorded (each is bounded
// by its channel's timeout); nothing new is claimed after ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.opt.Poll)
	defer t.Stop()
	for {
		if err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("notification dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		case <-d.out.wrote:
		}
	}
}

// Tick does one round: reminders and outages due now become events, then
// every delivery due now is claimed, sent and settled. It returns how the
// round went wrong, if it did; a failed send is an outcome, not an error.
func (d *Dispatcher) Tick(ctx context.Context) error {
	var errs []error
	if d.opt.RemindAfter > 0 {
		errs = append(errs, d.remind(ctx))
	}
	if d.opt.Outages != nil {
		errs = append(errs, d.outages(ctx))
	}
	for ctx.Err() == nil {
		claimed, err := d.Claim(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(claimed) == 0 {
			break
		}
		var wg sync.WaitGroup
		for _, c := range claimed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := d.Deliver(ctx, c); err != nil {
					d.log.Warn("recording a notification's outcome failed", "delivery", c.ID, "err", err)
				}
			}()
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// Claim takes up to Batch due deliveries under this dispatcher's lease,
// in a committed transaction.
func (d *Dispatcher) Claim(ctx context.Context) ([]store.NotifyDelivery, error) {
	var out []store.NotifyDelivery
	now := d.opt.Now()
	err := d.db.TxAt(ctx, now, func(tx *store.Tx) error {
		var err error
		out, err = tx.ClaimNotifyDeliveries(ctx, d.owner, now.Add(d.opt.Lease), d.opt.Batch)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: claim deliveries: %w", err)
	}
	return out, nil
}

// Deliver sends one claimed delivery and records the outcome, while the
// claim is still this dispatcher's.
func (d *Dispatcher) Deliver(ctx context.Context, c store.NotifyDelivery) error {
	ev := Event{ID: c.Event.ID, Kind: Kind(c.Event.Kind), RefundID: c.Event.RefundID, At: c.Event.CreatedAt}
	var sendErr error
	if err := json.Unmarshal([]byte(c.Event.Payload), &ev.Data); err != nil {
		sendErr = &Permanent{fmt.Errorf("unreadable event payload: %w", err)}
	} else if s, ok := d.senders[c.Channel]; !ok || s == nil {
		sendErr = &Permanent{errors.New(c.Channel + " is not configured")}
	} else {
		// A send in flight finishes even when ctx ends (shutdown), so its
		// outcome is recorded instead of sent again after the lease.
		sendErr = s.Send(context.WithoutCancel(ctx), c, ev)
	}
	o := store.NotifyOutcome{State: store.NotifySent}
	var perm *Permanent
	var hs *HTTPStatusError
	if errors.As(sendErr, &hs) {
		o.Status = hs.Status
	}
	switch {
	case sendErr == nil:
	case errors.As(sendErr, &perm) || c.Attempts >= d.opt.MaxAttempts:
		o.State, o.LastError = store.NotifyFailed, truncate(sendErr.Error(), 500)
		d.log.Warn("notification given up", "delivery", c.ID, "channel", c.Channel, "attempts", c.Attempts, "err", o.LastError)
	default:
		o.State, o.LastError = store.NotifyPending, truncate(sendErr.Error(), 500)
		o.Next = d.opt.Now().Add(Backoff(d.opt.RetryBase, d.opt.RetryMax, c.Attempts))
	}
	return d.db.TxAt(context.WithoutCancel(ctx), d.opt.Now(), func(tx *store.Tx) error {
		ok, err := tx.FinishNotifyDelivery(context.WithoutCancel(ctx), c.ID, d.owner, c.Attempts, o)
		if err == nil && !ok {
			d.log.Warn("notification claim was taken over before its outcome was recorded", "delivery", c.ID)
		}
		return err
	})
}

// Backoff is the delay after attempt n (1-based) failed: base doubled
// per attempt, capped at max.
func Backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// remindPrefix prefixes a reminder's dedupe key: one per refund, ever.
const remindPrefix = "remind:"

func (d *Dispatcher) remind(ctx context.Context) error {
	now := d.opt.Now()
	due, err := d.db.PendingRefundsToRemind(ctx, now.Add(-d.opt.RemindAfter), string(KindReminder), 100)
	if err != nil {
		return err
	}
	for _, r := range due {
		if err := d.db.TxAt(ctx, now, func(tx *store.Tx) error {
			return d.out.Refund(ctx, tx, KindReminder, r.ID, remindPrefix+r.ID)
		}); err != nil {
			return fmt.Errorf("notify: reminder for %s: %w", r.ID, err)
		}
	}
	return nil
}

func (d *Dispatcher) outages(ctx context.Context) error {
	list, err := d.opt.Outages(ctx)
	if err != nil {
		return fmt.Errorf("notify: read outages: %w", err)
	}
	for _, o := range list {
		key := "outage:" + o.API + ":" + o.Op + ":" + o.Since.UTC().Format(time.RFC3339Nano)
		if err := d.db.TxAt(ctx, d.opt.Now(), func(tx *store.Tx) error {
			return d.out.Outage(ctx, tx, o.API, o.Op, o.Since, truncate(o.LastError, 300), key)
		}); err != nil {
			return fmt.Errorf("notify: outage of %s %s: %w", o.API, o.Op, err)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n-- // keep UTF-8 whole
	}
	return s[:n] + "…"
}

// Prune deletes settled deliveries last changed more than keep ago, and
// events left without deliveries, in batches; it returns how many
// deliveries went.
func (d *Dispatcher) Prune(ctx context.Context, keep time.Duration) (int64, error) {
	var total int64
	for {
		var n int64
		now := d.opt.Now()
		err := d.db.TxAt(ctx, now, func(tx *store.Tx) error {
			var err error
			n, err = tx.PruneNotifications(ctx, now.Add(-keep), 1000)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}
