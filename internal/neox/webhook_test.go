package neox

import (
	"encoding/json"
	"errors"
	"slices"
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

// docPGIPN is the IPN page's sample: all eleven fields are hashed,
// neo_RequestID included, and the hash is upper-case hex.
const docPGIPN = `{"neo_MerchantCode":"UFLIYL","neo_Command":"REFUND","neo_OrderID":"DH7255715767",` +
	`"neo_PaymentID":"1439211","neo_RequestID":"a68de39f-ea76-43fb-848f-b605b4aaf44e",` +
	`"neo_TransactionID":"XBSKM1OELUDU","neo_Amount":10000,"neo_Fee":3300,"neo_Version":"1",` +
	`"neo_ResponseCode":0,"neo_ResponseMsg":"Success",` +
	`"neo_SecureHash":"3C97E508CBED7561759D049C5FA58BE2DE455EA4E7EE07B1DFDF2AFC4783E144"}`

func TestPGIPNDocSample(t *testing.T) {
	ipn, err := VerifyPGIPN([]byte(docPGIPN), "UFLIYL", docPGSecret)
	if err != nil {
		t.Fatalf("NeoX's own IPN sample refused: %v", err)
	}
	want := PGRefundIPN{MerchantCode: "UFLIYL", Command: "REFUND", OrderID: "DH7255715767", PaymentID: "1439211",
		RequestID: "a68de39f-ea76-43fb-848f-b605b4aaf44e", TransactionID: "XBSKM1OELUDU", Amount: 10000, Fee: 3300,
		Version: "1", ResponseCode: 0, ResponseMsg: "Success"}
	if ipn != want {
		t.Fatalf("ipn = %+v\nwant  %+v", ipn, want)
	}
	// The same bytes with another request id: the hash covers neo_RequestID.
	other := strings.Replace(docPGIPN, "a68de39f-ea76-43fb-848f-b605b4aaf44e", "b68de39f-ea76-43fb-848f-b605b4aaf44e", 1)
	if _, err := VerifyPGIPN([]byte(other), "UFLIYL", docPGSecret); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("request id swapped under the same hash: %v", err)
	}
}

// TestVerifyPGIPNRequestIDIsSigned: a hash computed without neo_RequestID
// (the REFUND request sample's reading) is never accepted for an IPN, or
// anyone holding one IPN could point it at any refund.
func TestVerifyPGIPNRequestIDIsSigned(t *testing.T) {
	m := map[string]string{"neo_MerchantCode": "UFLIYL", "neo_Command": "REFUND", "neo_PaymentID": "1",
		"neo_Amount": "5", "neo_Version": "1", "neo_ResponseCode": "0", "neo_OrderID": "o", "neo_Fee": "0",
		"neo_TransactionID": "T1", "neo_ResponseMsg": "Success"}
	h := PGHash(m, "k") // signed without neo_RequestID
	m["neo_RequestID"] = "req-9"
	m["neo_SecureHash"] = h
	b, _ := json.Marshal(m)
	if ipn, err := VerifyPGIPN(b, "UFLIYL", "k"); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("accepted an IPN whose hash leaves out neo_RequestID: %+v %v", ipn, err)
	}
}

