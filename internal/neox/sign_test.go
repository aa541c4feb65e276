package neox

import (
	"strings"
	"testing"
)

const docPGSecret = "311235E7043244EC8306F96720748C56"

func TestPGQueryDocSample(t *testing.T) {
	fields := map[string]string{"neo_Command": "QUERY_PT", "neo_MerchantCode": "UFLIYL",
		"neo_TransactionID": "240830080146NDTISR", "neo_Version": "1"}
	const want = "df594d1e467bd327a30fa45ce259987718a68bd54cc67afe74d1e15e255182a4"
	if got := PGHash(fields, docPGSecret); got != want {
		t.Fatalf("PGHash = %s, want %s", got, want)
	}
	if got := pgHashOf(fields, pgQuerySignedFields, docPGSecret); got != want {
		t.Fatalf("pgHashOf(query fields) = %s, want %s", got, want)
	}
}

// docRefund is the REFUND request sample from the PG docs.
func docRefund() map[string]string {
	return map[string]string{
		"neo_MerchantCode": "UFLIYL", "neo_Command": "REFUND",
		"neo_RequestID": "a68de39f-ea76-43fb-848f-b605b4aaf44e", "neo_PaymentID": "1439211",
		"neo_Amount": "10000", "neo_Version": "1",
		"neo_Receiver": "eyJhY2NvdW50TmFtZSI6Ik5HVVlFTiBWQU4gQSIsImFjY291bnROdW1iZXIiOiIxMjM0NTY3ODkiLCJzd2lmdENvZGUiOiJBU0NCVk5WWCJ9",
	}
}

const docRefundHash = "88cafbc3bc1312a4dbae11dedf17819ea6462b85a218298417a917f1797597fa"

// TestPGRefundDocSample records which reading of the hashing rule
// reproduces the documented REFUND hash: every field except neo_RequestID.
func TestPGRefundDocSample(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string]string)
		match  bool
	}{
		{"all fields as documented", func(map[string]string) {}, false},
		{"without neo_RequestID", func(m map[string]string) { delete(m, "neo_RequestID") }, true},
		{"without neo_Receiver", func(m map[string]string) { delete(m, "neo_Receiver") }, false},
		{"without neo_Command", func(m map[string]string) { delete(m, "neo_Command") }, false},
		{"without RequestID and Receiver", func(m map[string]string) { delete(m, "neo_RequestID"); delete(m, "neo_Receiver") }, false},
		{"amount 10000.00, no RequestID", func(m map[string]string) { delete(m, "neo_RequestID"); m["neo_Amount"] = "10000.00" }, false},
		{"lowercase secret, no RequestID", func(m map[string]string) { delete(m, "neo_RequestID"); m["secret"] = "" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := docRefund()
			tt.mutate(m)
			secret := docPGSecret
			if _, ok := m["secret"]; ok {
				delete(m, "secret")
				secret = strings.ToLower(secret)
			}
			if got := PGHash(m, secret) == docRefundHash; got != tt.match {
				t.Fatalf("match = %v, want %v", got, tt.match)
			}
		})
	}
	if got := pgHashOf(docRefund(), pgRefundSignedFields, docPGSecret); got != docRefundHash {
		t.Fatalf("pgRefundSignedFields hash = %s, want the doc hash", got)
	}
}

func TestReceiverEncodeDocSample(t *testing.T) {
	r := Receiver{AccountName: "NGUYEN VAN A", AccountNumber: "123456789", SwiftCode: "ASCBVNVX"}
	if got := r.Encode(); got != docRefund()["neo_Receiver"] {
		t.Fatalf("Encode = %s", got)
	}
	// The parameter table's example has spaces after colons; it must decode too.
	got, err := DecodeReceiver("eyJhY2NvdW50TmFtZSI6InZhbHVlIiwiYWNjb3VudE51bWJlciI6ICIxMjM0NTY3Iiwic3dpZnRDb2RlIjoiQVNDQlZOVlgifQ==")
	if err != nil || got != (Receiver{AccountName: "value", AccountNumber: "1234567", SwiftCode: "ASCBVNVX"}) {
		t.Fatalf("DecodeReceiver = %+v, %v", got, err)
	}
	if _, err := DecodeReceiver("!!"); err == nil {
		t.Fatal("DecodeReceiver accepted garbage")
	}
}

