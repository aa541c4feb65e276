package refunds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Recorder appends audit events inside the caller's write transaction
// (*audit.Log satisfies it).
type Recorder interface {
	Record(ctx context.Context, tx *store.Tx, e audit.Event) error
}

// Options tune the service; zero values take the defaults.
type Options struct {
	Now           func() time.Time // clock for stored times; default time.Now
	Workers       int              // concurrent sends per product (polls get half, at least 1); default 2
	RetryBase     time.Duration    // first retry delay after an unknown outcome; default 2s
	RetryMax      time.Duration    // retry delay cap; default 5m
	PollInterval  time.Duration    // polling of PROCESSING refunds; default 30s
	ShutdownGrace time.Duration    // how long Run lets an in-flight NeoX call finish after ctx ends; default 10s
	// AttentionAfter is, per product, how long after approval a refund
	// without a final answer goes to needs attention; missing products
	// take their product's AttentionAfter.
	AttentionAfter map[API]time.Duration
	// UnknownAttempts is how many sends of a refund may end with an
	// unknown outcome before it needs a person; default 10.
	UnknownAttempts int
	// SweepEvery is how often Run compares the refund lists of the
	// products that sweep (product.Sweeper: COL) with the desk (default
	// 24h; negative: never); SweepWindow how far back each sweep looks
	// (default 7 days).
	SweepEvery  time.Duration
	SweepWindow time.Duration
	// Lease is how long a worker's claim of a refund it sends stands
	// against other workers on the same database; a claim older than this
	// belongs to a worker that is gone. Default 5m: well over what a claim
	// covers (a look-up, the wait for a call slot and the refund call, each
	// at most a NeoX timeout) plus ShutdownGrace.
	Lease time.Duration
	// SoleWorker says no other worker can run on this database (the server
	// holds store.LockServer's lock), so every claim found at start is a
	// dead process's and is taken over at once, lease or not.
	SoleWorker bool
	Logger     *slog.Logger
	// Policy decides who may do what to a refund; the zero value is the
	// desk's rules. The handlers must ask the same one.
	Policy policy.Policy
	// Products are the products refunds go through; nil: the NeoX
	// products over the Gateways given to New (see Products).
	Products *product.Registry
	// Observer hears about NeoX calls and the worker's sends and polls
	// (metrics); nil: nobody.
	Observer Observer
}

// Service is the refund domain. Its methods are safe for concurrent use.
type Service struct {
	db       *store.DB
	rec      Recorder
	gw       Gateways
	products *product.Registry
	opt      Options
	log      *slog.Logger
	now      func() time.Time
	wake     chan struct{} // nudges the worker after an approval

	days   dayCache // dashboard figures of days that are over
	health health   // whether NeoX answers the worker, per product

	runMu   sync.Mutex
	running bool
	owner   string // this worker's id on the claims (leases) it takes
	// fresh is how recent an approval must be to go ahead of a backlog
	// (freshWindow; tests of the order under load lengthen it).
	fresh time.Duration

	sweepMu sync.Mutex // held while a sweep runs: never two at once

	totalsCap    int      // TotalsCap; a test lowers it
	cappedTotals sync.Map // growingFilterKey → struct{}: filters known to match more than totalsCap (see Totals)
	cappedHits   atomic.Int64
}

// New returns a Service. Gateways left nil (or holding a nil pointer) mark
// their product as not configured.
func New(db *store.DB, rec Recorder, gw Gateways, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 2 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 30 * time.Second
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.UnknownAttempts <= 0 {
		opts.UnknownAttempts = DefaultUnknownAttempts
	}
	if opts.SweepEvery == 0 {
		opts.SweepEvery = DefaultSweepEvery
	}
	if opts.SweepWindow <= 0 {
		opts.SweepWindow = DefaultSweepWindow
	}
	if product.Missing(gw.PG) {
		gw.PG = nil
	}
	if product.Missing(gw.GC) {
		gw.GC = nil
	}
	if product.Missing(gw.COL) {
		gw.COL = nil
	}
	reg := opts.Products
	if reg == nil {
		var err error
		if reg, err = product.NewRegistry(Products(gw)...); err != nil {
			panic(err) // Products names each product once
		}
	}
	after := map[API]time.Duration{}
	for _, p := range reg.All() {
		a := API(p.Name())
		after[a] = p.AttentionAfter()
		if v := opts.AttentionAfter[a]; v > 0 {
			after[a] = v
		}
	}
	opts.AttentionAfter = after
	signer := func(a API) (product.Signer, bool) {
		p, ok := reg.Get(string(a))
		if !ok {
			return nil, false
		}
		sg, ok := p.(product.Signer)
		return sg, ok
	}
	return &Service{db: db, rec: rec, gw: gw, products: reg, opt: opts, health: health{signer: signer, obs: opts.Observer}, log: opts.Logger, owner: uuid.NewString(), fresh: freshWindow,
		now: func() time.Time { return opts.Now().UTC() }, wake: make(chan struct{}, 1)}
}

