package refunds

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/prio"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ErrRunning is returned by Run when the worker already runs.
var ErrRunning = errors.New("refunds: worker already running")

type job struct {
	id  string
	sub string // state when dispatched: QUEUED/UNKNOWN → send, PROCESSING → poll
	// fresh marks an approval made in the last moments (see dispatch): it
	// gets the next free call slot before the backlog's refunds.
	fresh bool
	// calls, for a send, bounds the product's refund calls in flight
	// (Options.Workers); nil means no bound.
	calls *prio.Sem
}

// Run is the submission worker. It blocks until ctx is done, then lets
// the NeoX calls in progress finish (up to Options.ShutdownGrace), records
// their answers, and returns nil once every goroutine has stopped.
//
// At start, claims (rows in SENDING) whose owner is gone become UNKNOWN
// (reconciled before any resend): those whose lease has expired, or every
// other owner's when this is the database's only worker
// (Options.SoleWorker); a live worker's claim is never taken over. While
// it runs, it takes over claims whose lease expired (an instance killed
// mid-call) every quarter of Options.Lease. Then it
// sends approved refunds (QUEUED), retries UNKNOWN ones when due, and polls
// PROCESSING ones every PollInterval. Per product, at most Options.Workers refund calls
// are in flight, made by a quarter more send workers (at least one more),
// and half as many (at least one) poll, so a backlog of polls never
// delays a send.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return ErrRunning
	}
	s.running = true
	s.runMu.Unlock()
	defer func() { s.runMu.Lock(); s.running = false; s.runMu.Unlock() }()

	if err := s.recoverInterrupted(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	// NeoX calls outlive ctx by the grace period, so a shutdown does not
	// cut a call whose answer we would then not know.
	callCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(s.opt.ShutdownGrace, cancelCalls)
		context.AfterFunc(callCtx, func() { t.Stop() })
	})
	defer stopGrace()

	var (
		wg    sync.WaitGroup
		ready sync.WaitGroup // workers started (see the first round)
		mu    sync.Mutex
		busy  = map[string]bool{}
		freed = make(chan struct{}, 1)
		jobs  = map[lane]chan job{}
	)
	for _, api := range s.Configured() {
		// Options.Workers refund calls to NeoX at once per product, made
		// by a quarter more send workers than that: while one worker
		// writes its claim or its answer (a commit, queued behind the
		// other writers), another's call keeps the slot busy, so the
		// product's calls run back to back and throughput stays close to
		// Workers/latency instead of losing a commit's time per call.
		calls := prio.New(s.opt.Workers)
		for _, l := range []lane{{api, false}, {api, true}} {
			n := s.opt.Workers + max(1, s.opt.Workers/4)
			if l.poll {
				n = max(1, s.opt.Workers/2)
			}
			// One job waits per lane at most: a refund handed out sits
			// behind no more than that one and the few claimed refunds
			// waiting for a call slot, so a fresh approval put first by
			// dispatch is sent within a few calls' time. (A lane with no
			// room would lose the hand-off to a worker that signalled it
			// is free but is not yet receiving.)
			ch := make(chan job, 1)
			jobs[l] = ch
			for range n {
				ready.Add(1)
				wg.Go(func() {
					ready.Done()
					for j := range ch {
						if !l.poll {
							j.calls = calls
						}
						if ctx.Err() == nil {
							s.process(ctx, callCtx, j)
						}
						mu.Lock()
						delete(busy, j.id)
						mu.Unlock()
						select {
						case freed <- struct{}{}:
						default:
						}
					}
				})
			}
		}
	}
	defer func() {
		for _, ch := range jobs {
			close(ch)
		}
		wg.Wait()
	}()
	// The first round waits for the workers to be waiting on their lanes:
	// a hand-off is to a waiting worker or to the lane's one place, so a
	// round made before (at start, on a busy machine) handed out one
	// refund and left the rest, and the idle workers, until a call ended
	// or the poll interval passed (TestRefundCallsBoundedByWorkers saw it
	// at load 6–8).
	ready.Wait()

	if sweeps, _ := s.SweepEnabled(); sweeps {
		sweepDone := make(chan struct{})
		go func() { defer close(sweepDone); s.sweepLoop(ctx) }()
		defer func() { <-sweepDone }()
	}

	// Approvals committed by other instances wake this worker too (on
	// PostgreSQL; the poll below stays the fallback).
	listenDone := make(chan struct{})
	go func() { defer close(listenDone); s.listenWake(ctx) }()
	defer func() { <-listenDone }()

	// Needs attention is checked when a refund becomes due, at least every
	// attentionCheckEvery, and after an approval (wake).
	var attnAt time.Time
	// Claims of a worker that died mid-call (another instance, killed) are
	// taken over once their lease expires, checked every quarter lease.
	takeoverAt := s.now().Add(s.opt.Lease / 4)
	for {
		if now := s.now(); !now.Before(takeoverAt) {
			if err := s.recoverInterrupted(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("refunds worker: expired claims", "err", err)
			}
			takeoverAt = now.Add(s.opt.Lease / 4)
		}
		wait := s.dispatch(ctx, jobs, &mu, busy)
		if now := s.now(); !now.Before(attnAt) {
			due, err := s.markAttention(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("refunds worker: needs attention", "err", err)
			}
			attnAt = now.Add(s.attentionCheckEvery())
			if !due.IsZero() && due.Before(attnAt) {
				attnAt = due
				if !due.After(now) {
					// Due already but not flagged: it was mid-call (SENDING).
					// Look again shortly; never spin on it.
					attnAt = now.Add(time.Second)
				}
			}
		}
		wait = min(wait, max(attnAt.Sub(s.now()), time.Millisecond), max(takeoverAt.Sub(s.now()), time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			attnAt = time.Time{}
		case <-freed:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Service) process(runCtx, callCtx context.Context, j job) {
	defer func() {
		// A bug in one refund's handling must not take the worker (and
		// the server) down; the refund is looked at again when due.
		if v := recover(); v != nil {
			s.log.Error("refunds worker: panic", "refund", j.id, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	var err error
	if j.sub == SubProcessing {
		err = s.poll(callCtx, j.id)
	} else {
		err = s.sendBounded(runCtx, callCtx, j.id, j.calls, j.fresh)
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		s.log.Error("refunds worker", "refund", j.id, "err", err)
	}
}

// recoverInterrupted turns rows left in SENDING by a worker that is gone
// (it stopped mid-call, so the outcome is unknown) into UNKNOWN, due now.
// A claim is another worker's to finish while its lease runs, unless this
// is the only worker on the database (Options.SoleWorker): then every
// claim is a dead process's. Taking over a live worker's call would send
// the refund again.
func (s *Service) recoverInterrupted(ctx context.Context) error {
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		list, err := many(tx.ExpiredClaims(ctx, s.owner, s.opt.SoleWorker))
		if err != nil {
			return err
		}
		for _, r := range list {
			ok, err := tx.ReleaseClaim(ctx, r.ID, "interrupted during a NeoX call")
			if err != nil {
				return fmt.Errorf("refunds: %w", err)
			}
			if !ok {
				continue // its owner finished meanwhile
			}
			if err := s.auditState(ctx, tx, r, SubSending, SubUnknown, "system", "interrupted", observation{}); err != nil {
				return err
			}
		}
		return nil
	})
}

// call is one NeoX call made by the worker, audited with the result.
type call struct {
	op, outcome, code, message, responseID string
	latency                                time.Duration
}

func (s *Service) timed(op string, start time.Time, err error, responseID string) call {
	c := classify(op, err, responseID)
	c.latency = time.Since(start)
	return c
}

// classify is the audited call for op that ended with err: success,
// rejected (NeoX's code and message kept) or unknown.
func classify(op string, err error, responseID string) call {
	c := call{op: op, outcome: "success", responseID: responseID}
	if rej, ok := neox.IsRejected(err); ok {
		c.outcome, c.code, c.message, c.responseID = "rejected", rej.Code, rej.Message, rej.NeoResponseID
	} else if err != nil {
		c.outcome, c.message = "unknown", err.Error()
	}
	return c
}

// heldByNeoX reports NeoX saying it already holds this request id (PG code
// 19, GC/COL DUPLICATE_REQUEST_ID): the client reports it as an unknown
// outcome, and for us it means the refund reached NeoX.
func heldByNeoX(err error) bool {
	return errors.Is(err, neox.ErrDuplicateRequestID)
}

// send claims a QUEUED or UNKNOWN refund, reconciles first when an earlier
// attempt's outcome is unknown, sends it with its one request id, and
// records the answer.
func (s *Service) send(runCtx, callCtx context.Context, id string) error {
	return s.sendBounded(runCtx, callCtx, id, nil, false)
}

// sendBounded is send with the product's refund calls bounded by calls
// (a slot is taken after the claim and given back as soon as NeoX has
// answered, before the answer is written); a fresh approval gets the next
// free slot first.
func (s *Service) sendBounded(runCtx, callCtx context.Context, id string, calls *prio.Sem, fresh bool) error {
	// 1. Claim, in its own committed transaction.
	var r Refund
	var prev string
	started := s.now()
	// The claim and the answer's record go ahead of page writes for the
	// writer (SQLite): at 10 users the workers' turns queued behind the
	// pages' and approvals piled up faster than they were sent (load run:
	// approval → claim p95 13 s on the small fixture). The workers are
	// few, so the pages wait behind at most a handful of them.
	err := s.db.UrgentTxAt(runCtx, started, func(tx *store.Tx) error {
		cur, err := one(tx.Refund(runCtx, id))
		if err != nil {
			return err
		}
		if cur.Approval != ApprovalApproved || (cur.Submission != SubQueued && cur.Submission != SubUnknown) ||
			cur.NextAttemptAt.After(started) {
			return conflict(cur)
		}
		ok, err := tx.ClaimSend(runCtx, id, store.Claim{From: cur.Submission, Attempt: cur.Attempts + 1, Owner: s.owner,
			LeaseUntil: started.Add(s.opt.Lease)})
		if err := changed(ok, err, cur); err != nil {
			return err
		}
		prev, r = cur.Submission, cur
		r.Attempts++
		return s.auditState(runCtx, tx, cur, cur.Submission, SubSending, "system", "claimed", observation{})
	})
	if err != nil {
		return err
	}

	// 2. Talk to NeoX, outside any transaction, in the maker's language
	// (r.Lang, which the product passes on).
	ob, done, madeCalls, callErr := s.talk(runCtx, callCtx, prev, r, calls, fresh)
	if errors.Is(callErr, errNotSent) {
		return s.unclaim(r, madeCalls)
	}
	return s.answer(runCtx, started, r, ob, done, madeCalls, callErr)
}

// answer records what NeoX said to attempt r.Attempts of r, claimed at
// claimed: the calls made, verbatim, and the refund's new state.
func (s *Service) answer(runCtx context.Context, claimed time.Time, r Refund, ob observation, done bool, calls []call, callErr error) error {
	for _, c := range calls {
		s.health.record(r.API, s.now(), c)
	}
	s.opt.Observer.WorkerSend(r.API, sendOutcomeOf(done, calls))

	// 3. Record the answer verbatim, in a second transaction. The NeoX
	// answer must be kept even when shutting down, and when the database
	// does not answer (PostgreSQL restarting, failing over).
	return s.recordAnswer(runCtx, claimed, r.ID, r.Attempts, func(dbCtx context.Context, tx *store.Tx) error {
		last := calls[len(calls)-1]
		outcome := last.outcome
		if done {
			outcome = "reconciled"
		}
		if err := tx.FinishAttempt(dbCtx, r.ID, r.Attempts, store.AttemptResult{Outcome: outcome, Code: last.code,
			Message: last.message, ResponseID: last.responseID, Latency: last.latency}); err != nil {
			return err
		}
		if err := s.recordCalls(dbCtx, tx, r, calls); err != nil {
			return err
		}

		cur, err := one(tx.Refund(dbCtx, r.ID))
		if err != nil {
			return err
		}
		if cur.Submission != SubSending || cur.Attempts != r.Attempts {
			return nil // a webhook got there first; it only moves forward
		}
		if ob.to != "" {
			_, err := s.advance(dbCtx, tx, cur, ob, "system", "neox answer")
			return err
		}
		// Unknown outcome: retry later with the same id.
		next := s.now().Add(s.backoff(r.Attempts))
		if ok, err := tx.MarkUnknown(dbCtx, r.ID, s.owner, r.Attempts, truncate(callErr.Error(), 500), next); err != nil || !ok {
			return err // not ours any more: the worker that took the claim over settles it
		}
		return s.auditState(dbCtx, tx, cur, SubSending, SubUnknown, "system", "unknown outcome", observation{})
	})
}

// unclaim gives back a claim whose refund was never sent because the
// worker stopped while waiting for a call slot, with the calls made before
// (audited like any). It becomes UNKNOWN, due now, like any interrupted
// claim: reconciled with NeoX before a resend, which costs a query and can
// never send it twice.
func (s *Service) unclaim(r Refund, calls []call) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		if err := s.recordCalls(ctx, tx, r, calls); err != nil {
			return err
		}
		ok, err := tx.ReleaseClaim(ctx, r.ID, "stopped before its NeoX refund call")
		if err != nil || !ok {
			return err
		}
		return s.auditState(ctx, tx, r, SubSending, SubUnknown, "system", "interrupted", observation{})
	})
}

