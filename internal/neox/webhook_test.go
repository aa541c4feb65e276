package neox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestVerifyCOLWebhookDocSample(t *testing.T) {
	ev, err := VerifyCOLWebhook([]byte(docCOLWebhook), "SUMTING")
	if err != nil {
		t.Fatalf("doc sample: %v", err)
	}
	want := COLRefundEvent{RequestID: "REFUND-443826686072", Type: "REFUND", CollectionTransID: "FT24323L4AAA",
		ApprovalStatus: "PENDING", Amount: "150000", BankSwiftCode: "SCBLSG22XXX", BankAccountNumber: "0107201111",
		BankAccountName: "STANDARD CHARTERED BANK TEST ACCOUNT", Note: "Waiting for approval"}
	if ev != want {
		t.Fatalf("event = %+v\nwant    %+v", ev, want)
	}
	if _, err := VerifyCOLWebhook([]byte(docCOLWebhook), "WRONG"); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
	tampered := strings.Replace(docCOLWebhook, `"150000"`, `"1500000"`, 1)
	if _, err := VerifyCOLWebhook([]byte(tampered), "SUMTING"); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered amount: %v", err)
	}
}

func signedOpenAPI(t *testing.T, fields map[string]string, secret string) []byte {
	t.Helper()
	b, err := json.Marshal(SignOpenAPIWebhook(fields, secret))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyCOLWebhookNewVersion(t *testing.T) {
	body := signedOpenAPI(t, map[string]string{"merchantCode": "M1", "requestId": "r1", "type": "REFUND",
		"collectionTransId": "FT1", "approvalStatus": "APPROVED", "status": "FAILED", "amount": "50000",
		"failedReason": "Beneficiary account closed", "createdAt": "2024-11-18T03:04:05Z"}, "sec")
	ev, err := VerifyCOLWebhook(body, "sec")
	if err != nil {
		t.Fatal(err)
	}
	if ev.ApprovalStatus != "APPROVED" || ev.Status != "FAILED" || ev.FailedReason != "Beneficiary account closed" || ev.MerchantCode != "M1" {
		t.Fatalf("event = %+v", ev)
	}
}

func TestVerifyGCWebhook(t *testing.T) {
	fields := map[string]string{"refundRequestId": "RF-1", "type": "REFUND", "merchantCode": "M1",
		"collectionOrderId": "CO-1", "amount": "1500.00", "currency": "USD", "status": "SUCCESS",
		"note": "done", "createdAt": "2024-05-01T10:00:00Z"}
	body := signedOpenAPI(t, fields, "gcsec")
	ev, err := VerifyGCWebhook(body, "gcsec")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Amount != "1500.00" || ev.Status != "SUCCESS" || ev.CollectionOrderID != "CO-1" || ev.Currency != "USD" {
		t.Fatalf("event = %+v", ev)
	}
	// A numeric amount is hashed verbatim: sign "1500.00" as text, send it as a number.
	numeric := strings.Replace(string(body), `"amount":"1500.00"`, `"amount":1500.00`, 1)
	ev, err = VerifyGCWebhook([]byte(numeric), "gcsec")
	if err != nil || ev.Amount != "1500.00" {
		t.Fatalf("numeric amount: %+v %v", ev, err)
	}
	tests := []struct {
		name   string
		body   string
		secret string
		want   error
	}{
		{"wrong secret", string(body), "other", ErrBadSignature},
		{"empty secret", string(body), "", ErrBadSignature},
		{"no hash", `{"refundRequestId":"RF-1"}`, "gcsec", ErrBadSignature},
		{"hash not base64", `{"refundRequestId":"RF-1","secureHash":"%%%"}`, "gcsec", ErrBadSignature},
		{"not json", `<html>`, "gcsec", ErrMalformed},
		{"duplicate key", `{"status":"FAILED","status":"SUCCESS","secureHash":"x"}`, "gcsec", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyGCWebhook([]byte(tt.body), tt.secret); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// pgIPN builds a signed PG IPN body; numbers stay JSON numbers.
func pgIPN(t *testing.T, secret string, upper bool, override map[string]any) []byte {
	t.Helper()
	m := map[string]any{"neo_MerchantCode": "UFLIYL", "neo_Command": "REFUND", "neo_OrderID": "ORD-1",
		"neo_PaymentID": "1439211", "neo_RequestID": "req-1", "neo_TransactionID": "5SYNM1OELUND",
		"neo_Amount": 10000, "neo_Fee": 0, "neo_Version": "1", "neo_ResponseCode": 0, "neo_ResponseMsg": "Successful"}
	for k, v := range override {
		m[k] = v
	}
	text := map[string]string{}
	for k, v := range m {
		b, _ := json.Marshal(v)
		s := string(b)
		if str, ok := v.(string); ok {
			s = str
		}
		text[k] = s
	}
	h := PGHash(text, secret)
	if upper {
		h = strings.ToUpper(h)
	}
	m["neo_SecureHash"] = h
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyPGIPN(t *testing.T) {
	for _, upper := range []bool{true, false} {
		ipn, err := VerifyPGIPN(pgIPN(t, "k", upper, nil), "UFLIYL", "k")
		if err != nil {
			t.Fatalf("upper=%v: %v", upper, err)
		}
		want := PGRefundIPN{MerchantCode: "UFLIYL", Command: "REFUND", OrderID: "ORD-1", PaymentID: "1439211",
			RequestID: "req-1", TransactionID: "5SYNM1OELUND", Amount: 10000, Version: "1", ResponseMsg: "Successful"}
		if ipn != want {
			t.Fatalf("ipn = %+v", ipn)
		}
	}
	// Amounts and codes as strings are accepted.
	ipn, err := VerifyPGIPN(pgIPN(t, "k", true, map[string]any{"neo_Amount": "25000", "neo_ResponseCode": "1"}), "UFLIYL", "k")
	if err != nil || ipn.Amount != 25000 || ipn.ResponseCode != 1 {
		t.Fatalf("string numbers: %+v %v", ipn, err)
	}
	tests := []struct {
		name     string
		body     []byte
		merchant string
		want     error
	}{
		{"wrong secret", pgIPN(t, "other", true, nil), "UFLIYL", ErrBadSignature},
		{"other merchant", pgIPN(t, "k", true, nil), "OTHER", ErrBadSignature},
		{"fractional amount", pgIPN(t, "k", true, map[string]any{"neo_Amount": 1.5}), "UFLIYL", ErrMalformed},
		{"no request id", pgIPN(t, "k", true, map[string]any{"neo_RequestID": ""}), "UFLIYL", ErrMalformed},
		{"no hash", []byte(`{"neo_RequestID":"x"}`), "UFLIYL", ErrBadSignature},
		{"garbage", []byte(`not json`), "UFLIYL", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyPGIPN(tt.body, tt.merchant, "k"); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyPGIPNWithoutRequestIDInHash(t *testing.T) {
	m := map[string]string{"neo_MerchantCode": "UFLIYL", "neo_Command": "REFUND", "neo_PaymentID": "1",
		"neo_Amount": "5", "neo_Version": "1", "neo_ResponseCode": "0"}
	h := PGHash(m, "k") // signed without neo_RequestID
	m["neo_RequestID"] = "req-9"
	m["neo_SecureHash"] = h
	b, _ := json.Marshal(m)
	if ipn, err := VerifyPGIPN(b, "UFLIYL", "k"); err != nil || ipn.RequestID != "req-9" {
		t.Fatalf("%+v %v", ipn, err)
	}
}
