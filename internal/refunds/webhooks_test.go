package refunds

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// processing puts an approved refund in PROCESSING as the worker would.
func processing(t *testing.T, db *store.DB, id, neoxID string) {
	t.Helper()
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'PROCESSING', attempts = 1, neox_refund_id = ?
		WHERE id = ?`, neoxID, id); err != nil {
		t.Fatal(err)
	}
}

// colEvent is a COL event that agrees with what the desk stored for r.
func colEvent(r Refund, approval, status string) neox.COLRefundEvent {
	return neox.COLRefundEvent{RequestID: r.ID, Type: "REFUND", CollectionTransID: r.TransactionRef,
		ApprovalStatus: approval, Status: status, Amount: strconv.FormatInt(r.Amount, 10)}
}

// pgEvent is a PG IPN that agrees with what the desk stored for r.
func pgEvent(r Refund, neoxID string, code int, msg string) neox.PGRefundIPN {
	return neox.PGRefundIPN{MerchantCode: "M", Command: "REFUND", OrderID: "O1", PaymentID: r.PaymentID,
		RequestID: r.ID, TransactionID: neoxID, Amount: r.Amount, Version: "1", ResponseCode: code, ResponseMsg: msg}
}

// gcEvent is a GC event that agrees with what the desk stored for r.
func gcEvent(r Refund, neoxID, status, note string) neox.GCRefundEvent {
	return neox.GCRefundEvent{RefundRequestID: neoxID, Type: "REFUND", CollectionOrderID: r.TransactionRef,
		Currency: r.Currency, Status: status, Note: note, Amount: neox.FormatMinor(r.Amount, r.Currency)}
}

func webhookRows(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	rows, err := db.Read.Query(`SELECT applied, deliveries FROM webhook_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int
		rows.Scan(&a, &n)
		out[a] += n
	}
	return out
}

func TestWebhookDuplicatesAndOutOfOrder(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}, Options{Now: newClock().Now})
	r := approved(t, s, colRequest(150_000, ""))
	processing(t, db, r.ID, "")
	ctx := context.Background()

	success := colEvent(r, "APPROVED", "SUCCESS")
	success.BankAccountNumber, success.Note = "0107201111", "done"
	raw := []byte(`{"requestId":"` + r.ID + `","approvalStatus":"APPROVED","status":"SUCCESS","bankAccountNumber":"0107201111"}`)
	var results []string
	for range 5 {
		res, err := s.ApplyCOL(ctx, success, raw)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res.Applied)
	}
	if strings.Join(results, ",") != "applied,duplicate,duplicate,duplicate,duplicate" {
		t.Fatalf("results = %v", results)
	}
	first := mustGet(t, s, r.ID)
	if first.Submission != SubSucceeded {
		t.Fatalf("after SUCCESS: %+v", first)
	}
	// An older event arriving late changes nothing.
	late := colEvent(r, "APPROVED", "")
	res, err := s.ApplyCOL(ctx, late, []byte(`{"requestId":"`+r.ID+`","approvalStatus":"APPROVED"}`))
	if err != nil || res.Applied != HookStale {
		t.Fatalf("late event: %+v %v", res, err)
	}
	fail := colEvent(r, "APPROVED", "FAILED")
	fail.FailedReason = "x"
	if res, _ := s.ApplyCOL(ctx, fail, []byte(`{}`)); res.Applied != HookStale {
		t.Errorf("FAILED after SUCCESS: %v", res.Applied)
	}
	after := mustGet(t, s, r.ID)
	if after.Submission != SubSucceeded || after.FailedReason != "" || !after.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("final refund changed: %+v", after)
	}
	if got := webhookRows(t, db); got[HookApplied] != 5 || got[HookStale] != 2 {
		t.Errorf("webhook rows = %v", got)
	}
	ev := auditRows(t, db, audit.ActionWebhookReceived)
	if len(ev) != 7 || ev[1].Details["applied"] != HookDuplicate || ev[0].Actor != "neox" {
		t.Errorf("webhook audit = %+v", ev)
	}
	if st := auditRows(t, db, audit.ActionRefundState); len(st) != 1 || st[0].Details["to"] != SubSucceeded {
		t.Errorf("state audit = %+v", st)
	}
	var body string
	db.Read.QueryRow(`SELECT raw_body FROM webhook_events WHERE applied = 'applied'`).Scan(&body)
	if strings.Contains(body, "0107201111") || !strings.Contains(body, "1111") {
		t.Errorf("stored body not masked: %s", body)
	}
}