// errNotSent is talk's error when the worker stopped before the refund
// call: nothing reached NeoX.
var errNotSent = errors.New("refunds: stopped before the refund call")

// Retries of recording NeoX's answer while the database does not answer:
// the delay doubles from the first to the last.
const (
	recordRetryFirst = 100 * time.Millisecond
	recordRetryMax   = 5 * time.Second
	recordTimeout    = 10 * time.Second // one try; also how long to keep trying once shutting down
)

// recordAnswer runs record, the transaction that writes down NeoX's answer
// to attempt n of refund id, made under a claim taken at claimed. While
// the database does not answer it tries again, until the claim's lease
// runs out (10 s once runCtx is done): given up sooner, the refund would
// stay SENDING, claimed by this instance, which never takes over its own
// claims, until another instance did after the lease, or, with no other,
// until a restart. A try whose commit was sent but not acknowledged may
// have committed: the next one writes nothing if the attempt is closed
// already.
func (s *Service) recordAnswer(runCtx context.Context, claimed time.Time, id string, n int, record func(context.Context, *store.Tx) error) error {
	// What is left of the lease, on the clock the claim was taken by, and
	// at least one try.
	left := max(s.opt.Lease-s.now().Sub(claimed), recordTimeout)
	stop, cancel := context.WithTimeout(context.WithoutCancel(runCtx), left)
	defer cancel()
	stopShutdown := context.AfterFunc(runCtx, func() {
		t := time.AfterFunc(recordTimeout, cancel)
		context.AfterFunc(stop, func() { t.Stop() })
	})
	defer stopShutdown()
	delay := recordRetryFirst
	for try := 1; ; try++ {
		dbCtx, cancelTry := context.WithTimeout(stop, recordTimeout)
		err := s.db.UrgentTxAt(dbCtx, s.now(), func(tx *store.Tx) error { // ahead of pages: see sendBounded
			if try > 1 {
				if done, err := tx.AttemptFinished(dbCtx, id, n); err != nil || done {
					return err
				}
			}
			return record(dbCtx, tx)
		})
		cancelTry()
		if err == nil || !store.Unreachable(err) || stop.Err() != nil {
			return err
		}
		s.log.Warn("refunds worker: the database did not answer; recording NeoX's answer again shortly",
			"refund", id, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-stop.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, recordRetryMax)
	}
}

