// Package product is the seam between the refund workflow and the NeoX
// products a refund goes through (PG, GC, COL today). The workflow in
// package refunds knows states, approvals, audit and retries; a Product
// knows how its NeoX API is called and what its answers mean. Products are
// registered in one Registry; the workflow asks the registry, never
// switches on a product's name.
//
// Import direction: refunds imports product (and builds the registry);
// product and its implementations (product/pg, product/gc, product/col)
// import neox, never refunds, so the value types the two sides exchange
// (Refund, Outcome, Call) live here.
package product

import (
	"context"
	"fmt"
	"reflect"
	"time"
)

// Submission states a product's outcome may name. They are the refund
// workflow's own state names (refunds.SubProcessing, …), repeated here so
// that products need not import the workflow.
const (
	Processing = "PROCESSING"
	Succeeded  = "SUCCEEDED"
	Failed     = "FAILED"
)

// Product is one NeoX product, as the refund workflow uses it.
//
// Send, Reconcile and Poll make NeoX calls and report every call they made
// (the workflow audits each one and feeds the health figures); they never
// write to the database themselves: what the workflow must keep goes
// through the Desk.
type Product interface {
	// Name is the product's code, stored on every refund ("PG").
	Name() string
	// Label is how pages name the product.
	Label() string
	// Configured reports whether the product has a client to call; a
	// registered product that is not configured takes no requests and
	// has no workers.
	Configured() bool

	// AttentionAfter is how long after approval a refund without a final
	// answer waits before it needs a person, unless configured otherwise:
	// it depends on what the product can find out by polling.
	AttentionAfter() time.Duration
	// Whole reports that a refund is always of the whole target (GC):
	// an amount typed in the form is only checked against it.
	Whole() bool
	// Validate checks the product's own form rules, without NeoX.
	Validate(req Request) FieldErrors
	// Target asks NeoX for the live state of what req would refund; calls
	// lists the NeoX calls made. A reference NeoX does not know is an
	// *Invalid on transaction_ref; other errors are NeoX's, wrapped.
	Target(ctx context.Context, req Request) (t Target, calls []Call, err error)

	// Look asks NeoX about a reference for the lookup page: every target
	// a refund of it could come from, each with what the page shows of
	// it. A reference NeoX does not know is an *Invalid on
	// transaction_ref (or neox.ErrNotFound); other errors are NeoX's.
	Look(ctx context.Context, req Request) (found []Found, calls []Call, err error)
	// LookupFields are the lookup form's fields beyond the product and
	// the reference (GC's sub-merchant); a lookup sends their values.
	LookupFields() []Field
	// Form is what the request form asks for a refund of t; t is nil
	// when NeoX's answer is not at hand.
	Form(t Target) Form

	// Send makes the refund call for r. calls lists every NeoX call it
	// made, the refund call last; the workflow classifies that last call's
	// error (rejected → FAILED, request id already held → PROCESSING, any
	// other → unknown outcome, retried with the same id). out is NeoX's
	// answer when the refund call succeeded.
	Send(ctx context.Context, d Desk, r Refund) (out Outcome, calls []Call)
	// Reconcile asks NeoX whether an earlier attempt of r reached it,
	// before a resend. done means out is NeoX's word and nothing is sent.
	Reconcile(ctx context.Context, d Desk, r Refund) (out Outcome, done bool, calls []Call)
	// WebhookReply is the body NeoX expects in answer to a delivery:
	// refused (signed, but it disagrees with the refund it names) or
	// received.
	WebhookReply(refused bool) []byte

	// Poll asks NeoX about a refund in PROCESSING (the fallback to
	// webhooks). out.To is "" when NeoX said nothing that moves it.
	Poll(ctx context.Context, d Desk, r Refund) (out Outcome, c Call)
}

// Preparer is a product with NeoX calls to make before a refund's first
// refund call (PG snapshots the payment's refunded amount). The workflow
// calls Prepare, then Send, on a first attempt; Prepare runs outside the
// product's refund call slots (NEOX_CONCURRENCY), so that those slots
// hold refund calls only. It returns r as Send should see it, with
// Prepared set.
type Preparer interface {
	Prepare(ctx context.Context, d Desk, r Refund) (Refund, []Call)
}

// Signer is a product whose answers also tell whether NeoX accepts the
// desk's request signature (PG): a refusal with a code BadSignature
// accepts raises the desk's signing fault, any other answer ends it.
type Signer interface {
	BadSignature(code string) bool
}

