package refunds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// fakeProduct is a fourth product, known only to this test: a "voucher"
// scheme whose targets are vouchers of 10 000 VND and whose refunds NeoX
// settles later by webhook. Nothing outside this file knows it, so the
// flow below passing proves the seam: lookup, request, approval, send,
// webhook and audit all go through the registry.
type fakeProduct struct {
	mu    sync.Mutex
	sent  []product.Refund
	polls int
}

const fakeName = "FAKE"

func (f *fakeProduct) Name() string                  { return fakeName }
func (f *fakeProduct) Label() string                 { return "Fake vouchers" }
func (f *fakeProduct) Configured() bool              { return true }
func (f *fakeProduct) Whole() bool                   { return false }
func (f *fakeProduct) AttentionAfter() time.Duration { return 12 * time.Hour }

func (f *fakeProduct) Validate(req product.Request) product.FieldErrors {
	if req.Amount <= 0 {
		return product.FieldErrors{"amount": fault.M("domain.16", "the amount must be greater than 0")}
	}
	return nil
}

func (f *fakeProduct) Target(_ context.Context, req product.Request) (product.Target, []product.Call, error) {
	c := product.Call{Op: "get_voucher"}
	if req.TransactionRef != "V-1" {
		return nil, []product.Call{c}, product.Invalidf("transaction_ref", product.ReasonUnknownTarget)
	}
	return fakeTarget{amount: 10_000}, []product.Call{c}, nil
}

// Look shows the voucher as any product without a view of its own does.
func (f *fakeProduct) Look(ctx context.Context, req product.Request) ([]product.Found, []product.Call, error) {
	t, calls, err := f.Target(ctx, req)
	if err != nil {
		return nil, calls, err
	}
	return []product.Found{product.Looked(t)}, calls, nil
}

func (f *fakeProduct) LookupFields() []product.Field { return nil }
func (f *fakeProduct) Form(product.Target) product.Form {
	return product.Form{Fields: []product.Field{product.AmountField}}
}

func (f *fakeProduct) Send(_ context.Context, _ product.Desk, r product.Refund) (product.Outcome, []product.Call) {
	f.mu.Lock()
	f.sent = append(f.sent, r)
	f.mu.Unlock()
	return product.Outcome{To: product.Processing, NeoXRefundID: "FX-" + r.ID, Status: "ACCEPTED"},
		[]product.Call{{Op: "refund", ResponseID: "resp-1"}}
}

func (f *fakeProduct) Reconcile(context.Context, product.Desk, product.Refund) (product.Outcome, bool, []product.Call) {
	return product.Outcome{}, false, []product.Call{{Op: "get_refund", Err: errors.New("not found")}}
}

func (f *fakeProduct) Poll(context.Context, product.Desk, product.Refund) (product.Outcome, product.Call) {
	f.mu.Lock()
	f.polls++
	f.mu.Unlock()
	return product.Outcome{}, product.Call{Op: "get_refund"}
}

func (f *fakeProduct) WebhookReply(refused bool) []byte {
	if refused {
		return []byte("NO")
	}
	return []byte("OK")
}

// event is the fake's webhook: it names our request id and says DONE.
func (f *fakeProduct) event(refundID string, amount int64, status string) product.Event {
	return product.Event{Ref: refundID, Status: status, Signed: []string{fakeName, refundID, fmt.Sprint(amount), status},
		Check: func(r product.Refund) string {
			if r.Amount != amount {
				return product.MismatchAmount
			}
			return ""
		},
		Observe: func(product.Refund) product.Outcome {
			if status == "DONE" {
				return product.Outcome{To: product.Succeeded, Status: status}
			}
			return product.Outcome{To: product.Failed, Status: status, FailedReason: "voucher refused"}
		},
		Details: map[string]any{"amount": amount}}
}

type fakeTarget struct{ amount int64 }

