package refunds

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

var (
	staff    = Actor{ID: 1, Name: "lan", Role: policy.Staff}
	staff2   = Actor{ID: 5, Name: "hoa", Role: policy.Staff}
	manager  = Actor{ID: 2, Name: "minh", Role: policy.Manager}
	manager2 = Actor{ID: 3, Name: "tuan", Role: policy.Manager}
	admin    = Actor{ID: 4, Name: "root", Role: policy.Admin}
)

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.OpenURL(context.Background(), storetest.URL(t, ""), store.PoolConfig{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fakeRecorder is the audit log's Record with no database of its own, for
// services built without one (they record nothing); newService records
// with the real log, inside the caller's transaction, so a rollback
// removes the events.
type fakeRecorder struct{}

func (fakeRecorder) Record(ctx context.Context, tx *store.Tx, e audit.Event) error {
	return audit.New(nil, nil).Record(ctx, tx, e)
}

type auditRow struct {
	Action, Outcome, Actor, Target string
	Details                        map[string]any
}

func auditRows(t *testing.T, db *store.DB, action string) []auditRow {
	t.Helper()
	rows, err := db.Read.Query(`SELECT action, outcome, actor_name, target_id, details FROM audit_events WHERE action = ? ORDER BY seq`, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var a auditRow
		var d string
		if err := rows.Scan(&a.Action, &a.Outcome, &a.Actor, &a.Target, &d); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(d), &a.Details)
		out = append(out, a)
	}
	return out
}

// newClock is the services' test clock: each reading moves it by a
// millisecond, so stored times are distinct and ordered.
func newClock() *clock.Fake {
	return clock.NewStepping(time.Date(2025, 6, 1, 3, 0, 0, 0, time.UTC), time.Millisecond)
}

// Fakes: structs of function fields; nil functions fail the call.

type fakePG struct {
	queryPT func(ctx context.Context, txn string) ([]neox.Payment, error)
	refund  func(ctx context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error)
	lang    func(op, lang string) // optional: sees each call's language
}

func (f *fakePG) sawLang(op, lang string) {
	if f.lang != nil {
		f.lang(op, lang)
	}
}

func (f *fakePG) QueryPT(ctx context.Context, lang, txn string) ([]neox.Payment, error) {
	if f.queryPT == nil {
		return nil, errors.New("fake: QueryPT not set")
	}
	f.sawLang("query_pt", lang)
	return f.queryPT(ctx, txn)
}

func (f *fakePG) Refund(ctx context.Context, lang string, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
	if f.refund == nil {
		return neox.PGRefundResult{}, errors.New("fake: Refund not set")
	}
	f.sawLang("refund", lang)
	return f.refund(ctx, r)
}

type fakeGC struct {
	getOrder func(ctx context.Context, id, subMerchantID string) (neox.CollectionOrder, error)
	refund   func(ctx context.Context, r neox.GCRefundRequest) (neox.GCRefundResult, error)
}

func (f *fakeGC) GetCollectionOrder(ctx context.Context, _, id, subMerchantID string) (neox.CollectionOrder, error) {
	if f.getOrder == nil {
		return neox.CollectionOrder{}, errors.New("fake: GetCollectionOrder not set")
	}
	return f.getOrder(ctx, id, subMerchantID)
}

func (f *fakeGC) Refund(ctx context.Context, _ string, r neox.GCRefundRequest) (neox.GCRefundResult, error) {
	if f.refund == nil {
		return neox.GCRefundResult{}, errors.New("fake: Refund not set")
	}
	return f.refund(ctx, r)
}

type fakeCOL struct {
	getTxn    func(ctx context.Context, id string) (neox.CollectionTransaction, error)
	refund    func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error)
	getRefund func(ctx context.Context, id string) (neox.COLRefund, error)
}

func (f *fakeCOL) GetCollectionTransaction(ctx context.Context, _, id string) (neox.CollectionTransaction, error) {
	if f.getTxn == nil {
		return neox.CollectionTransaction{}, errors.New("fake: GetCollectionTransaction not set")
	}
	return f.getTxn(ctx, id)
}

func (f *fakeCOL) Refund(ctx context.Context, _ string, r neox.COLRefundRequest) (neox.COLRefund, error) {
	if f.refund == nil {
		return neox.COLRefund{}, errors.New("fake: Refund not set")
	}
	return f.refund(ctx, r)
}

func (f *fakeCOL) GetRefund(ctx context.Context, _, id string) (neox.COLRefund, error) {
	if f.getRefund == nil {
		return neox.COLRefund{}, errors.New("fake: GetRefund not set")
	}
	return f.getRefund(ctx, id)
}

// Canned NeoX answers.

func paidPG(amount, refunded int64, method string) func(context.Context, string) ([]neox.Payment, error) {
	return func(_ context.Context, txn string) ([]neox.Payment, error) {
		if txn != "TXN1" {
			return nil, &neox.RejectedError{API: "PG", Op: "query_pt", Code: "404", Message: "not found"}
		}
		return []neox.Payment{
			{ID: "P1", Status: "SUCCESS", Method: method, Amount: amount, RefundedAmount: refunded},
			{ID: "P2", Status: "PROCESSING", Method: "CC", Amount: amount},
		}, nil
	}
}

func paidCOL(amount, refunded int64) func(context.Context, string) (neox.CollectionTransaction, error) {
	return func(_ context.Context, id string) (neox.CollectionTransaction, error) {
		if id != "CT1" {
			return neox.CollectionTransaction{}, &neox.RejectedError{API: "COL", Op: "get_transaction", Code: "2", Message: "RESOURCE_NOT_FOUND"}
		}
		return neox.CollectionTransaction{ID: "CT1", Status: "SUCCESS", Amount: amount, RefundedAmount: refunded}, nil
	}
}

func notFoundCOL() error {
	return &neox.RejectedError{API: "COL", Op: "get_refund", Code: "2", Message: "RESOURCE_NOT_FOUND"}
}

func unknownErr(op string) error {
	return &neox.UnknownOutcomeError{API: "COL", Op: op, Err: errors.New("timeout")}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newService(t *testing.T, db *store.DB, gw Gateways, opts Options) *Service {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	return New(db, audit.New(db, nil), gw, opts)
}

func colRequest(amount int64, key string) NewRequest {
	return NewRequest{API: APICOL, TransactionRef: "CT1", Amount: amount, ReasonCode: "CUSTOMER_REQUEST",
		BankSwift: "SCBLSG22XXX", BankAccountNumber: "0107201111", BankAccountName: "NGUYEN VAN A", IdempotencyKey: key}
}

func mustCreate(t *testing.T, s *Service, a Actor, req NewRequest) Refund {
	t.Helper()
	r, err := s.Create(context.Background(), a, req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return r
}

func mustGet(t *testing.T, s *Service, id string) Refund {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return r
}

// runWorker starts Run and returns a stop function that cancels it and
// waits for it to return (failing the test if it does not, promptly).
func runWorker(t *testing.T, s *Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func waitSubmission(t *testing.T, s *Service, id, want string) Refund {
	t.Helper()
	var r Refund
	waitFor(t, "submission "+want, func() bool {
		r = mustGet(t, s, id)
		return r.Submission == want
	})
	return r
}