const docCOLWebhook = `{"requestId":"REFUND-443826686072","type":"REFUND","collectionTransId":"FT24323L4AAA","amount":"150000","bankSwiftCode":"SCBLSG22XXX","bankAccountNumber":"0107201111","bankAccountName":"STANDARD CHARTERED BANK TEST ACCOUNT","status":"PENDING","note":"Waiting for approval","secureHash":"1CBpykYjBbeMKj7qQwEsuXH7Ekj8g726/BMNcLN5eIs="}`

func TestOpenAPIHashDocSample(t *testing.T) {
	got, err := OpenAPIHash([]byte(docCOLWebhook), "SUMTING")
	if err != nil {
		t.Fatal(err)
	}
	if got != "1CBpykYjBbeMKj7qQwEsuXH7Ekj8g726/BMNcLN5eIs=" {
		t.Fatalf("OpenAPIHash = %s", got)
	}
}

// TestOpenAPIHashOptionalFields records the decision on optional fields:
// absent, null and "" hash identically, so a sender leaving optional fields
// out and one sending them empty both verify. Numbers are never reformatted.
func TestOpenAPIHashOptionalFields(t *testing.T) {
	hash := func(body string) string {
		t.Helper()
		h, err := OpenAPIHash([]byte(body), "s")
		if err != nil {
			t.Fatalf("OpenAPIHash(%s): %v", body, err)
		}
		return h
	}
	base := hash(`{"requestId":"r1","amount":"150000"}`)
	for _, body := range []string{
		`{"requestId":"r1","amount":"150000","failedReason":""}`,
		`{"requestId":"r1","amount":"150000","failedReason":null}`,
		`{"failedReason":"","amount":"150000","requestId":"r1","secureHash":"ignored"}`,
		`{"requestId":"r1","amount":150000}`,
	} {
		if got := hash(body); got != base {
			t.Errorf("%s hashes differently from the body without optional fields", body)
		}
	}
	if hash(`{"amount":1500.00}`) == hash(`{"amount":1500}`) {
		t.Error("1500.00 and 1500 must hash differently (values as they appear in the text)")
	}
	if hash(`{"a":"x","b":"y"}`) == hash(`{"a":"y","b":"x"}`) {
		t.Error("values must be taken in key order")
	}
}

func TestParseFlatRejects(t *testing.T) {
	for _, body := range []string{``, `[]`, `"x"`, `{"a":1,"a":2}`, `{"a":1} {}`, `{"a":}`, `{"a":1`} {
		if _, err := OpenAPIHash([]byte(body), "s"); err == nil {
			t.Errorf("OpenAPIHash(%q) accepted", body)
		}
	}
}

func TestToMinor(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"1500.00", "USD", 150000, true},
		{"89.9", "EUR", 8990, true},
		{"120000", "JPY", 120000, true},
		{"120000.00", "JPY", 120000, true},
		{"1.5", "JPY", 0, false},
		{"12.345", "KWD", 12345, true},
		{"250", "SGD", 25000, true},
		{"-1", "USD", 0, false},
		{"1e4", "USD", 0, false},
		{"", "USD", 0, false},
	}
	for _, tt := range tests {
		got, err := toMinor(tt.in, tt.cur)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("toMinor(%q,%s) = %d, %v; want %d ok=%v", tt.in, tt.cur, got, err, tt.want, tt.ok)
		}
		if tt.ok && toMinorRoundTrip(t, got, tt.cur) != got {
			t.Errorf("FormatMinor round trip of %d %s failed", got, tt.cur)
		}
	}
}

func toMinorRoundTrip(t *testing.T, minor int64, cur string) int64 {
	t.Helper()
	back, err := toMinor(FormatMinor(minor, cur), cur)
	if err != nil {
		t.Fatalf("toMinor(FormatMinor(%d)): %v", minor, err)
	}
	return back
}
