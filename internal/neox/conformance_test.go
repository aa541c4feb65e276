package neox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// TestConformanceWithSandbox runs every client call over HTTP against the
// sandbox, including the not-found answers of every lookup.
func TestConformanceWithSandbox(t *testing.T) {
	sb := sandbox.New(sandbox.Config{MerchantCode: "UFLIYL", PGSecretKey: "pg-key", ClientID: "gc", ClientSecret: "gcs",
		COLClientID: "col", COLClientSecret: "cols", SettleDelay: 30 * time.Millisecond, Seed: true})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	ctx, lang := context.Background(), "en"
	pg := neox.NewPG(neox.PGConfig{BaseURL: sb.URL(), MerchantCode: "UFLIYL", SecretKey: "pg-key"}, nil)
	gc := neox.NewGC(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "gc", ClientSecret: "gcs"}, nil)
	col := neox.NewCOL(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "col", ClientSecret: "cols", Scope: "collection"}, nil)

	t.Run("PG", func(t *testing.T) {
		pays, err := pg.QueryPT(ctx, lang, "240830080146NDTISR")
		if err != nil || len(pays) != 2 {
			t.Fatalf("QueryPT = %+v, %v", pays, err)
		}
		if pays[1] != (neox.Payment{ID: "1439211", Status: "SUCCESS", Method: "QR", Amount: 20_000_000, RefundedAmount: 100_000}) {
			t.Fatalf("payment = %+v", pays[1])
		}
		res, err := pg.Refund(ctx, lang, neox.PGRefundRequest{RequestID: "c-pg", PaymentID: "1439211", Amount: 10_000,
			Receiver: &neox.Receiver{AccountName: "NGUYEN VAN A", AccountNumber: "123456789", SwiftCode: "ASCBVNVX"}})
		if err != nil || res.TransID == "" || res.ResponseCode != 0 {
			t.Fatalf("Refund = %+v, %v", res, err)
		}
		if _, err := pg.QueryPT(ctx, lang, "NOPE"); !errors.Is(err, neox.ErrNotFound) {
			t.Fatalf("unknown transaction: %v", err)
		}
	})
	t.Run("GC", func(t *testing.T) {
		o, err := gc.GetCollectionOrder(ctx, lang, "CO-20240501-000123456", "")
		if err != nil || o.ID != "CO-20240501-000123456" || o.Amount != 150_000 || o.Currency != "USD" || o.PayAmount != 149_500 ||
			o.PayCurrency != "USD" || o.Status != "SUCCESS" || o.MerchantID != "UFLIYL" || o.OrderType != "TRADE_COLLECTION" {
			t.Fatalf("order = %+v, %v", o, err)
		}
		jpy, err := gc.GetCollectionOrder(ctx, lang, "CO-20240504-000200003", "")
		if err != nil || jpy.Amount != 120_000 {
			t.Fatalf("JPY order = %+v, %v", jpy, err)
		}
		res, err := gc.Refund(ctx, lang, neox.GCRefundRequest{RequestID: "c-gc", CollectionOrderID: o.ID, FeeChargeWay: "OUR", SubMerchantID: "SUB-1"})
		if err != nil || res.Status != "PROCESSING" || res.CollectionOrderID != o.ID || res.RefundRequestID == "" || res.NeoResponseID == "" {
			t.Fatalf("Refund = %+v, %v", res, err)
		}
		if _, err := gc.GetCollectionOrder(ctx, lang, "CO-NOPE", ""); !errors.Is(err, neox.ErrNotFound) {
			t.Fatalf("unknown order: %v", err)
		}
	})
	t.Run("COL", func(t *testing.T) {
		tx, err := col.GetCollectionTransaction(ctx, lang, "FT24324HCM001")
		if err != nil || tx.ID != "FT24324HCM001" || tx.Amount != 2_500_000 || tx.RefundedAmount != 500_000 || tx.Fee != 5_500 ||
			tx.Status != "SUCCESS" || tx.MerchantCode != "UFLIYL" || tx.CreatedAt.IsZero() {
			t.Fatalf("transaction = %+v, %v", tx, err)
		}
		r, err := col.Refund(ctx, lang, neox.COLRefundRequest{RequestID: "c-col", CollectionTransID: tx.ID, Amount: 200_000,
			BankSwiftCode: "BFTVVNVX", BankAccountNumber: "0071000123456", BankAccountName: "TRAN THI BINH", BankBranch: "HCM"})
		if err != nil || r.ApprovalStatus != "PENDING" || r.Amount != 200_000 || r.MerchantCode != "UFLIYL" || r.BankAccountName != "TRAN THI BINH" {
			t.Fatalf("Refund = %+v, %v", r, err)
		}
		got, err := col.GetRefund(ctx, lang, "c-col")
		if err != nil || got.RequestID != "c-col" || got.CollectionTransID != tx.ID || !got.CreatedAt.Equal(r.CreatedAt) {
			t.Fatalf("GetRefund = %+v, %v", got, err)
		}
		page, err := col.ListRefunds(ctx, lang, neox.COLListQuery{PageSize: 10, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil || page.TotalDocs != 1 || page.TotalPages != 1 || len(page.Docs) != 1 || page.Docs[0].RequestID != "c-col" {
			t.Fatalf("ListRefunds = %+v, %v", page, err)
		}
		empty, err := col.ListRefunds(ctx, lang, neox.COLListQuery{Status: "REJECTED"})
		if err != nil || empty.TotalDocs != 0 || len(empty.Docs) != 0 {
			t.Fatalf("ListRefunds(REJECTED) = %+v, %v", empty, err)
		}
		if _, err := col.GetRefund(ctx, lang, "nope"); !errors.Is(err, neox.ErrNotFound) {
			t.Fatalf("unknown refund: %v", err)
		}
		if _, err := col.GetCollectionTransaction(ctx, lang, "nope"); !errors.Is(err, neox.ErrNotFound) {
			t.Fatalf("unknown transaction: %v", err)
		}
	})
	if n := sb.TokenCalls(); n != 2 {
		t.Fatalf("token calls = %d, want 2 (one per client, cached)", n)
	}
}