// talk makes the worker's NeoX calls for one attempt of r through its
// product: reconcile first when an earlier attempt's outcome is unknown,
// then, unless NeoX already holds it, the product's preparation (a first
// attempt) and the refund call, which waits for one of the product's call
// slots (slots, fresh approvals first; nil means no bound). The observation is empty (to == "")
// when the outcome is unknown; callErr is then the cause, errNotSent when
// runCtx ended before the refund call. A product that is not registered,
// or that panics, makes the outcome unknown with an error: never a silent
// success, never a dead worker.
func (s *Service) talk(runCtx, ctx context.Context, prev string, r Refund, slots *prio.Sem, fresh bool) (ob observation, done bool, calls []call, callErr error) {
	defer func() {
		if v := recover(); v != nil {
			callErr = fmt.Errorf("refunds: product %s panicked: %v", r.API, v)
			s.log.Error("refunds worker: product panicked", "refund", r.ID, "api", string(r.API), "panic", v,
				"stack", string(debug.Stack()))
			ob, done = observation{}, false
			calls = append(calls, call{op: "refund", outcome: "unknown", message: callErr.Error()})
		}
	}()
	p, err := s.product(r.API)
	if err != nil {
		return observation{}, false, []call{{op: "refund", outcome: "unknown", message: err.Error()}}, err
	}
	pr, d := productRefund(r), desk{s}
	if prev == SubUnknown || r.Attempts > 1 {
		out, ok, cs := p.Reconcile(ctx, d, pr)
		for _, c := range cs {
			calls = append(calls, timedCall(c))
		}
		if ok {
			return observe(out), true, calls, nil
		}
	}
	if prep, ok := p.(product.Preparer); ok {
		var cs []product.Call
		pr, cs = prep.Prepare(ctx, d, pr)
		for _, c := range cs {
			calls = append(calls, timedCall(c))
		}
	}
	if slots != nil {
		if err := slots.Acquire(runCtx, fresh); err != nil {
			return observation{}, false, calls, errNotSent
		}
		defer slots.Release()
	}
	out, cs := p.Send(ctx, d, pr)
	if len(cs) == 0 {
		err := fmt.Errorf("refunds: product %s made no refund call", r.API)
		return observation{}, false, append(calls, call{op: "refund", outcome: "unknown", message: err.Error()}), err
	}
	for _, c := range cs[:len(cs)-1] {
		calls = append(calls, timedCall(c))
	}
	ob, c, callErr := sendOutcome(observe(out), cs[len(cs)-1])
	if ob.to == "" && callErr == nil {
		callErr = fmt.Errorf("refunds: product %s answered without a state", r.API)
	}
	return ob, false, append(calls, c), callErr
}