func TestWebhookSuccessThenProcessingPG(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{PG: &fakePG{queryPT: paidPG(1_000_000, 0, "CC")}}, Options{})
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 1000, ReasonCode: "X"})
	processing(t, db, r.ID, "T1")
	ctx := context.Background()
	ok := pgEvent(r, "T1", 0, "Success")
	if res, err := s.ApplyPG(ctx, ok, []byte(`a`)); err != nil || res.Applied != HookApplied {
		t.Fatalf("%+v %v", res, err)
	}
	proc := pgEvent(r, "T1", 99, "")
	if res, _ := s.ApplyPG(ctx, proc, []byte(`b`)); res.Applied != HookStale {
		t.Errorf("PROCESSING after SUCCESS = %s", res.Applied)
	}
	got := mustGet(t, s, r.ID)
	if got.Submission != SubSucceeded || got.NeoXRefundID != "T1" {
		t.Errorf("refund = %+v", got)
	}
}

func TestWebhookPGFailureKeepsCode(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{PG: &fakePG{queryPT: paidPG(1_000_000, 0, "CC")}}, Options{})
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 1000, ReasonCode: "X"})
	processing(t, db, r.ID, "T1")
	ipn := pgEvent(r, "T1", 33, "Invalid amount")
	if _, err := s.ApplyPG(context.Background(), ipn, nil); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, r.ID)
	if got.Submission != SubFailed || got.NeoXCode != "33" || got.FailedReason != "Invalid amount" {
		t.Errorf("refund = %+v", got)
	}
}

func TestWebhookCOLRejectedFails(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}, Options{})
	r := approved(t, s, colRequest(150_000, ""))
	processing(t, db, r.ID, "")
	ctx := context.Background()
	// Old payload version: status carried the approval (normalised by neox).
	pending := colEvent(r, "PENDING", "")
	pending.Note = "Waiting for approval"
	if res, _ := s.ApplyCOL(ctx, pending, nil); res.Applied != HookApplied {
		t.Errorf("pending = %s", res.Applied)
	}
	rej := colEvent(r, "REJECTED", "")
	rej.Note = "Sai thông tin tài khoản"
	if res, _ := s.ApplyCOL(ctx, rej, nil); res.Applied != HookApplied {
		t.Errorf("rejected = %s", res.Applied)
	}
	got := mustGet(t, s, r.ID)
	if got.Submission != SubFailed || got.NeoXApprovalStatus != "REJECTED" || got.FailedReason != "Sai thông tin tài khoản" {
		t.Errorf("refund = %+v", got)
	}
}

func TestWebhookCOLApprovalDoesNotGoBack(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}, Options{})
	r := approved(t, s, colRequest(150_000, ""))
	processing(t, db, r.ID, "")
	ctx := context.Background()
	s.ApplyCOL(ctx, colEvent(r, "APPROVED", ""), nil)
	res, _ := s.ApplyCOL(ctx, colEvent(r, "PENDING", ""), nil)
	if got := mustGet(t, s, r.ID); res.Applied != HookStale || got.NeoXApprovalStatus != "APPROVED" {
		t.Errorf("applied %s, approval status %s", res.Applied, got.NeoXApprovalStatus)
	}
}