func (t fakeTarget) Currency() string           { return "VND" }
func (t fakeTarget) PaymentMethod() string      { return "" }
func (t fakeTarget) RefundedBase() int64        { return -1 }
func (t fakeTarget) Amounts() (int64, int64)    { return t.amount, 0 }
func (t fakeTarget) WholeAmount() (int64, bool) { return 0, false }
func (t fakeTarget) Check(product.Request) product.FieldErrors {
	return nil
}
func (t fakeTarget) Verdict(reserved int64) product.Verdict {
	return product.Verdict{Paid: true, Refundable: product.Refundable(t.amount, 0, reserved)}
}

func newFakeService(t *testing.T) (*Service, *fakeProduct, func() []string) {
	t.Helper()
	db := openDB(t)
	fake := &fakeProduct{}
	reg, err := product.NewRegistry(append(Products(Gateways{}), fake)...)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, db, Gateways{}, Options{Products: reg, RetryBase: 10 * time.Millisecond,
		PollInterval: time.Hour})
	actions := func() []string {
		var out []string
		for _, a := range []string{audit.ActionRefundRequested, audit.ActionRefundApproved, audit.ActionRefundState,
			audit.ActionNeoXCall, audit.ActionWebhookReceived} {
			for _, row := range auditRows(t, db, a) {
				if row.Details["api"] == fakeName {
					out = append(out, a)
				}
			}
		}
		return out
	}
	return s, fake, actions
}

func TestFourthProductRunsTheWholeFlow(t *testing.T) {
	s, fake, actions := newFakeService(t)
	ctx := context.Background()

	if got := s.Configured(); len(got) != 1 || got[0] != fakeName {
		t.Fatalf("configured = %v, want only the fake", got)
	}
	l, err := s.Lookup(ctx, "en", fakeName, "V-1")
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if len(l.Targets) != 1 || l.Targets[0].Refundable != 10_000 || !l.Targets[0].Paid {
		t.Fatalf("lookup targets = %+v", l.Targets)
	}
	if _, err := s.Lookup(ctx, "en", fakeName, "V-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown voucher: err = %v, want ErrNotFound", err)
	}

	// The product's own rules and its refundable rule hold.
	_, err = s.Create(ctx, staff, NewRequest{API: fakeName, TransactionRef: "V-1", ReasonCode: "DUPLICATE"})
	if v, ok := IsValidation(err); !ok || v.Fields["amount"].IsZero() {
		t.Errorf("no amount: err = %v, want an amount error", err)
	}
	_, err = s.Create(ctx, staff, NewRequest{API: fakeName, TransactionRef: "V-1", Amount: 10_001, ReasonCode: "DUPLICATE"})
	if v, ok := IsValidation(err); !ok || v.Fields["amount"].IsZero() {
		t.Errorf("over the voucher: err = %v, want an amount error", err)
	}

	r := mustCreate(t, s, staff, NewRequest{API: fakeName, TransactionRef: "V-1", Amount: 4_000, ReasonCode: "DUPLICATE"})
	if r.API != fakeName || r.Currency != "VND" || r.Approval != ApprovalPending {
		t.Fatalf("created %+v", r)
	}
	if l, _ := s.Lookup(ctx, "en", fakeName, "V-1"); l.Targets[0].Reserved != 4_000 || l.Targets[0].Refundable != 6_000 {
		t.Errorf("after the request, target = %+v", l.Targets[0])
	}
	if _, err := s.Approve(ctx, manager, r.ID, "ok"); err != nil {
		t.Fatalf("approve: %v", err)
	}

	runWorker(t, s)
	r = waitSubmission(t, s, r.ID, SubProcessing)
	if r.NeoXRefundID != "FX-"+r.ID || r.NeoXStatus != "ACCEPTED" {
		t.Errorf("after send: neox id %q status %q", r.NeoXRefundID, r.NeoXStatus)
	}
	fake.mu.Lock()
	if len(fake.sent) != 1 || fake.sent[0].ID != r.ID || fake.sent[0].Amount != 4_000 || fake.sent[0].Attempts != 1 {
		t.Errorf("sent %+v", fake.sent)
	}
	fake.mu.Unlock()

	// A webhook disagreeing with the refund is refused; the right one settles it.
	if res, err := s.ApplyEvent(ctx, fakeName, fake.event(r.ID, 5_000, "DONE"), []byte(`{"v":1}`)); err != nil ||
		res.Applied != HookSuspicious || res.Reason != ReasonAmount {
		t.Errorf("wrong amount: %+v, %v", res, err)
	}
	res, err := s.ApplyEvent(ctx, fakeName, fake.event(r.ID, 4_000, "DONE"), []byte(`{"v":2}`))
	if err != nil || res.Applied != HookApplied || res.RefundID != r.ID {
		t.Fatalf("webhook: %+v, %v", res, err)
	}
	if res, _ := s.ApplyEvent(ctx, fakeName, fake.event(r.ID, 4_000, "DONE"), []byte(`{"v":2}`)); res.Applied != HookDuplicate {
		t.Errorf("redelivery: %+v", res)
	}
	r = mustGet(t, s, r.ID)
	if r.Submission != SubSucceeded || r.FinalAt.IsZero() {
		t.Errorf("final: %s", r.Submission)
	}

	want := map[string]int{audit.ActionRefundRequested: 1, audit.ActionRefundApproved: 1,
		audit.ActionRefundState: 3, // QUEUED→SENDING, SENDING→PROCESSING, PROCESSING→SUCCEEDED
		audit.ActionNeoXCall:    1, audit.ActionWebhookReceived: 3}
	got := map[string]int{}
	for _, a := range actions() {
		got[a]++
	}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("audit %s: %d events for the fake product, want %d (all: %v)", a, got[a], n, got)
		}
	}
}

