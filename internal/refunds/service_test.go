package refunds

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

func colService(t *testing.T, amount, refunded int64) (*Service, *store.DB) {
	t.Helper()
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(amount, refunded)}}, Options{Now: newClock().Now})
	return s, db
}

func TestCreateRecordsPendingRefundWithAudit(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	r := mustCreate(t, s, staff, colRequest(250_000, "form-1"))
	if r.ID == "" || r.Approval != ApprovalPending || r.Submission != SubNotSent || r.Amount != 250_000 ||
		r.Currency != "VND" || r.RequestedBy != staff.ID || r.RequestedByName != "lan" || r.RequestedAt.IsZero() {
		t.Fatalf("created refund = %+v", r)
	}
	if r.BankAccountNumber != "0107201111" || r.MaskedAccount() != "••••••1111" {
		t.Errorf("account = %q masked %q", r.BankAccountNumber, r.MaskedAccount())
	}
	ev := auditRows(t, db, audit.ActionRefundRequested)
	if len(ev) != 1 || ev[0].Target != r.ID || ev[0].Actor != "lan" {
		t.Fatalf("audit = %+v", ev)
	}
	if _, ok := ev[0].Details["bank_account_number"]; ok {
		t.Error("account number audited")
	}
}

func TestCreateValidation(t *testing.T) {
	s, db := colService(t, 1_000_000, 300_000)
	tests := []struct {
		name  string
		req   NewRequest
		field string
	}{
		{"zero amount", colRequest(0, ""), "amount"},
		{"over refundable", colRequest(700_001, ""), "amount"},
		{"unknown transaction", func() NewRequest { r := colRequest(1, ""); r.TransactionRef = "NOPE"; return r }(), "transaction_ref"},
		{"no reason", func() NewRequest { r := colRequest(1, ""); r.ReasonCode = ""; return r }(), "reason_code"},
	}
	for _, tt := range tests {
		_, err := s.Create(context.Background(), staff, tt.req)
		v, ok := IsValidation(err)
		if !ok || v.Fields[tt.field].IsZero() {
			t.Errorf("%s: err = %v, want validation on %s", tt.name, err, tt.field)
		}
	}
	if _, err := s.Create(context.Background(), staff, colRequest(700_000, "")); err != nil {
		t.Errorf("exactly refundable: %v", err)
	}
	if _, err := s.Create(context.Background(), admin, colRequest(1, "")); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin create: %v", err)
	}
	pg := NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 1, ReasonCode: "X"}
	if _, err := s.Create(context.Background(), staff, pg); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("unconfigured PG: %v", err)
	}
	var n int
	db.Read.QueryRow(`SELECT count(*) FROM refunds`).Scan(&n)
	if n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

func TestCreateNeoXErrorIsWrapped(t *testing.T) {
	db := openDB(t)
	boom := unknownErr("get_transaction")
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: func(context.Context, string) (neox.CollectionTransaction, error) {
		return neox.CollectionTransaction{}, boom
	}}}, Options{})
	_, err := s.Create(context.Background(), staff, colRequest(1, ""))
	if !errors.Is(err, boom) || !neox.IsUnknown(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestCreatePGRules(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{PG: &fakePG{queryPT: paidPG(2_000_000, 500_000, "QR")}}, Options{})
	req := NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 1_500_000, ReasonCode: "X"}
	_, err := s.Create(context.Background(), staff, req)
	if v, ok := IsValidation(err); !ok || v.Fields["bank_account_number"].IsZero() {
		t.Fatalf("QR without receiver: %v", err)
	}
	req.BankAccountName, req.BankAccountNumber, req.BankSwift = "NGUYEN VAN A", "123456789", "ASCBVNVX"
	r := mustCreate(t, s, staff, req)
	if r.PaymentMethod != "QR" || r.refundedBase != 500_000 {
		t.Errorf("refund = %+v base %d", r, r.refundedBase)
	}
	req.Amount = 1
	if _, err := s.Create(context.Background(), staff, req); err == nil {
		t.Error("refund beyond what is left accepted")
	}
	req.PaymentID = "P2" // PROCESSING: not paid
	if _, err := s.Create(context.Background(), staff, req); err == nil {
		t.Error("unpaid payment accepted")
	}
	req.PaymentID = "P9"
	if _, err := s.Create(context.Background(), staff, req); err == nil {
		t.Error("unknown payment accepted")
	}
}

func TestCreateGCTakesWholeOrder(t *testing.T) {
	db := openDB(t)
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 150000}, nil
	}}
	s := newService(t, db, Gateways{GC: gc}, Options{})
	req := NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR"}
	r := mustCreate(t, s, staff, req)
	if r.Amount != 150000 || r.Currency != "USD" {
		t.Fatalf("GC refund = %d %s", r.Amount, r.Currency)
	}
	if _, err := s.Create(context.Background(), staff, req); err == nil {
		t.Fatal("second refund of the same order accepted")
	}
}