// TestWebhookGCMatchesOnlyByNeoXID: refundRequestId is the match key.
// Before NeoX's answer told the desk the id, an event is kept for review,
// not matched by collection order.
func TestWebhookGCMatchesOnlyByNeoXID(t *testing.T) {
	db := openDB(t)
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 1000}, nil
	}}
	s := newService(t, db, Gateways{GC: gc}, Options{})
	r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR"})
	processing(t, db, r.ID, "")
	ctx := context.Background()
	res, err := s.ApplyGC(ctx, gcEvent(r, "RF-7", "FAILED", "x"), nil)
	if err != nil || res.RefundID != "" || res.Applied != HookUnknownRefund {
		t.Fatalf("matched by order: %+v %v", res, err)
	}
	if got := mustGet(t, s, r.ID); got.Submission != SubProcessing {
		t.Fatalf("refund moved: %+v", got)
	}
	processing(t, db, r.ID, "RF-7") // NeoX's answer gave the id
	res, _ = s.ApplyGC(ctx, gcEvent(r, "RF-7", "FAILED", "Beneficiary bank rejected"), nil)
	got := mustGet(t, s, r.ID)
	if res.RefundID != r.ID || got.Submission != SubFailed || got.FailedReason != "Beneficiary bank rejected" {
		t.Errorf("%+v refund %+v", res, got)
	}
}

func TestWebhookUnknownRefundStored(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{}, Options{})
	ctx := context.Background()
	ev := neox.COLRefundEvent{RequestID: "REFUND-443826686072", Type: "REFUND", CollectionTransID: "FT24323L4AAA",
		ApprovalStatus: "PENDING", Amount: "150000"}
	raw := []byte(`{"requestId":"REFUND-443826686072","bankAccountNumber":"0107201111","status":"PENDING"}`)
	res, err := s.ApplyCOL(ctx, ev, raw)
	if err != nil || res.Applied != HookUnknownRefund || res.RefundID != "" {
		t.Fatalf("%+v %v", res, err)
	}
	if res, _ := s.ApplyCOL(ctx, ev, raw); res.Applied != HookDuplicate {
		t.Errorf("second delivery = %s", res.Applied)
	}
	list, err := db.UnmatchedWebhooks(ctx, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("unmatched = %v, %v", list, err)
	}
	w := list[0]
	if w.EventRef != "REFUND-443826686072" || w.Deliveries != 2 || !w.Verified || w.API != string(APICOL) ||
		strings.Contains(w.RawBody, "0107201111") {
		t.Errorf("stored = %+v", w)
	}
	ev2 := auditRows(t, db, audit.ActionWebhookReceived)
	if len(ev2) != 2 || ev2[0].Outcome != audit.OutcomeUnknown || ev2[0].Target != "REFUND-443826686072" {
		t.Errorf("audit = %+v", ev2)
	}
	if c, err := db.CountRefunds(ctx); err != nil || c.Unmatched != 1 {
		t.Errorf("counts = %+v %v", c, err)
	}
}

func TestWebhookWhileSendingWinsOverLateAnswer(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}, Options{})
	r := approved(t, s, colRequest(150_000, ""))
	writeSending(t, db, r.ID)
	if res, _ := s.ApplyCOL(context.Background(), colEvent(r, "APPROVED", "SUCCESS"), nil); res.Applied != HookApplied {
		t.Fatalf("applied = %s", res.Applied)
	}
	if got := mustGet(t, s, r.ID); got.Submission != SubSucceeded {
		t.Fatalf("submission = %s", got.Submission)
	}
}

