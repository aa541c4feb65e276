package sandbox

import (
	"context"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// TestWebhooksSignedAndRetried: each refund's changes arrive signed, and
// deliveries are retried until acknowledged (HTTP 200; PG respcode 0).
func TestWebhooksSignedAndRetried(t *testing.T) {
	pgHook := newHookRecorder(t, 2, true)
	gcHook := newHookRecorder(t, 2, false)
	colHook := newHookRecorder(t, 2, false)
	cfg := testConfig()
	cfg.WebhookBasicUser, cfg.WebhookBasicPass = "hook", "pw"
	s := start(t, cfg)
	s.SetWebhookURLs(pgHook.srv.URL, gcHook.srv.URL, colHook.srv.URL)
	c := clientsFor(s)
	ctx := context.Background()
	if _, err := c.pg.Refund(ctx, "vi", neox.PGRefundRequest{RequestID: "pg-ok", PaymentID: "1440002", Amount: 500_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.pg.Refund(ctx, "vi", neox.PGRefundRequest{RequestID: "pg-fail", PaymentID: "1440004", Amount: 200_000, Receiver: qrReceiver}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.gc.Refund(ctx, "vi", neox.GCRefundRequest{RequestID: "gc-fail", CollectionOrderID: "CO-20240503-000200002", FeeChargeWay: "OUR"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: "col-ok", CollectionTransID: "FT24323L4AAA", Amount: 150_000}); err != nil {
		t.Fatal(err)
	}

	eventually(t, "two acknowledged PG IPNs", func() bool { _, b := pgHook.snapshot(); return len(b) == 2 })
	hits, bodies := pgHook.snapshot()
	if hits < 4 {
		t.Fatalf("PG hits = %d, want ≥ 4 (2 refused + 2 accepted)", hits)
	}
	codes := map[string]int{}
	for _, b := range bodies {
		ipn, err := neox.VerifyPGIPN(b, testMerchant, testPGKey)
		if err != nil {
			t.Fatalf("IPN does not verify: %v\n%s", err, b)
		}
		codes[ipn.RequestID] = ipn.ResponseCode
		if ipn.Command != "REFUND" || ipn.TransactionID == "" || ipn.Amount == 0 {
			t.Fatalf("IPN = %+v", ipn)
		}
	}
	if codes["pg-ok"] != 0 || codes["pg-fail"] != 1 {
		t.Fatalf("IPN codes = %v", codes)
	}

	eventually(t, "GC final webhook", func() bool { _, b := gcHook.snapshot(); return len(b) == 2 })
	statuses := map[string]bool{}
	_, bodies = gcHook.snapshot()
	for _, b := range bodies {
		ev, err := neox.VerifyGCWebhook(b, gcSecret)
		if err != nil {
			t.Fatalf("GC webhook does not verify: %v", err)
		}
		if ev.Amount != "250.00" || ev.Currency != "SGD" {
			t.Fatalf("GC event = %+v", ev)
		}
		statuses[ev.Status] = true
	}
	if !statuses["PROCESSING"] || !statuses["FAILED"] {
		t.Fatalf("GC statuses = %v", statuses)
	}

	eventually(t, "COL webhooks through SUCCESS", func() bool { _, b := colHook.snapshot(); return len(b) == 3 })
	_, bodies = colHook.snapshot()
	seen := map[string]bool{}
	for _, b := range bodies {
		ev, err := neox.VerifyCOLWebhook(b, colSecret)
		if err != nil {
			t.Fatalf("COL webhook does not verify: %v", err)
		}
		seen[ev.ApprovalStatus+"/"+ev.Status] = true
	}
	for _, want := range []string{"PENDING/", "APPROVED/PROCESSING", "APPROVED/SUCCESS"} {
		if !seen[want] {
			t.Fatalf("COL events %v lack %s", seen, want)
		}
	}
}

func TestAsyncProgressionReachesFinalStates(t *testing.T) {
	s := start(t, testConfig())
	c := clientsFor(s)
	ctx := context.Background()

	cols := []struct{ id, txn, approval, status, reason string }{
		{"col-success", "FT24323L4AAA", "APPROVED", "SUCCESS", ""},
		{"col-rejected", "FT24325HNI002", "REJECTED", "", ""},
		{"col-failed", "FT24326DNG003", "APPROVED", "FAILED", "Beneficiary account is closed (bank code 1114)"},
	}
	for _, tc := range cols {
		r, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: tc.id, CollectionTransID: tc.txn, Amount: 100_000})
		if err != nil || r.ApprovalStatus != "PENDING" {
			t.Fatalf("%s: %+v %v", tc.id, r, err)
		}
	}
	for _, tc := range cols {
		var got neox.COLRefund
		eventually(t, tc.id+" final", func() bool {
			var err error
			got, err = c.col.GetRefund(ctx, "vi", tc.id)
			if err != nil {
				t.Fatal(err)
			}
			return got.ApprovalStatus == "REJECTED" || got.Status == "SUCCESS" || got.Status == "FAILED"
		})
		if got.ApprovalStatus != tc.approval || got.Status != tc.status || got.FailedReason != tc.reason {
			t.Fatalf("%s = %+v", tc.id, got)
		}
		if tc.approval == "APPROVED" && got.RefundTransID == "" {
			t.Fatalf("%s: approved without refundTransId", tc.id)
		}
	}
	tx, err := c.col.GetCollectionTransaction(ctx, "vi", "FT24323L4AAA")
	if err != nil || tx.RefundedAmount != 100_000 {
		t.Fatalf("after success: %+v %v", tx, err)
	}
	tx, err = c.col.GetCollectionTransaction(ctx, "vi", "FT24326DNG003")
	if err != nil || tx.RefundedAmount != 0 {
		t.Fatalf("after failure: %+v %v", tx, err)
	}
	// The rejected and failed amounts are refundable again.
	if _, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: "col-again", CollectionTransID: "FT24326DNG003", Amount: 3_200_000}); err != nil {
		t.Fatalf("refund after failure: %v", err)
	}

	for _, tc := range []struct{ req, order, final string }{
		{"gc-ok", "CO-20240504-000200003", "REFUND_SUCCESS"},
		{"gc-fail", "CO-20240503-000200002", "SUCCESS"},
	} {
		r, err := c.gc.Refund(ctx, "vi", neox.GCRefundRequest{RequestID: tc.req, CollectionOrderID: tc.order, FeeChargeWay: "OUR"})
		if err != nil || r.Status != "PROCESSING" || r.RefundRequestID == "" {
			t.Fatalf("%s: %+v %v", tc.req, r, err)
		}
		o, err := c.gc.GetCollectionOrder(ctx, "vi", tc.order, "")
		if err != nil || o.Status != "REFUND_PROCESS" {
			t.Fatalf("%s right after: %+v %v", tc.req, o, err)
		}
		eventually(t, tc.req+" final", func() bool {
			o, err := c.gc.GetCollectionOrder(ctx, "vi", tc.order, "")
			return err == nil && o.Status == tc.final
		})
		if r, _ := refundByID(s, tc.req); r.Status != map[string]string{"SUCCESS": "FAILED", "REFUND_SUCCESS": "SUCCESS"}[tc.final] {
			t.Fatalf("%s sandbox status %q", tc.req, r.Status)
		}
	}

	if _, err := c.pg.Refund(ctx, "vi", neox.PGRefundRequest{RequestID: "pg-ok", PaymentID: "1440001", Amount: 50_000}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "PG refund settled", func() bool {
		pays, err := c.pg.QueryPT(ctx, "vi", "240901101500HCMCAF")
		return err == nil && pays[0].RefundedAmount == 50_000
	})
}