// Concurrency is how many refunds the worker sends to one product at once
// (Options.Workers after defaults).
func (s *Service) Concurrency() int { return s.opt.Workers }

// Configured lists the products that are configured, in the registry's
// order.
func (s *Service) Configured() []API {
	var out []API
	for _, name := range s.products.Configured() {
		out = append(out, API(name))
	}
	return out
}

func (s *Service) configured(a API) bool {
	p, ok := s.products.Get(string(a))
	return ok && p.Configured()
}

// NewRequest is a refund as typed in the form. For GC, Amount may be 0
// (the whole order is refunded); any other value must equal the order's.
type NewRequest struct {
	API               API
	TransactionRef    string
	PaymentID         string
	Amount            int64
	ReasonCode        string
	ReasonText        string
	FeeChargeWay      string
	SubMerchantID     string
	BankSwift         string
	BankAccountNumber string
	BankAccountName   string
	BankBranch        string
	IdempotencyKey    string // form token: a second submit with the same key returns the first refund
	// Lang is the requester's language ("vi" or "en"; anything else is
	// "vi"): stored with the refund, NeoX's calls for it send it.
	Lang string
	// Lookup is the live lookup (LookupSubMerchant) the form was checked
	// against in this same request, so one submit asks NeoX once; Create
	// uses its answer and re-checks what is reserved here inside the write
	// transaction. Nil, a cached lookup or one of another reference: Create
	// asks NeoX itself.
	Lookup *Lookup
}

// Create records a refund request awaiting approval. It validates the
// form, takes NeoX's live paid/refunded numbers (req.Lookup's, or asks
// NeoX), then re-checks what is
// reserved here inside the write transaction that inserts the row, so two
// concurrent requests cannot both pass. A repeated IdempotencyKey returns
// the refund created first. Errors: *ValidationError, ErrNotConfigured,
// ErrForbidden (admins do not request refunds), wrapped NeoX errors.
func (s *Service) Create(ctx context.Context, actor Actor, req NewRequest) (Refund, error) {
	if err := s.permit(actor, policy.Request); err != nil {
		return Refund{}, err
	}
	req = normalize(req)
	if req.IdempotencyKey != "" {
		if r, err := one(s.db.RefundByIdempotencyKey(ctx, req.IdempotencyKey)); err == nil {
			return sameRequest(r, actor, req, s.whole(req.API))
		} else if !errors.Is(err, ErrNotFound) {
			return Refund{}, err
		}
	}
	p, _ := s.products.Get(string(req.API)) // nil: not a product; checkRequest says so
	if v := checkRequest(p, req); v != nil {
		return Refund{}, v
	}
	if !p.Configured() {
		return Refund{}, ErrNotConfigured
	}
	req.SubMerchantID = strings.TrimSpace(req.SubMerchantID)
	t, err := req.Lookup.target(req)
	if errors.Is(err, errNoAnswer) {
		t, err = s.fetchTarget(ctx, req.Lang, req.API, req.TransactionRef, req.PaymentID, req.SubMerchantID)
	}
	if err != nil {
		return Refund{}, err
	}
	if v := t.check(req); v != nil {
		return Refund{}, v
	}
	if whole, ok := t.t.WholeAmount(); ok {
		// The whole target, in its own currency (e.g. a GC order).
		req.Amount = whole
	}

	now := s.now()
	r := Refund{ID: uuid.NewString(), API: req.API, TransactionRef: req.TransactionRef, PaymentID: req.PaymentID,
		Amount: req.Amount, Currency: t.currency(), PaymentMethod: t.t.PaymentMethod(),
		ReasonCode: strings.TrimSpace(req.ReasonCode), ReasonText: strings.TrimSpace(req.ReasonText),
		FeeChargeWay: req.FeeChargeWay, SubMerchantID: strings.TrimSpace(req.SubMerchantID),
		BankSwift: strings.TrimSpace(req.BankSwift), BankAccountNumber: strings.TrimSpace(req.BankAccountNumber),
		BankAccountName: strings.TrimSpace(req.BankAccountName), BankBranch: strings.TrimSpace(req.BankBranch),
		RequestedBy: actor.ID, RequestedByName: actor.Name, RequestedAt: now,
		Approval: ApprovalPending, Submission: SubNotSent, UpdatedAt: now, refundedBase: -1}
	if base := t.t.RefundedBase(); base >= 0 {
		r.refundedBase, r.baseAt = base, now
	}
	var existing *Refund
	err = s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		if req.IdempotencyKey != "" {
			if prev, err := one(tx.RefundByIdempotencyKey(ctx, req.IdempotencyKey)); err == nil {
				existing = &prev
				return nil
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		reserved, err := reservedFor(ctx, tx, r, "")
		if err != nil {
			return err
		}
		if v := t.checkRefundable(r.Amount, reserved); v != nil {
			return v
		}
		// The approval rule in force now is the refund's for good.
		if err := s.applyRule(ctx, tx, actor, &r); err != nil {
			return err
		}
		accHash, err := accountHash(ctx, tx, r.BankAccountNumber)
		if err != nil {
			return err
		}
		rec := toRecord(r)
		rec.Lang = neox.Lang(req.Lang)
		if err := tx.InsertRefund(ctx, store.NewRefund{RefundRecord: rec, IdempotencyKey: req.IdempotencyKey,
			AccountHash: accHash}); err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		details := map[string]any{"api": string(r.API), "transaction_ref": r.TransactionRef, "payment_id": r.PaymentID,
			"amount": r.Amount, "currency": r.Currency, "reason_code": r.ReasonCode,
			"policy_version": r.Rule.Version, "approvals_required": r.Rule.Required}
		if r.Rule.Matched {
			details["rule"] = ruleToRecord(r.Rule.Rule)
		}
		if err := s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionRefundRequested, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: r.ID,
			Details: details}); err != nil {
			return err
		}
		if r.Rule.Required > 0 {
			return nil
		}
		// At most the rule's auto-approve floor: the policy approves it,
		// and it goes to NeoX like any approved refund.
		ok, err := tx.ApproveRefund(ctx, r.ID, store.Decision{ByName: policyApprover, Note: ""})
		if err := changed(ok, err, r); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorName: policyApprover, ActorRole: "policy",
			Action: audit.ActionRefundApproved, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: r.ID,
			Details: map[string]any{"amount": r.Amount, "api": string(r.API), "by_policy": true,
				"policy_version": r.Rule.Version, "rule": ruleToRecord(r.Rule.Rule), "submission": SubQueued}})
	})
	if err != nil {
		return Refund{}, err
	}
	if existing != nil {
		return sameRequest(*existing, actor, req, s.whole(req.API))
	}
	if r.Rule.Required == 0 {
		s.nudge()
		r.Approval, r.Submission = ApprovalApproved, SubQueued
	}
	return s.committed(ctx, r), nil
}