// TestWebhookGCBeforeTheAnswerIsHeldThenApplied: NeoX's REFUND webhook
// often arrives while the desk still waits for the answer that tells it
// the refundRequestId. The event is kept (not matched by order), and
// applied as soon as the answer records the id: a failure is not lost.
func TestWebhookGCBeforeTheAnswerIsHeldThenApplied(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status string
		want   string
	}{
		{"failed", "FAILED", SubFailed},
		{"succeeded", "SUCCESS", SubSucceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			var s *Service
			var early WebhookResult
			gc := &fakeGC{
				getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
					return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 150_000}, nil
				},
				refund: func(ctx context.Context, req neox.GCRefundRequest) (neox.GCRefundResult, error) {
					r, err := s.Get(ctx, req.RequestID)
					if err != nil {
						return neox.GCRefundResult{}, err
					}
					// The webhook beats the answer.
					early, err = s.ApplyGC(ctx, gcEvent(r, "RF-77", tt.status, "bank says so"), []byte(`{}`))
					if err != nil {
						return neox.GCRefundResult{}, err
					}
					return neox.GCRefundResult{CollectionOrderID: req.CollectionOrderID, RefundRequestID: "RF-77",
						Status: "PROCESSING"}, nil
				}}
			s = newService(t, db, Gateways{GC: gc}, fastOpts())
			runWorker(t, s)
			r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR"})
			got := waitSubmission(t, s, r.ID, tt.want)
			if early.Applied != HookUnknownRefund {
				t.Fatalf("early event = %+v, want kept as unknown_refund", early)
			}
			if got.NeoXRefundID != "RF-77" || (tt.want == SubFailed && got.FailedReason != "bank says so") {
				t.Fatalf("refund = %+v", got)
			}
			if n := webhookRows(t, db); n[HookApplied] != 1 || n[HookUnknownRefund] != 0 {
				t.Fatalf("webhook rows = %v", n)
			}
			ev := auditRows(t, db, audit.ActionWebhookReceived)
			if len(ev) != 2 || ev[1].Details["applied"] != HookApplied || ev[1].Target != r.ID || ev[1].Details["held_event"] == nil {
				t.Fatalf("webhook audit = %+v", ev)
			}
		})
	}
}

// TestWebhookContradictingAManualResolution: after a manager resolved a
// stuck refund from NeoX's portal, a genuine NeoX notification that says
// otherwise is neither applied nor dropped: it is kept, acknowledged and
// listed for managers; one that agrees is simply stale.
func TestWebhookContradictingAManualResolution(t *testing.T) {
	s, db, clk := attnService(t, Options{})
	ctx := context.Background()
	r := flagged(t, s, db, clk, APIGC, SubProcessing)
	processing(t, db, r.ID, "RF-9") // NeoX's answer had given its id
	r, err := s.Resolve(ctx, manager, r.ID, Resolution{Outcome: SubSucceeded, Note: "portal shows paid out", Ref: "RF-9"})
	if err != nil {
		t.Fatal(err)
	}
	agree, err := s.ApplyGC(ctx, gcEvent(r, "RF-9", "SUCCESS", "done"), []byte(`{}`))
	if err != nil || agree.Applied != HookStale {
		t.Fatalf("agreeing event: %+v %v", agree, err)
	}
	for i, want := range []string{HookContradicts, HookDuplicate} { // NeoX may deliver it again: kept once
		res, err := s.ApplyGC(ctx, gcEvent(r, "RF-9", "FAILED", "payer bank returned it"), []byte(`{}`))
		if err != nil || res.Refused() || res.Applied != want || res.RefundID != r.ID {
			t.Fatalf("contradicting event, delivery %d: %+v %v", i+1, res, err)
		}
	}
	got := mustGet(t, s, r.ID)
	if got.Submission != SubSucceeded || got.ResolvedAt.IsZero() || got.FailedReason != "" || !got.UpdatedAt.Equal(r.UpdatedAt) {
		t.Fatalf("resolved refund changed: %+v", got)
	}
	list, err := s.SuspiciousWebhooks(ctx, 10)
	if err != nil || len(list) != 1 || list[0].Applied != HookContradicts || list[0].RefundID != r.ID || list[0].Deliveries != 2 {
		t.Fatalf("kept for review: %+v %v", list, err)
	}
	ev := auditRows(t, db, audit.ActionWebhookReceived)
	if first := ev[len(ev)-2]; first.Details["applied"] != HookContradicts || first.Outcome != audit.OutcomeFailure {
		t.Fatalf("audit = %+v", first)
	}
}
