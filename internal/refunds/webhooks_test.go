package refunds

import (
	"context"
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

	success := neox.COLRefundEvent{RequestID: r.ID, Type: "REFUND", ApprovalStatus: "APPROVED", Status: "SUCCESS",
		Amount: "150000", BankAccountNumber: "0107201111", Note: "done"}
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
	late := neox.COLRefundEvent{RequestID: r.ID, Type: "REFUND", ApprovalStatus: "APPROVED"}
	res, err := s.ApplyCOL(ctx, late, []byte(`{"requestId":"`+r.ID+`","approvalStatus":"APPROVED"}`))
	if err != nil || res.Applied != HookStale {
		t.Fatalf("late event: %+v %v", res, err)
	}
	fail := neox.COLRefundEvent{RequestID: r.ID, ApprovalStatus: "APPROVED", Status: "FAILED", FailedReason: "x"}
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
	ok := neox.PGRefundIPN{RequestID: r.ID, TransactionID: "T9", ResponseCode: 0, ResponseMsg: "Success"}
	if res, err := s.ApplyPG(ctx, ok, []byte(`a`)); err != nil || res.Applied != HookApplied {
		t.Fatalf("%+v %v", res, err)
	}
	proc := neox.PGRefundIPN{RequestID: r.ID, TransactionID: "T9", ResponseCode: 99}
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
	ipn := neox.PGRefundIPN{RequestID: r.ID, ResponseCode: 33, ResponseMsg: "Invalid amount"}
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
	pending := neox.COLRefundEvent{RequestID: r.ID, ApprovalStatus: "PENDING", Note: "Waiting for approval"}
	if res, _ := s.ApplyCOL(ctx, pending, nil); res.Applied != HookApplied {
		t.Errorf("pending = %s", res.Applied)
	}
	rej := neox.COLRefundEvent{RequestID: r.ID, ApprovalStatus: "REJECTED", Note: "Sai thông tin tài khoản"}
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
	s.ApplyCOL(ctx, neox.COLRefundEvent{RequestID: r.ID, ApprovalStatus: "APPROVED"}, nil)
	res, _ := s.ApplyCOL(ctx, neox.COLRefundEvent{RequestID: r.ID, ApprovalStatus: "PENDING"}, nil)
	if got := mustGet(t, s, r.ID); res.Applied != HookStale || got.NeoXApprovalStatus != "APPROVED" {
		t.Errorf("applied %s, approval status %s", res.Applied, got.NeoXApprovalStatus)
	}
}

func TestWebhookGCMatchesByOrderThenID(t *testing.T) {
	db := openDB(t)
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 1000}, nil
	}}
	s := newService(t, db, Gateways{GC: gc}, Options{})
	r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR"})
	processing(t, db, r.ID, "")
	ctx := context.Background()
	res, err := s.ApplyGC(ctx, neox.GCRefundEvent{RefundRequestID: "RF-7", CollectionOrderID: "CO1", Status: "PROCESSING"}, nil)
	if err != nil || res.RefundID != r.ID || res.Applied != HookApplied {
		t.Fatalf("%+v %v", res, err)
	}
	if got := mustGet(t, s, r.ID); got.NeoXRefundID != "RF-7" {
		t.Errorf("neox id = %q", got.NeoXRefundID)
	}
	res, _ = s.ApplyGC(ctx, neox.GCRefundEvent{RefundRequestID: "RF-7", Status: "FAILED", Note: "Beneficiary bank rejected"}, nil)
	got := mustGet(t, s, r.ID)
	if res.RefundID != r.ID || got.Submission != SubFailed || got.FailedReason != "Beneficiary bank rejected" {
		t.Errorf("%+v refund %+v", res, got)
	}
}

func TestWebhookUnknownRefundStored(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{}, Options{})
	ctx := context.Background()
	ev := neox.COLRefundEvent{RequestID: "REFUND-443826686072", ApprovalStatus: "PENDING"}
	raw := []byte(`{"requestId":"REFUND-443826686072","bankAccountNumber":"0107201111","status":"PENDING"}`)
	res, err := s.ApplyCOL(ctx, ev, raw)
	if err != nil || res.Applied != HookUnknownRefund || res.RefundID != "" {
		t.Fatalf("%+v %v", res, err)
	}
	if res, _ := s.ApplyCOL(ctx, ev, raw); res.Applied != HookDuplicate {
		t.Errorf("second delivery = %s", res.Applied)
	}
	list, err := s.UnmatchedWebhooks(ctx, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("unmatched = %v, %v", list, err)
	}
	w := list[0]
	if w.EventRef != "REFUND-443826686072" || w.Deliveries != 2 || !w.Verified || w.API != APICOL ||
		strings.Contains(w.RawBody, "0107201111") {
		t.Errorf("stored = %+v", w)
	}
	ev2 := auditRows(t, db, audit.ActionWebhookReceived)
	if len(ev2) != 2 || ev2[0].Outcome != audit.OutcomeUnknown || ev2[0].Target != "REFUND-443826686072" {
		t.Errorf("audit = %+v", ev2)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.UnmatchedHooks != 1 {
		t.Errorf("stats = %+v %v", st, err)
	}
}

func TestWebhookWhileSendingWinsOverLateAnswer(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}, Options{})
	r := approved(t, s, colRequest(150_000, ""))
	writeSending(t, db, r.ID)
	ev := neox.COLRefundEvent{RequestID: r.ID, ApprovalStatus: "APPROVED", Status: "SUCCESS"}
	if res, _ := s.ApplyCOL(context.Background(), ev, nil); res.Applied != HookApplied {
		t.Fatalf("applied = %s", res.Applied)
	}
	if got := mustGet(t, s, r.ID); got.Submission != SubSucceeded {
		t.Fatalf("submission = %s", got.Submission)
	}
}