// committed reads back refund was.ID after a transaction that changed it
// committed. When the read fails (the database went away just after the
// commit) it returns was, the refund as that transaction left it: the
// person must be told what was done, not an error page saying nothing was
// changed (a retry would then meet a refund already decided).
func (s *Service) committed(ctx context.Context, was Refund) Refund {
	r, err := s.Get(ctx, was.ID)
	if err != nil {
		s.log.Warn("refunds: committed, but reading the refund back failed", "refund", was.ID, "err", err)
		return was
	}
	return r
}

// normalize trims what was typed; NeoX gets an upper-case BIC and the
// account's digits only.
func normalize(req NewRequest) NewRequest {
	req.TransactionRef = strings.TrimSpace(req.TransactionRef)
	req.PaymentID = strings.TrimSpace(req.PaymentID)
	req.IdempotencyKey = strings.TrimSpace(req.IdempotencyKey)
	req.BankSwift = strings.ToUpper(strings.TrimSpace(req.BankSwift))
	req.BankAccountNumber = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(req.BankAccountNumber))
	return req
}

// policyApprover is the decider's name on refunds the approval policy
// approved itself.
const policyApprover = "approval policy"

// applyRule snapshots on r the approval rule in force, and refuses a
// request that the people there are could never approve (only once an
// approval policy is configured: without one the desk behaves as it always
// did).
func (s *Service) applyRule(ctx context.Context, tx *store.Tx, actor Actor, r *Refund) error {
	rec, err := tx.ApprovalPolicy(ctx)
	if err != nil {
		return fmt.Errorf("refunds: %w", err)
	}
	ap := approvalsFromRecord(rec)
	r.Rule = ap.Snapshot(string(r.API), r.Currency, r.Amount)
	if ap.Version == 0 || r.Rule.Required == 0 {
		return nil
	}
	people, err := candidates(ctx, tx)
	if err != nil {
		return err
	}
	var sf *policy.Shortfall
	if err := s.opt.Policy.With(ap).Approvable(actor.ID, r.Subject(), r.Rule.Required, people); errors.As(err, &sf) {
		return nobodyCanApprove(*r, sf)
	} else if err != nil {
		return err
	}
	return nil
}

