package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

var qrReceiver = &neox.Receiver{AccountName: "NGUYEN VAN A", AccountNumber: "123456789", SwiftCode: "ASCBVNVX"}

// create sends one create call of api with requestID and returns a
// comparable result.
func create(ctx context.Context, c clients, api, requestID string) (string, error) {
	switch api {
	case "PG":
		r, err := c.pg.Refund(ctx, "vi", neox.PGRefundRequest{RequestID: requestID, PaymentID: "1440001", Amount: 100_000})
		return fmt.Sprintf("%+v", r), err
	case "GC":
		r, err := c.gc.Refund(ctx, "vi", neox.GCRefundRequest{RequestID: requestID, CollectionOrderID: "CO-20240502-000200001", FeeChargeWay: "BEN"})
		return fmt.Sprintf("%+v", r), err
	default:
		r, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: requestID, CollectionTransID: "FT24324HCM001", Amount: 300_000})
		return fmt.Sprintf("%+v", r), err
	}
}

func TestIdempotentOnRequestID(t *testing.T) {
	for _, api := range []string{"PG", "GC", "COL"} {
		t.Run(api, func(t *testing.T) {
			s := start(t, testConfig())
			c := clientsFor(s)
			ctx := context.Background()
			first, err := create(ctx, c, api, "req-"+api)
			if err != nil {
				t.Fatal(err)
			}
			second, err := create(ctx, c, api, "req-"+api)
			if err != nil {
				t.Fatal(err)
			}
			if first != second {
				t.Fatalf("same request id, different results:\n%s\n%s", first, second)
			}
			if n := s.RefundCalls("req-" + api); n != 2 {
				t.Fatalf("RefundCalls = %d, want 2", n)
			}
			if n := len(s.Refunds()); n != 1 {
				t.Fatalf("refunds = %d, want 1", n)
			}
		})
	}
}

func TestDuplicateIDWithOtherPayloadIsNotARejection(t *testing.T) {
	s := start(t, testConfig())
	c := clientsFor(s)
	ctx := context.Background()
	if _, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: "dup", CollectionTransID: "FT24324HCM001", Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	_, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: "dup", CollectionTransID: "FT24324HCM001", Amount: 2000})
	if !neox.IsUnknown(err) {
		t.Fatalf("err = %v, want unknown (DUPLICATE_REQUEST_ID)", err)
	}
}

func rejectedCode(t *testing.T, err error) string {
	t.Helper()
	rej, ok := neox.IsRejected(err)
	if !ok {
		t.Fatalf("err = %v, want a rejection", err)
	}
	return rej.Code + " " + rej.Message
}

