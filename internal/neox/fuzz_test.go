package neox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func FuzzPGHash(f *testing.F) {
	f.Add("neo_TransactionID", "240830080146NDTISR", docPGSecret)
	f.Add("neo_Amount", "10000", docPGSecret)
	f.Add("neo_Receiver", "eyJ9", "")
	f.Add("", "", "x")
	f.Fuzz(func(t *testing.T, key, value, secret string) {
		fields := map[string]string{"neo_Command": "QUERY_PT", "neo_MerchantCode": "UFLIYL", "neo_Version": "1"}
		fields[key] = value
		h := PGHash(fields, secret)
		if len(h) != 64 || strings.ToLower(h) != h {
			t.Fatalf("hash %q is not lowercase hex SHA-256", h)
		}
		if _, err := hex.DecodeString(h); err != nil {
			t.Fatal(err)
		}
		if PGHash(fields, secret) != h {
			t.Fatal("not deterministic")
		}
		fields["neo_SecureHash"] = "anything"
		if key != "neo_SecureHash" && PGHash(fields, secret) != h {
			t.Fatal("neo_SecureHash must not be hashed")
		}
		delete(fields, "neo_SecureHash")
		// Independent computation of the documented rule.
		var sb strings.Builder
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sb.WriteString(fields[k])
		}
		sum := sha256.Sum256([]byte(sb.String() + secret))
		if hex.EncodeToString(sum[:]) != h {
			t.Fatal("hash differs from the documented rule")
		}
		if !equalHex(strings.ToUpper(h), h) {
			t.Fatal("uppercase digest must compare equal")
		}
	})
}

func FuzzOpenAPIHash(f *testing.F) {
	f.Add([]byte(docCOLWebhook), "SUMTING")
	f.Add([]byte(`{"amount":1500.00,"currency":"USD"}`), "s")
	f.Add([]byte(`{"a":null,"b":true,"c":{"x":[1,2]}}`), "")
	f.Add([]byte(`{"a":"\u00e9\n"}`), "k")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		h, err := OpenAPIHash(body, secret)
		if err != nil {
			return
		}
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(raw) != sha256.Size {
			t.Fatalf("hash %q is not Base64 SHA-256", h)
		}
		// Re-signing the parsed string values must verify and give the same hash.
		obj, err := parseFlat(body)
		if err != nil {
			t.Fatalf("OpenAPIHash accepted what parseFlat refuses: %v", err)
		}
		fields := map[string]string{}
		for k, v := range obj {
			fields[k] = v.text
		}
		signed, err := json.Marshal(SignOpenAPIWebhook(fields, secret))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := obj["secureHash"]; !ok {
			if h2, err := OpenAPIHash(signed, secret); err != nil || h2 != h {
				t.Fatalf("re-signed hash %q != %q (%v)", h2, h, err)
			}
		}
		if secret != "" {
			back, err := parseFlat(signed)
			if err != nil || !equalBase64(back.str("secureHash"), openAPIHashValues(back, secret)) {
				t.Fatalf("re-signed body does not verify: %v", err)
			}
		}
	})
}

func FuzzVerifyCOLWebhook(f *testing.F) {
	f.Add([]byte(docCOLWebhook), "SUMTING")
	f.Add([]byte(`{"requestId":"r","approvalStatus":"APPROVED","status":"FAILED","secureHash":"AAAA"}`), "s")
	f.Add([]byte(`{}`), "s")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		ev, err := VerifyCOLWebhook(body, secret)
		if err != nil {
			return
		}
		if ev.RequestID == "" || secret == "" {
			t.Fatalf("accepted an event without request id or secret: %+v", ev)
		}
		if ev.ApprovalStatus == "" && (ev.Status == "PENDING" || ev.Status == "APPROVED" || ev.Status == "REJECTED") {
			t.Fatalf("old status not normalised: %+v", ev)
		}
		if _, err := VerifyCOLWebhook(body, secret+"x"); err == nil {
			t.Fatal("verified with a different secret")
		}
	})
}

func FuzzVerifyGCWebhook(f *testing.F) {
	good, _ := json.Marshal(SignOpenAPIWebhook(map[string]string{"refundRequestId": "RF-1", "type": "REFUND",
		"collectionOrderId": "CO-1", "amount": "1500.00", "currency": "USD", "status": "SUCCESS"}, "gc"))
	f.Add(good, "gc")
	f.Add([]byte(`{"refundRequestId":"RF","secureHash":"1CBpykYjBbeMKj7qQwEsuXH7Ekj8g726/BMNcLN5eIs="}`), "SUMTING")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		ev, err := VerifyGCWebhook(body, secret)
		if err != nil {
			return
		}
		if secret == "" || (ev.RefundRequestID == "" && ev.CollectionOrderID == "") {
			t.Fatalf("accepted %+v", ev)
		}
		if _, err := VerifyGCWebhook(body, secret+"x"); err == nil {
			t.Fatal("verified with a different secret")
		}
	})
}

func FuzzVerifyPGIPN(f *testing.F) {
	m := map[string]string{"neo_MerchantCode": "UFLIYL", "neo_Command": "REFUND", "neo_RequestID": "r",
		"neo_Amount": "10000", "neo_ResponseCode": "0", "neo_Version": "1", "neo_OrderID": "o", "neo_PaymentID": "p",
		"neo_TransactionID": "t", "neo_Fee": "0", "neo_ResponseMsg": "Success"}
	m["neo_SecureHash"] = strings.ToUpper(PGHash(m, "k"))
	good, _ := json.Marshal(m)
	f.Add(good, "UFLIYL", "k")
	f.Add([]byte(`{"neo_SecureHash":"88CAFBC3BC","neo_Amount":1e400}`), "UFLIYL", docPGSecret)
	f.Fuzz(func(t *testing.T, body []byte, merchant, secret string) {
		ipn, err := VerifyPGIPN(body, merchant, secret)
		if err != nil {
			return
		}
		if ipn.MerchantCode != merchant || ipn.RequestID == "" || secret == "" {
			t.Fatalf("accepted %+v", ipn)
		}
	})
}