// sameAccount compares a stored account number, which a final refund keeps
// only as "••••1234", with one typed in full.
func sameAccount(stored, typed string) bool {
	if rest, ok := strings.CutPrefix(stored, "•"); ok {
		last := strings.TrimLeft(rest, "•")
		return len(typed) == utf8.RuneCountInString(stored) && strings.HasSuffix(typed, last)
	}
	return stored == typed
}

// ErrTokenReused is returned by Create when a form token already created a
// refund with other content (or for someone else): nothing is created, and
// the first refund is not silently passed off as this one.
var ErrTokenReused = fault.New(fault.Conflict, "this form was already submitted with other values")

// sameRequest returns prev when req (by actor) is a repeat of the request
// that created it: a double click or a resent form. Anything else reusing
// its token is ErrTokenReused.
// whole says the amount typed is not the refund's (the product refunds the
// whole target, e.g. GC).
func sameRequest(prev Refund, actor Actor, req NewRequest, whole bool) (Refund, error) {
	same := prev.RequestedBy == actor.ID && prev.API == req.API && prev.TransactionRef == req.TransactionRef &&
		prev.PaymentID == req.PaymentID && (whole || prev.Amount == req.Amount) &&
		prev.ReasonCode == strings.TrimSpace(req.ReasonCode) && prev.ReasonText == strings.TrimSpace(req.ReasonText) &&
		prev.FeeChargeWay == req.FeeChargeWay && prev.SubMerchantID == strings.TrimSpace(req.SubMerchantID) &&
		prev.BankSwift == strings.TrimSpace(req.BankSwift) && sameAccount(prev.BankAccountNumber, strings.TrimSpace(req.BankAccountNumber)) &&
		prev.BankAccountName == strings.TrimSpace(req.BankAccountName) && prev.BankBranch == strings.TrimSpace(req.BankBranch)
	if !same {
		return Refund{}, fmt.Errorf("%w (refund %s)", ErrTokenReused, prev.ID)
	}
	return prev, nil
}

// whole reports whether api's product refunds only whole targets.
func (s *Service) whole(api API) bool {
	p, ok := s.products.Get(string(api))
	return ok && p.Whole()
}

// Get returns one refund with its approvals, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Refund, error) {
	r, err := one(s.db.Refund(ctx, id))
	if err != nil {
		return Refund{}, err
	}
	return withApprovals(ctx, s.db.RefundApprovals, r)
}

// reservedFor is what other refunds of r's target reserve (except
// excludeID), read after taking the target's lock: a second writer
// checking the same target waits for this transaction, so two requests
// cannot both pass the refundable-amount check.
func reservedFor(ctx context.Context, tx *store.Tx, r Refund, excludeID string) (int64, error) {
	if err := tx.LockTarget(ctx, string(r.API), r.TransactionRef, r.PaymentID); err != nil {
		return 0, fmt.Errorf("refunds: %w", err)
	}
	n, err := tx.ReservedFor(ctx, string(r.API), r.TransactionRef, r.PaymentID, excludeID)
	if err != nil {
		return 0, fmt.Errorf("refunds: %w", err)
	}
	return n, nil
}

// Attempts lists a refund's submission attempts, oldest first.
func (s *Service) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	recs, err := s.db.RefundAttempts(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	var out []Attempt
	for _, a := range recs {
		out = append(out, Attempt(a))
	}
	return out, nil
}

// Pending is the approval queue, oldest first, each with the approvals it
// has.
func (s *Service) Pending(ctx context.Context) ([]Refund, error) {
	rs, err := many(s.db.PendingRefunds(ctx))
	if err != nil {
		return nil, err
	}
	given, err := s.db.PendingApprovals(ctx)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	by := map[string][]Approval{}
	for _, a := range given {
		by[a.RefundID] = append(by[a.RefundID], approvalFromRecord(a))
	}
	for i := range rs {
		rs[i].Approvals = by[rs[i].ID]
	}
	return rs, nil
}

// listenWake nudges the worker for every approval any instance on the
// database commits, until ctx is done (PostgreSQL's LISTEN/NOTIFY; on
// SQLite, where one server owns the database, it returns at once).
func (s *Service) listenWake(ctx context.Context) {
	s.db.ListenWake(ctx, func(string) { s.nudge() }, func(err error) {
		s.log.Warn("refunds worker: wake-ups from other instances paused; the periodic poll still runs", "err", err)
	})
}

func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