func TestCreateIdempotencyKey(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	first := mustCreate(t, s, staff, colRequest(100_000, "tok-1"))
	again := mustCreate(t, s, staff, colRequest(100_000, "tok-1"))
	if again.ID != first.ID {
		t.Fatalf("double submit made a second refund: %s, %s", first.ID, again.ID)
	}
	// Concurrent double submit.
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			r, err := s.Create(context.Background(), staff, colRequest(100_000, "tok-2"))
			if err != nil {
				t.Error(err)
				return
			}
			ids <- r.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	var n int
	db.Read.QueryRow(`SELECT count(*) FROM refunds`).Scan(&n)
	if len(seen) != 1 || n != 2 {
		t.Fatalf("ids %v, %d rows; want one refund per key", seen, n)
	}
	if got := len(auditRows(t, db, audit.ActionRefundRequested)); got != 2 {
		t.Errorf("%d audit events, want 2", got)
	}
}

func TestConcurrentCreateCannotExceedRefundable(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, a := range []Actor{staff, staff2} {
		wg.Go(func() {
			_, err := s.Create(context.Background(), a, colRequest(600_000, ""))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var ok, refused int
	for err := range errs {
		if err == nil {
			ok++
		} else if _, v := IsValidation(err); v {
			refused++
		} else {
			t.Errorf("unexpected error: %v", err)
		}
	}
	var total int64
	db.Read.QueryRow(`SELECT coalesce(sum(amount), 0) FROM refunds`).Scan(&total)
	if ok != 1 || refused != 1 || total != 600_000 {
		t.Fatalf("ok=%d refused=%d total=%d", ok, refused, total)
	}
}

// TestRefundableCheckLocksItsTarget: Create and Approve take the target's
// lock (store.Tx.LockTarget) before summing what is reserved, which is
// what keeps the check right with several writers.
func TestRefundableCheckLocksItsTarget(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	r := mustCreate(t, s, staff, colRequest(100_000, ""))
	if _, err := s.Approve(context.Background(), manager, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	var checks int
	if err := db.Read.QueryRow(`SELECT checks FROM refund_targets WHERE api = 'COL' AND transaction_ref = ?
		AND payment_id = ''`, r.TransactionRef).Scan(&checks); err != nil || checks != 2 {
		t.Errorf("target lock taken %d times (%v), want 2 (create and approve)", checks, err)
	}
}

func TestApprove(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	r := mustCreate(t, s, staff, colRequest(100_000, ""))
	ctx := context.Background()
	if _, err := s.Approve(ctx, staff2, r.ID, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("staff approve: %v", err)
	}
	if _, err := s.Approve(ctx, admin, r.ID, ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin approve: %v", err)
	}
	if _, err := s.Approve(ctx, manager, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	mine := mustCreate(t, s, manager, colRequest(100_000, ""))
	if _, err := s.Approve(ctx, manager, mine.ID, ""); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self approval: %v", err)
	}
	if _, err := s.Reject(ctx, manager, mine.ID, "no"); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self rejection: %v", err)
	}
	got, err := s.Approve(ctx, manager, r.ID, "ok")
	if err != nil {
		t.Fatal(err)
	}
	if got.Approval != ApprovalApproved || got.Submission != SubQueued || got.DecidedBy != manager.ID ||
		got.DecidedByName != "minh" || got.DecisionNote != "ok" || got.DecidedAt.IsZero() || !got.InFlight() || got.Final() {
		t.Fatalf("approved = %+v", got)
	}
	select {
	case <-s.wake:
	default:
		t.Error("approval did not nudge the worker")
	}
	if _, err := s.Approve(ctx, manager2, r.ID, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("second approval: %v", err)
	}
	if ev := auditRows(t, db, audit.ActionRefundApproved); len(ev) != 1 || ev[0].Actor != "minh" {
		t.Errorf("audit = %+v", ev)
	}
}

func TestApproveRechecksRefundable(t *testing.T) {
	db := openDB(t)
	refunded := int64(0)
	var mu sync.Mutex
	col := &fakeCOL{getTxn: func(context.Context, string) (neox.CollectionTransaction, error) {
		mu.Lock()
		defer mu.Unlock()
		return neox.CollectionTransaction{ID: "CT1", Status: "SUCCESS", Amount: 1_000_000, RefundedAmount: refunded}, nil
	}}
	s := newService(t, db, Gateways{COL: col}, Options{})
	r := mustCreate(t, s, staff, colRequest(800_000, ""))
	mu.Lock()
	refunded = 500_000 // refunded elsewhere meanwhile
	mu.Unlock()
	_, err := s.Approve(context.Background(), manager, r.ID, "")
	if v, ok := IsValidation(err); !ok || v.Fields["amount"].IsZero() {
		t.Fatalf("approve over refundable: %v", err)
	}
	if got := mustGet(t, s, r.ID); got.Approval != ApprovalPending {
		t.Errorf("approval = %s", got.Approval)
	}
}

func TestConcurrentApprovalsExactlyOneWins(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	r := mustCreate(t, s, staff, colRequest(100_000, ""))
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, m := range []Actor{manager, manager2} {
		wg.Go(func() {
			_, err := s.Approve(context.Background(), m, r.ID, "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var won, lost int
	for err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrConflict):
			lost++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("won=%d lost=%d", won, lost)
	}
	if n := len(auditRows(t, db, audit.ActionRefundApproved)); n != 1 {
		t.Errorf("%d approval events", n)
	}
}

func TestRejectAndCancel(t *testing.T) {
	s, db := colService(t, 1_000_000, 0)
	ctx := context.Background()
	r := mustCreate(t, s, staff, colRequest(100_000, ""))
	_, err := s.Reject(ctx, manager, r.ID, "  ")
	if v, ok := IsValidation(err); !ok || v.Fields["note"].IsZero() {
		t.Fatalf("reject without note: %v", err)
	}
	got, err := s.Reject(ctx, manager, r.ID, "duplicate request")
	if err != nil {
		t.Fatal(err)
	}
	if got.Approval != ApprovalRejected || got.DecisionNote != "duplicate request" || !got.Final() || got.Submission != SubNotSent {
		t.Fatalf("rejected = %+v", got)
	}
	if _, err := s.Cancel(ctx, staff, r.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("cancel after reject: %v", err)
	}

	c := mustCreate(t, s, staff, colRequest(100_000, ""))
	if _, err := s.Cancel(ctx, staff2, c.ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("cancel by another: %v", err)
	}
	if _, err := s.Cancel(ctx, manager, c.ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("cancel by a manager: %v", err)
	}
	got, err = s.Cancel(ctx, staff, c.ID)
	if err != nil || got.Approval != ApprovalCancelled {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if _, err := s.Approve(ctx, manager, c.ID, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("approve cancelled: %v", err)
	}
	// Rejected and cancelled refunds free the amount again.
	if _, err := s.Create(ctx, staff, colRequest(1_000_000, "")); err != nil {
		t.Errorf("full amount after reject+cancel: %v", err)
	}
	if n := len(auditRows(t, db, audit.ActionRefundRejected)) + len(auditRows(t, db, audit.ActionRefundCancelled)); n != 2 {
		t.Errorf("%d decision events", n)
	}
}

func TestApproveManyAndPending(t *testing.T) {
	s, _ := colService(t, 1_000_000, 0)
	a := mustCreate(t, s, staff, colRequest(100_000, ""))
	b := mustCreate(t, s, manager, colRequest(100_000, ""))
	c := mustCreate(t, s, staff, colRequest(100_000, ""))
	pend, err := s.Pending(context.Background())
	if err != nil || len(pend) != 3 || pend[0].ID != a.ID || pend[2].ID != c.ID {
		t.Fatalf("pending = %v, %v", pend, err)
	}
	ok, errs := s.ApproveMany(context.Background(), manager, []string{a.ID, b.ID, c.ID, "nope"})
	if len(ok) != 2 || !errors.Is(errs[b.ID], ErrSelfApproval) || !errors.Is(errs["nope"], ErrNotFound) {
		t.Fatalf("approved %v errs %v", ok, errs)
	}
}

// TestDecisionNotesRefuseControlCharacters: a NUL or invalid UTF-8 in a
// decision note is a field error, and nothing is decided.
func TestDecisionNotesRefuseControlCharacters(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}, Options{})
	r := mustCreate(t, s, staff, colRequest(10_000, ""))
	ctx := context.Background()
	for _, note := range []string{"no\x00", "bad \xff text"} {
		if _, err := s.Reject(ctx, manager, r.ID, note); err == nil {
			t.Fatalf("reject with %q accepted", note)
		} else if v, ok := IsValidation(err); !ok || v.Fields["note"].IsZero() {
			t.Fatalf("reject with %q: %v", note, err)
		}
		if _, err := s.Approve(ctx, manager, r.ID, note); err == nil {
			t.Fatalf("approve with %q accepted", note)
		}
	}
	if got := mustGet(t, s, r.ID); got.Approval != ApprovalPending {
		t.Fatalf("approval = %s", got.Approval)
	}
}