// Desk is what a product may ask of the refund desk while it works on a
// refund: the workflow implements it over its store.
type Desk interface {
	// Now is the desk's clock.
	Now() time.Time
	// KeepRefundedBase records, before the first send, what NeoX says
	// was already refunded of the target (PG's settle rule needs it if
	// the process dies mid-call).
	KeepRefundedBase(ctx context.Context, refundID string, base int64, at time.Time) error
	// OtherRefundsOfPayment sums the amounts of the desk's other approved
	// refunds of r's payment that succeeded after r.BaseAt, and reports
	// whether any of them is still in flight (sending, unknown or
	// processing).
	OtherRefundsOfPayment(ctx context.Context, r Refund) (settledAfterBase int64, inFlight bool, err error)
}

// Refund is what a product sees of a refund: the target and the values
// NeoX needs.
type Refund struct {
	ID                string // also the NeoX request id, the same on every retry
	TransactionRef    string
	PaymentID         string
	Amount            int64 // minor units
	Currency          string
	PaymentMethod     string
	FeeChargeWay      string
	SubMerchantID     string
	BankSwift         string
	BankAccountNumber string
	BankAccountName   string
	BankBranch        string
	NeoXRefundID      string    // NeoX's refund id, once NeoX said it
	NeoXApproval      string    // NeoX's approval status, once NeoX said it (COL)
	Attempts          int       // this attempt's number, from 1
	RefundedBase      int64     // NeoX's refunded amount of the target before the first send, -1 unknown
	BaseAt            time.Time // when RefundedBase was read
	Prepared          bool      // the product's Prepare ran for this attempt (see Preparer)
	// Lang is the language of the maker's request: every NeoX call made
	// for the refund asks NeoX to answer in it (Accept-Language).
	Lang string
}

// Outcome is what NeoX said about a refund, mapped onto the submission
// axis. To is Processing, Succeeded or Failed, or "" when NeoX's answer
// says nothing about the state; the other fields are NeoX's words, kept
// verbatim on the refund and in the audit.
type Outcome struct {
	To             string
	NeoXRefundID   string
	ApprovalStatus string
	Status         string
	Code           string
	Message        string
	ResponseID     string
	FailedReason   string
}

// Call is one NeoX call a product made.
type Call struct {
	Op         string // "refund", "query_pt", "get_order", …
	Err        error  // nil: NeoX answered
	ResponseID string // NeoX's response id, when the answer carried one
	Latency    time.Duration
}

// Timed is the Call for op started at t0 that ended with err.
func Timed(op string, t0 time.Time, err error, responseID string) Call {
	return Call{Op: op, Err: err, ResponseID: responseID, Latency: time.Since(t0)}
}

// Registry is the set of products the desk knows, in the order pages list
// them. It is built once at start and read-only after.
type Registry struct {
	list  []Product
	index map[string]Product
}

// NewRegistry registers ps in order. Two products with one name are a
// programming error.
func NewRegistry(ps ...Product) (*Registry, error) {
	r := &Registry{index: map[string]Product{}}
	for _, p := range ps {
		if _, dup := r.index[p.Name()]; dup {
			return nil, fmt.Errorf("product: %q registered twice", p.Name())
		}
		r.index[p.Name()] = p
		r.list = append(r.list, p)
	}
	return r, nil
}

// Get returns the product named name.
func (r *Registry) Get(name string) (Product, bool) {
	p, ok := r.index[name]
	return p, ok
}

// All lists the registered products in order.
func (r *Registry) All() []Product { return append([]Product(nil), r.list...) }

// Names lists the registered products' names in order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.list))
	for i, p := range r.list {
		out[i] = p.Name()
	}
	return out
}

// Configured lists the names of the products that are configured, in order.
func (r *Registry) Configured() []string {
	var out []string
	for _, p := range r.list {
		if p.Configured() {
			out = append(out, p.Name())
		}
	}
	return out
}

// Missing reports whether a product's client is absent: nil, or a typed
// nil pointer stored in an interface (a *neox.PG that was never built),
// which would otherwise look configured.
func Missing(client any) bool {
	if client == nil {
		return true
	}
	rv := reflect.ValueOf(client)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Settings is a product that says which settings (environment variable
// names) its client needs: all or none of them must be set in live mode.
type Settings interface {
	Settings() []string
}