// sendOutcome reads the refund call's answer. The observation is empty
// (to == "") when the outcome is unknown; err is then the cause.
func sendOutcome(ob observation, pc product.Call) (observation, call, error) {
	c := timedCall(pc)
	err := pc.Err
	switch {
	case err == nil:
		// What NeoX said goes on the attempt and its audit row too (PG
		// answers an accepted refund with code 0 and a message).
		c.code, c.message = ob.code, ob.message
		return ob, c, nil
	case heldByNeoX(err):
		c.outcome = "duplicate"
		return observation{to: SubProcessing}, c, nil
	}
	if rej, ok := neox.IsRejected(err); ok {
		return observation{to: SubFailed, code: rej.Code, message: rej.Message, responseID: rej.NeoResponseID}, c, nil
	}
	return observation{}, c, err
}

// recordCalls keeps the NeoX calls made for r: the health figures and an
// audit row each.
func (s *Service) recordCalls(ctx context.Context, tx *store.Tx, r Refund, calls []call) error {
	if err := s.noteCalls(ctx, tx, r.API, calls); err != nil {
		return err
	}
	for _, c := range calls {
		if err := s.auditCall(ctx, tx, r, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) auditCall(ctx context.Context, tx *store.Tx, r Refund, c call) error {
	outcome := audit.OutcomeSuccess
	switch c.outcome {
	case "rejected":
		outcome = audit.OutcomeFailure
	case "unknown":
		outcome = audit.OutcomeUnknown
	}
	d := map[string]any{"api": string(r.API), "op": c.op, "request_id": r.ID, "outcome": c.outcome,
		"latency_ms": c.latency.Milliseconds()}
	if c.code != "" {
		d["code"] = c.code
	}
	if c.message != "" {
		d["message"] = truncate(c.message, 300)
	}
	if c.responseID != "" {
		d["neo_response_id"] = c.responseID
	}
	return s.rec.Record(ctx, tx, audit.Event{ActorName: "system", Action: audit.ActionNeoXCall, Outcome: outcome,
		TargetType: "refund", TargetID: r.ID, Details: d})
}

// backoff is RetryBase·2^(n−1), capped at RetryMax, with jitter in [d/2, d].
func (s *Service) backoff(n int) time.Duration {
	d := s.opt.RetryBase
	for i := 1; i < n && d < s.opt.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.opt.RetryMax)
	half := d / 2
	return half + rand.N(half+1)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