func TestRefundRulesEnforced(t *testing.T) {
	s := start(t, testConfig())
	c := clientsFor(s)
	ctx := context.Background()
	pgRefund := func(id, payment string, amount int64, rc *neox.Receiver) error {
		_, err := c.pg.Refund(ctx, "vi", neox.PGRefundRequest{RequestID: id, PaymentID: payment, Amount: amount, Receiver: rc})
		return err
	}
	// PG: 350.000 paid; 200.000 in flight leaves 150.000.
	if err := pgRefund("pg-1", "1440001", 200_000, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"PG over refundable incl. in-flight", pgRefund("pg-2", "1440001", 150_001, nil), "33 Invalid amount"},
		{"PG fully refunded", pgRefund("pg-3", "1440006", 1, qrReceiver), "33 Invalid amount"},
		{"PG QR without receiver", pgRefund("pg-4", "1439211", 10_000, nil), "1 Receiver is required for QR payments"},
		{"PG QR incomplete receiver", pgRefund("pg-5", "1439211", 10_000, &neox.Receiver{AccountName: "X"}), "1 Receiver is required for QR payments"},
		{"PG processing payment", pgRefund("pg-6", "1439209", 10_000, nil), "9 Waiting for payment"},
		{"PG failed payment", pgRefund("pg-7", "1440005", 10_000, nil), "1 Payment is not refundable (status FAILED)"},
		{"PG unknown payment", pgRefund("pg-8", "999", 10_000, nil), "1 Payment not found"},
	}
	_, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: "col-1", CollectionTransID: "FT24324HCM001", Amount: 1_500_000})
	if err != nil {
		t.Fatal(err)
	}
	colRefund := func(id, txn string, amount int64) error {
		_, err := c.col.Refund(ctx, "vi", neox.COLRefundRequest{RequestID: id, CollectionTransID: txn, Amount: amount})
		return err
	}
	gcRefund := func(id, order string) error {
		_, err := c.gc.Refund(ctx, "vi", neox.GCRefundRequest{RequestID: id, CollectionOrderID: order, FeeChargeWay: "OUR"})
		return err
	}
	if err := gcRefund("gc-1", "CO-20240501-000123456"); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, []struct {
		name string
		err  error
		want string
	}{
		{"COL over refundable incl. in-flight", colRefund("col-2", "FT24324HCM001", 500_001), "2 AMOUNT_EXCEEDS_REFUNDABLE"},
		{"COL not paid", colRefund("col-3", "FT24328CTO005", 1), "2 TRANSACTION_NOT_REFUNDABLE"},
		{"COL insufficient balance", colRefund("col-4", "FT24329HPG006", 1), "2 INSUFFICIENT_BALANCE"},
		{"COL unknown", colRefund("col-5", "nope", 1), "2 RESOURCE_NOT_FOUND"},
		{"GC second refund of the order", gcRefund("gc-2", "CO-20240501-000123456"), "2 ORDER_NOT_REFUNDABLE"},
		{"GC unpaid order", gcRefund("gc-3", "CO-20240505-000200004"), "2 ORDER_NOT_REFUNDABLE"},
		{"GC already refunded", gcRefund("gc-4", "CO-20240506-000200005"), "2 ORDER_NOT_REFUNDABLE"},
		{"GC insufficient balance", gcRefund("gc-5", "CO-20240507-000200006"), "2 INSUFFICIENT_BALANCE"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rejectedCode(t, tt.err); got != tt.want {
				t.Fatalf("rejection = %q, want %q", got, tt.want)
			}
		})
	}
	// The exact remainder is still accepted.
	if err := pgRefund("pg-9", "1440001", 150_000, nil); err != nil {
		t.Fatalf("exact remainder refused: %v", err)
	}
}

func TestAuthAndSignatureChecked(t *testing.T) {
	s := start(t, testConfig())
	ctx := context.Background()
	badPG := neox.NewPG(neox.PGConfig{BaseURL: s.URL(), MerchantCode: testMerchant, SecretKey: "wrong"}, nil)
	_, err := badPG.QueryPT(ctx, "vi", "240830080146NDTISR")
	if got := rejectedCode(t, err); got != "98 Invalid signature" {
		t.Fatalf("bad PG key: %q", got)
	}
	otherMerchant := neox.NewPG(neox.PGConfig{BaseURL: s.URL(), MerchantCode: "OTHER", SecretKey: testPGKey}, nil)
	if _, err := otherMerchant.QueryPT(ctx, "vi", "240830080146NDTISR"); rejectedCode(t, err) != "30 Integration not approved" {
		t.Fatalf("other merchant: %v", err)
	}
	badGC := neox.NewGC(neox.OpenAPIConfig{BaseURL: s.URL(), ClientID: "gc-client", ClientSecret: "nope"}, nil)
	if _, err := badGC.GetCollectionOrder(ctx, "vi", "CO-20240501-000123456", ""); !neox.IsUnknown(err) {
		t.Fatalf("bad credentials: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v2/col/transactions/FT24323L4AAA", nil)
	req.Header.Set("Authorization", "Bearer forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged token: HTTP %d", resp.StatusCode)
	}
}

