package audit

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LimiterOptions tune a Limiter; zero values take the defaults.
type LimiterOptions struct {
	// Window is the length of the aligned windows (default 1m).
	Window time.Duration
	// PerSource is how many events of one action from one source are
	// recorded one by one in a window (default 5).
	PerSource int
	// Global is how many events are recorded one by one in a window over
	// all sources and actions (default 100).
	Global int
	// Sources is how many (source, action) pairs are counted separately
	// in a window (default 100); events from further sources are counted
	// together per action.
	Sources int
	// Now is the clock (default: the Log's).
	Now func() time.Time
}

// WithDefaults returns o with its zero fields set to the defaults.
func (o LimiterOptions) WithDefaults() LimiterOptions {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.PerSource <= 0 {
		o.PerSource = 5
	}
	if o.Global <= 0 {
		o.Global = 100
	}
	if o.Sources <= 0 {
		o.Sources = 100
	}
	return o
}

// Limiter keeps what unauthenticated or refused visitors do from growing
// the audit trail without bound, while keeping the evidence: per aligned
// window (a minute by default), the first PerSource events of one action
// from one source (the signed-in user, else the client address, IPv6 by
// /64) are recorded as they come,
// at most Global in all; the rest are counted, and after the window ends
// one aggregate event per (source, action) records how many there were
// (details: aggregate, count, source, window_start, window_seconds, and the
// last suppressed event's details as sample). Sources beyond Sources in a
// window share one aggregate per action (details.sources says how many).
//
// Rows per window are therefore at most Global + Sources + (actions seen
// beyond Sources): 100 + 100 + a few with the defaults; one source alone
// adds at most PerSource + 1 rows per action per window.
//
// Only refusals go through it; what legitimate users do (sign-ins, refund
// actions, accepted webhooks) is recorded directly, unthrottled.
type Limiter struct {
	log  *Log
	opts LimiterOptions

	mu       sync.Mutex
	window   time.Time // start of the current window
	global   int
	buckets  map[limitKey]*limitBucket
	overflow map[string]*limitBucket // by action
	pending  []Event                 // aggregates of ended windows, not yet written
}

type limitKey struct{ source, action string }

type limitBucket struct {
	written, suppressed int
	sources             map[string]bool // overflow buckets only
	sample              Event
}

// NewLimiter returns a Limiter recording into log.
func NewLimiter(log *Log, opts LimiterOptions) *Limiter {
	opts = opts.WithDefaults()
	if opts.Now == nil {
		opts.Now = log.now
	}
	return &Limiter{log: log, opts: opts, buckets: map[limitKey]*limitBucket{}, overflow: map[string]*limitBucket{}}
}

// SourceOf groups client addresses as the login throttle does: port
// dropped, IPv4-mapped unmapped, IPv6 by /64 (an unparseable value is kept,
// cut to 64 bytes). The limiter and the handlers' pacer count by it.
func SourceOf(ip string) string {
	ip = strings.TrimSpace(ip)
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// Admit reports whether e may be recorded as a row of its own now; when
// not, it has been counted for its window's aggregate. It never writes, so
// it may be called inside a transaction (the caller then records e with
// that transaction).
func (l *Limiter) Admit(ctx context.Context, e Event) bool {
	e.fillOrigin(ctx)
	now := l.opts.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rotate(now)
	k := limitKey{source: SourceOf(e.ClientIP), action: e.Action}
	if e.ActorID != 0 {
		// A signed-in user is counted as themselves: colleagues behind one
		// office address do not use up each other's budget.
		k.source = "user:" + strconv.FormatInt(e.ActorID, 10)
	}
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= l.opts.Sources {
			ov := l.overflow[e.Action]
			if ov == nil {
				ov = &limitBucket{sources: map[string]bool{}}
				l.overflow[e.Action] = ov
			}
			ov.suppressed++
			if len(ov.sources) < 10_000 {
				ov.sources[k.source] = true
			}
			ov.sample = e
			return false
		}
		b = &limitBucket{}
		l.buckets[k] = b
	}
	if b.written < l.opts.PerSource && l.global < l.opts.Global {
		b.written++
		l.global++
		return true
	}
	b.suppressed++
	b.sample = e
	return false
}

// rotate ends the current window when now is past it, turning its counts
// into pending aggregate events. l.mu is held.
func (l *Limiter) rotate(now time.Time) {
	start := now.Truncate(l.opts.Window)
	if !start.After(l.window) {
		return
	}
	secs := int64(l.opts.Window / time.Second)
	for k, b := range l.buckets {
		if b.suppressed > 0 {
			l.pending = append(l.pending, aggregate(b, k.source, l.window, secs, 1))
		}
	}
	for _, b := range l.overflow {
		l.pending = append(l.pending, aggregate(b, "", l.window, secs, len(b.sources)))
	}
	l.window, l.global = start, 0
	clear(l.buckets)
	clear(l.overflow)
}

func aggregate(b *limitBucket, source string, start time.Time, secs int64, sources int) Event {
	e := b.sample
	d := map[string]any{"aggregate": true, "count": b.suppressed, "window_start": start.UTC().Format(time.RFC3339),
		"window_seconds": secs, "sample": e.Details}
	if source != "" {
		d["source"] = source
	} else {
		d["sources"] = sources
		e.ClientIP = ""
	}
	// The aggregate is written later by the limiter, not by the request
	// that happened to be last.
	e.RequestID, e.UserAgent, e.Details = "", "", d
	return e
}

// RecordNow records e in a transaction of its own if Admit lets it, and
// writes any aggregates that are due. Call it outside store transactions.
func (l *Limiter) RecordNow(ctx context.Context, e Event) error {
	var err error
	if l.Admit(ctx, e) {
		err = l.log.RecordNow(ctx, e)
	}
	return errors.Join(err, l.flushPending(ctx))
}

// Flush ends the current window if its time is over and writes the
// aggregate events that are due. The app calls it every few seconds (Run).
func (l *Limiter) Flush(ctx context.Context) error {
	l.mu.Lock()
	l.rotate(l.opts.Now())
	l.mu.Unlock()
	return l.flushPending(ctx)
}

func (l *Limiter) flushPending(ctx context.Context) error {
	l.mu.Lock()
	due := l.pending
	l.pending = nil
	l.mu.Unlock()
	var errs []error
	for _, e := range due {
		errs = append(errs, l.log.RecordNow(ctx, e))
	}
	return errors.Join(errs...)
}

// Run flushes every interval until ctx ends, then once more with whatever
// the window had counted so far, so a shutdown loses no count.
func (l *Limiter) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.mu.Lock()
			l.rotate(l.window.Add(l.opts.Window)) // end the window now
			l.mu.Unlock()
			if err := l.flushPending(context.WithoutCancel(ctx)); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := l.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