// TestWebhooksRefuseUndocumentedFields: a field outside the documented set
// is refused even when the hash covers it, since the hash cannot tell
// where one value ends and the next begins.
func TestWebhooksRefuseUndocumentedFields(t *testing.T) {
	gc := map[string]string{"refundRequestId": "RF-1", "type": "REFUND", "merchantCode": "M1",
		"collectionOrderId": "CO-1", "amount": "1500.00", "currency": "USD", "status": "FAILED",
		"note": "x", "createdAt": "2024-05-01T10:00:00Z"}
	col := map[string]string{"merchantCode": "M1", "requestId": "r1", "type": "REFUND", "collectionTransId": "FT1",
		"approvalStatus": "APPROVED", "status": "SUCCESS", "amount": "50000"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	for _, extra := range []string{"refundRequestIdX", "extra", "neo_RequestID", "refundTransId", "bankBranch", "SecureHash"} {
		t.Run("GC "+extra, func(t *testing.T) {
			_, err := VerifyGCWebhook(signedOpenAPI(t, with(gc, extra, "RF-2"), "s"), "s")
			if !errors.Is(err, ErrUnexpectedField) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("COL "+extra, func(t *testing.T) {
			_, err := VerifyCOLWebhook(signedOpenAPI(t, with(col, extra, "x"), "s"), "s")
			if !errors.Is(err, ErrUnexpectedField) {
				t.Fatalf("err = %v", err)
			}
		})
		if slices.Contains(PGIPNFields, extra) {
			continue // documented for PG
		}
		t.Run("PG "+extra, func(t *testing.T) {
			_, err := VerifyPGIPN(pgIPN(t, "k", true, map[string]any{extra: "x"}), "UFLIYL", "k")
			if !errors.Is(err, ErrUnexpectedField) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestWebhookVocabulary: values the desk acts on must come from their
// documented vocabulary, so bytes moved into or out of them are refused.
func TestWebhookVocabulary(t *testing.T) {
	pg := []struct {
		name     string
		override map[string]any
	}{
		{"99 re-cut into 9", map[string]any{"neo_ResponseCode": 9, "neo_ResponseMsg": "9Processing"}},
		{"unknown code", map[string]any{"neo_ResponseCode": 3}},
		{"command", map[string]any{"neo_Command": "REFUND1"}},
		{"version", map[string]any{"neo_Version": "12"}},
		{"no payment", map[string]any{"neo_PaymentID": ""}},
		{"no NeoX id", map[string]any{"neo_TransactionID": ""}},
		{"zero amount", map[string]any{"neo_Amount": 0}},
		{"missing fee", map[string]any{"neo_Fee": nil}},
	}
	for _, tt := range pg {
		t.Run("PG "+tt.name, func(t *testing.T) {
			body := pgIPN(t, "k", true, tt.override)
			if tt.override["neo_Fee"] == nil && len(tt.override) == 1 {
				var m map[string]any
				_ = json.Unmarshal(body, &m)
				delete(m, "neo_Fee")
				body, _ = json.Marshal(m)
			}
			if _, err := VerifyPGIPN(body, "UFLIYL", "k"); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
	for _, code := range []int{0, 99, 1, -1, 18} {
		if _, err := VerifyPGIPN(pgIPN(t, "k", true, map[string]any{"neo_ResponseCode": code}), "UFLIYL", "k"); err != nil {
			t.Fatalf("code %d refused: %v", code, err)
		}
	}
	gc := map[string]string{"refundRequestId": "RF-1", "type": "REFUND", "collectionOrderId": "CO-1",
		"amount": "1500.00", "currency": "USD", "status": "FAILED"}
	for _, tt := range []struct{ name, key, value string }{
		{"status", "status", "FAILEDx"},
		{"type", "type", "REFUNDRF"},
		{"no refundRequestId", "refundRequestId", ""},
		{"amount", "amount", "1500.00CO"},
		{"fraction beyond currency", "amount", "1500.001"},
		{"no currency", "currency", ""},
	} {
		t.Run("GC "+tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range gc {
				m[k] = v
			}
			m[tt.key] = tt.value
			if _, err := VerifyGCWebhook(signedOpenAPI(t, m, "s"), "s"); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	col := map[string]string{"requestId": "r1", "type": "REFUND", "collectionTransId": "FT1",
		"approvalStatus": "APPROVED", "status": "SUCCESS", "amount": "50000"}
	for _, tt := range []struct{ name, key, value string }{
		{"status", "status", "SUCCESSr"},
		{"approval", "approvalStatus", "APPROVED5"},
		{"amount", "amount", "50000APPROVED"},
		{"no amount", "amount", ""},
		{"no transaction", "collectionTransId", ""},
	} {
		t.Run("COL "+tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range col {
				m[k] = v
			}
			m[tt.key] = tt.value
			if _, err := VerifyCOLWebhook(signedOpenAPI(t, m, "s"), "s"); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