func TestFaultsAgainstClients(t *testing.T) {
	tests := []struct {
		fault      Fault
		recorded   bool // whether the first (failed) call created the refund
		wantUnknwn bool
	}{
		{Fault5xx, false, true},
		{FaultDropBeforeRecord, false, true},
		{FaultDropAfterRecord, true, true},
		{FaultMalformed, true, true},
		{FaultLatency, true, true}, // the client gives up; the sandbox still records
		{FaultExpireToken, true, false},
	}
	for _, api := range []string{"PG", "GC", "COL"} {
		for _, tt := range tests {
			if api == "PG" && tt.fault == FaultExpireToken {
				continue // PG has no tokens
			}
			t.Run(fmt.Sprintf("%s/fault%d", api, tt.fault), func(t *testing.T) {
				s := start(t, testConfig())
				s.SetLatency(300 * time.Millisecond)
				c := clientsFor(s)
				if tt.fault == FaultLatency {
					c = shortTimeout(s, 100*time.Millisecond)
				}
				op := map[string]string{"PG": OpPGRefund, "GC": OpGCRefund, "COL": OpCOLRefund}[api]
				s.InjectFault(op, tt.fault, 1)
				ctx := context.Background()
				_, err := create(ctx, c, api, "f-1")
				if neox.IsUnknown(err) != tt.wantUnknwn || (!tt.wantUnknwn && err != nil) {
					t.Fatalf("err = %v, want unknown=%v", err, tt.wantUnknwn)
				}
				eventually(t, "the refund to be recorded or not", func() bool {
					_, ok := refundByID(s, "f-1")
					return ok == tt.recorded
				})
				// Retrying with the same id converges on exactly one refund.
				if _, err := create(ctx, c, api, "f-1"); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if n := len(s.Refunds()); n != 1 {
					t.Fatalf("refunds after retry = %d, want 1", n)
				}
				if tt.fault == FaultExpireToken && s.TokenCalls() != 2 {
					t.Fatalf("token calls = %d, want 2 (one refresh)", s.TokenCalls())
				}
			})
		}
	}
}

func shortTimeout(s *Sandbox, d time.Duration) clients {
	cfg := s.cfg
	return clients{
		pg:  neox.NewPG(neox.PGConfig{BaseURL: s.URL(), MerchantCode: cfg.MerchantCode, SecretKey: cfg.PGSecretKey, Timeout: d}, nil),
		gc:  neox.NewGC(neox.OpenAPIConfig{BaseURL: s.URL(), ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Timeout: d}, nil),
		col: neox.NewCOL(neox.OpenAPIConfig{BaseURL: s.URL(), ClientID: cfg.COLClientID, ClientSecret: cfg.COLClientSecret, Timeout: d}, nil),
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	hook := newHookRecorder(t, 1000, false) // never acknowledges: deliveries keep retrying
	cfg := testConfig()
	cfg.SettleDelay = time.Hour // settlements pending at Close
	cfg.GCWebhookURL, cfg.COLWebhookURL = hook.srv.URL, hook.srv.URL
	s := New(cfg)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := clientsFor(s)
	s.InjectFault(OpCOLGet, FaultLatency, 1)
	s.SetLatency(time.Hour)
	ctx := context.Background()
	for _, api := range []string{"PG", "GC", "COL"} {
		if _, err := create(ctx, c, api, "leak-"+api); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := c.col.GetRefund(ctx, "vi", "leak-COL"); done <- err }() // stuck in latency
	eventually(t, "a webhook attempt", func() bool { n, _ := hook.snapshot(); return n > 0 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	<-done
	eventually(t, "sandbox goroutines to end", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "internal/neox/sandbox.(*Sandbox)")
	})
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := create(ctx, c, "PG", "after-close"); !neox.IsUnknown(err) {
		t.Fatalf("call after Close: %v", err)
	}
}