// panicky is the fake product with a bug in its send.
type panicky struct{ fakeProduct }

func (p *panicky) Send(context.Context, product.Desk, product.Refund) (product.Outcome, []product.Call) {
	panic("voucher service exploded")
}

// A product that panics while sending leaves the refund UNKNOWN with the
// panic as its error, and the worker running; it never looks sent.
func TestPanickingProductIsAnUnknownOutcome(t *testing.T) {
	db := openDB(t)
	p := &panicky{}
	reg, err := product.NewRegistry(p)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, db, Gateways{}, Options{Products: reg, RetryBase: time.Hour, RetryMax: time.Hour})
	r := mustCreate(t, s, staff, NewRequest{API: fakeName, TransactionRef: "V-1", Amount: 1_000, ReasonCode: "DUPLICATE"})
	if _, err := s.Approve(context.Background(), manager, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	runWorker(t, s)
	r = waitSubmission(t, s, r.ID, SubUnknown)
	if !strings.Contains(r.LastError, "panicked") || r.Attempts != 1 {
		t.Errorf("after the panic: attempts %d, last error %q", r.Attempts, r.LastError)
	}
}

// A refund whose product is not registered (a product removed from the
// registry while refunds of it wait) is never reported sent.
func TestUnregisteredProductIsAnError(t *testing.T) {
	s, _, _ := newFakeService(t)
	r := Refund{ID: "r1", API: "GONE", Attempts: 1}
	ob, done, calls, err := s.talk(context.Background(), context.Background(), SubQueued, r, nil, false)
	if err == nil || done || ob.to != "" || len(calls) != 1 || calls[0].outcome != "unknown" {
		t.Errorf("talk = %+v, %v, %+v, %v; want an unknown outcome with an error", ob, done, calls, err)
	}
	if _, err := s.Lookup(context.Background(), "en", "GONE", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup of an unregistered product: %v", err)
	}
	_, err = s.Create(context.Background(), staff, NewRequest{API: "GONE", TransactionRef: "x", Amount: 1, ReasonCode: "DUPLICATE"})
	if v, ok := IsValidation(err); !ok || v.Fields["api"].IsZero() {
		t.Errorf("request for an unregistered product: %v", err)
	}
	// The registry refuses it, not the database: SQLite's schema no
	// longer lists the products (migration 0042), so nothing else would.
	var n int
	if err := s.db.Read.QueryRow(`SELECT count(*) FROM refunds`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refunds stored after a refused request: %d, %v", n, err)
	}
}
